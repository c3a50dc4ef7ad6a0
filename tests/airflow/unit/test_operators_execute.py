"""Every operator's ``execute(context)`` called directly, without a DAG run or a metadata database.

The hook is the seam: ``MLGitHook`` is replaced by an autospec'd stand-in (the one place a mock is
right: a hook reads Airflow connections; the operators' own job is to turn rendered arguments into
one call of the hook's repository and its result into an XCom, an Asset event and the right kind of
failure). The repository behind it is an autospec of ``mlgit.Repository`` returning real result
objects, so a wrong argument name or a result shape the operator misreads fails here. The verbs
themselves are tested for real in tests/unit and, end to end, by the ``dag.test()`` modules.

No metadata database (no ``airflow db migrate``), but a temporary ``AIRFLOW_HOME``: importing
``airflow.sdk`` creates ``$AIRFLOW_HOME/logs`` (``~/airflow`` unset), so tests/airflow/conftest.py sets
it before anything imports Airflow. About 15 s for this module, most of it that import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from airflow.sdk import AssetAlias
from airflow.sdk.bases.operator import ExecutorSafeguard
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from airflow.sdk.execution_time.context import OutletEventAccessors
from mlgit_airflow import operators, sensors
from mlgit_airflow.assets import mlgit_asset
from mlgit_airflow.hooks import MLGitHook
from mlgit_airflow.operators import (
    PUSH_ALIAS,
    MLGitAddOperator,
    MLGitBaseOperator,
    MLGitCheckoutOperator,
    MLGitCommitOperator,
    MLGitCreateOperator,
    MLGitFsckOperator,
    MLGitPushOperator,
    MLGitRemoteFsckOperator,
    MLGitUpdateOperator,
)
from mlgit_airflow.sensors import MLGitVersionSensor

from mlgit import (
    CorruptObject,
    EntityNotFound,
    FsckResult,
    GitIdentityMissing,
    MetadataError,
    Repository,
    StorageUnreachable,
    VersionResult,
    WorkspaceBusy,
)
from mlgit.results import Link
from mlgit.runs import RunFolder
from mlgit.verbs.remote_fsck import RemoteFsckResult

TAG = "vision__images__imagenet8__2"
SHA = "a" * 40


class FakeTI:
    """The task instance fields the operators read (``ti`` of the context)."""

    def __init__(self, task_id: str = "t", xcoms: dict[str, Any] | None = None) -> None:
        self.dag_id, self.run_id, self.task_id, self.try_number = "d", "manual__1", task_id, 1
        self.xcoms = xcoms or {}

    def xcom_pull(self, task_ids: str) -> Any:
        return self.xcoms.get(task_ids)


def context(ti: FakeTI | None = None, **params: Any) -> dict[str, Any]:
    """A minimal task context: enough to render templates and run ``execute``."""
    return {
        "ti": ti or FakeTI(),
        "params": params,
        "ds": "2026-11-27",
        "outlet_events": OutletEventAccessors(),
    }


def version(**changes: Any) -> VersionResult:
    base: dict[str, Any] = {
        "entity_type": "datasets",
        "name": "imagenet8",
        "version": 2,
        "tag": TAG,
        "sha": SHA,
        "path": "/ws/datasets/imagenet8",
        "files": 3,
        "size": 30,
    }
    return VersionResult(**{**base, **changes})


class Seam:
    """The stand-in hook (and the repository behind it) the operators get, plus how they built it."""

    def __init__(self) -> None:
        self.repo = mock.create_autospec(Repository, instance=True)
        self.repo.metadata.return_value.tags.return_value = []  # no older version: nothing dropped
        self.hook = mock.create_autospec(MLGitHook, instance=True)
        self.hook.run = None  # not inside a DAG run: no run folder
        self.hook.get_repository.return_value = self.repo
        self.hook.run_folder.return_value = None
        self.hook.storage_args.return_value = {"storage_type": "s3h", "bucket": "conn-bucket"}
        self.built: list[dict[str, Any]] = []

    def factory(self, **kwargs: Any) -> MLGitHook:
        self.built.append(kwargs)
        return self.hook  # type: ignore[no-any-return]


@pytest.fixture
def seam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Seam]:
    s = Seam()
    # Airflow's own switch for calling execute() outside its task runner (else: a warning per call)
    monkeypatch.setattr(ExecutorSafeguard, "test_mode", True)
    monkeypatch.setattr(operators, "MLGitHook", s.factory)
    monkeypatch.setattr(sensors, "MLGitHook", s.factory)
    yield s


def run(op: Any, ctx: dict[str, Any] | None = None) -> Any:
    """What the task runner does with a task: render its templates, then execute it."""
    ctx = ctx if ctx is not None else context()
    op.render_template_fields(ctx)
    return op.execute(ctx)


# -- what each operator asks of the hook, and what it returns ------------------------------------


def test_create_renders_its_fields_and_takes_storage_defaults_from_the_connection(seam: Seam) -> None:
    seam.repo.entity_path.side_effect = EntityNotFound("datasets imagenet8: no such entity")
    seam.repo.tags.return_value = []
    seam.repo.create.return_value = Path("/ws/datasets/vision/imagenet8")
    seam.repo.show.return_value = {"version": 1, "manifest": {"storage": "s3h://conn-bucket"}}
    op = MLGitCreateOperator(
        task_id="create",
        entity_type="{{ params.et }}",
        name="{{ params.name }}",
        categories="vision,images",
        entity_dir="vision",
        version="{{ params.v }}",
        mlgit_conn_id="{{ params.conn }}",
        workspace="/data/{{ ds }}",
    )
    value = run(op, context(et="dataset", name="imagenet8", v="1", conn="mlgit_team"))
    assert seam.built == [{"mlgit_conn_id": "mlgit_team", "workspace": "/data/2026-11-27"}]
    seam.repo.create.assert_called_once_with(
        "datasets",
        "imagenet8",
        categories="vision,images",
        mutability="strict",
        storage_type="s3h",
        bucket="conn-bucket",
        entity_dir="vision",
        version=1,
    )
    assert value["created"] is True and value["entity_type"] == "datasets"
    assert value["storage"] == "s3h://conn-bucket"


def test_create_with_exist_ok_false_on_an_existing_entity_fails_at_once(seam: Seam) -> None:
    seam.repo.entity_path.return_value = Path("/ws/datasets/imagenet8")
    op = MLGitCreateOperator(
        task_id="create", entity_type="datasets", name="imagenet8", categories="c", exist_ok=False
    )
    with pytest.raises(AirflowFailException, match=r"^MLGitInputError: datasets imagenet8 already exists"):
        run(op)
    seam.repo.create.assert_not_called()


def test_checkout_renders_version_force_and_sample_and_returns_the_version(seam: Seam) -> None:
    seam.repo.checkout.return_value = version(downloaded=3)
    op = MLGitCheckoutOperator(
        task_id="checkout",
        entity_type="dataset",
        ref="{{ params.name }}",
        version="{{ params.v }}",
        force="{{ params.force }}",
        sample='{"group": "1:3", "seed": "{{ params.seed }}"}',
    )
    value = run(op, context(name="imagenet8", v="2", force="True", seed="7"))
    seam.repo.checkout.assert_called_once_with(
        "datasets",
        "imagenet8",
        version=2,
        bare=False,
        force=True,
        fetch=True,  # no run folder: "latest" is asked of the remote
        sample={"group": "1:3", "seed": "7"},
    )
    assert value == version(downloaded=3).to_dict()
    assert [(r.tag, r.sha) for r in op._lineage_inputs] == [(TAG, SHA)]


def test_checkout_inside_a_run_folder_does_not_fetch_again(seam: Seam) -> None:
    seam.hook.run = {"dag_id": "d", "run_id": "manual__1"}
    seam.repo.checkout.return_value = version()
    run(MLGitCheckoutOperator(task_id="checkout", entity_type="datasets", ref=TAG))
    assert seam.repo.checkout.call_args.kwargs["fetch"] is False


def test_add_renders_bumpversion_and_metrics_text(seam: Seam) -> None:
    seam.repo.add.return_value = version(entity_type="models", tag=None, sha=None, metrics={"f1": 0.9})
    op = MLGitAddOperator(
        task_id="add",
        entity_type="model",
        name="resnet",
        bumpversion="{{ params.bump }}",
        metrics="{{ params.metrics }}",
    )
    value = run(op, context(bump="yes", metrics={"f1": 0.9, "loss": 0.1}))  # rendered as a Python dict's text
    seam.repo.add.assert_called_once_with(
        "models", "resnet", bumpversion=True, metrics={"f1": 0.9, "loss": 0.1}, metrics_file=None
    )
    assert value["metrics"] == {"f1": 0.9} and value["tag"] is None


def test_add_passes_a_metrics_file_as_a_path(seam: Seam) -> None:
    seam.repo.add.return_value = version(entity_type="models")
    run(
        MLGitAddOperator(task_id="add", entity_type="models", name="m", metrics_file="{{ params.f }}"),
        context(f="/m.csv"),
    )
    assert seam.repo.add.call_args.kwargs["metrics_file"] == Path("/m.csv")


def test_commit_links_upstream_checkouts_and_records_the_run_in_its_message(seam: Seam) -> None:
    from airflow.sdk import DAG

    seam.repo.commit.return_value = version(
        entity_type="labels", name="tags", tag="vision__tags__1", dataset=Link(TAG, SHA)
    )
    with DAG("d", schedule=None):  # only to have an upstream task to read the XCom of
        checkout = MLGitCheckoutOperator(task_id="checkout", entity_type="datasets", ref="imagenet8")
        commit = MLGitCommitOperator(
            task_id="commit", entity_type="labels", name="tags", message="{{ params.msg }}", auto_bump="true"
        )
        checkout >> commit
    ti = FakeTI("commit", {"checkout": version().to_dict()})
    value = run(commit, context(ti, msg="weekly labels"))
    seam.repo.commit.assert_called_once_with(
        "labels",
        "tags",
        message="weekly labels\n\nAirflow-Dag-Id: d\nAirflow-Run-Id: manual__1\nAirflow-Task-Id: commit\n"
        "Airflow-Try-Number: 1\n",
        version=None,
        dataset={"tag": TAG, "sha": SHA},
        labels=None,
        auto_bump=True,
    )
    assert value["tag"] == "vision__tags__1" and value["dropped"] == []
    assert [r.tag for r in commit._lineage_inputs] == [TAG]


def test_commit_takes_a_dataset_given_as_rendered_xcom_text(seam: Seam) -> None:
    seam.repo.commit.return_value = version(entity_type="models", name="m")
    op = MLGitCommitOperator(task_id="commit", entity_type="models", name="m", dataset="{{ params.ds_xcom }}")
    run(op, context(ds_xcom={"tag": TAG, "sha": SHA, "files": 3}))
    assert seam.repo.commit.call_args.kwargs["dataset"] == {"tag": TAG, "sha": SHA}


def test_push_of_a_new_version_adds_its_asset_event_through_the_alias(seam: Seam) -> None:
    seam.repo.push.return_value = version(metrics={"acc": 0.5}, uploaded=4)
    op = MLGitPushOperator(
        task_id="push", entity_type="datasets", name="{{ params.name }}", auto_bump="{{ params.ab }}"
    )
    assert AssetAlias(PUSH_ALIAS) in op.outlets
    ctx = context(name="imagenet8", ab="1")
    value = run(op, ctx)
    seam.repo.push.assert_called_once_with("datasets", "imagenet8", auto_bump=True)
    assert value["uploaded"] == 4
    events = ctx["outlet_events"][AssetAlias(PUSH_ALIAS)].asset_alias_events
    assert [(e.dest_asset_key.uri, e.extra) for e in events] == [
        (
            mlgit_asset("datasets", "imagenet8").uri,
            {"tag": TAG, "sha": SHA, "version": 2, "metrics": {"acc": 0.5}},
        )
    ]


def test_push_with_nothing_new_sends_no_event(seam: Seam) -> None:
    seam.repo.push.return_value = version(created=False, skipped=4)
    ctx = context()
    run(MLGitPushOperator(task_id="push", entity_type="datasets", name="imagenet8"), ctx)
    assert ctx["outlet_events"][AssetAlias(PUSH_ALIAS)].asset_alias_events == []


def test_push_in_a_run_sends_the_event_a_failed_attempt_owed_and_records_it_once_done(
    seam: Seam, tmp_path: Path
) -> None:
    """The version this run committed was uploaded by an attempt that failed before Airflow sent its
    event: the retry finds it pushed already (created False) and still owes the event; once the task
    succeeded the push is recorded, so a later clear sends none."""
    folder = RunFolder(tmp_path, "run-1", {"dag_id": "d", "run_id": "manual__1"})
    folder.remember("commit", "datasets", "imagenet8", "commit", tag=TAG, sha=SHA, created=True)
    seam.hook.run_folder.return_value = folder
    seam.repo.push.return_value = version(created=False)
    op = MLGitPushOperator(task_id="push", entity_type="datasets", name="imagenet8")
    ctx = context(FakeTI("push"))
    value = run(op, ctx)
    assert len(ctx["outlet_events"][AssetAlias(PUSH_ALIAS)].asset_alias_events) == 1
    assert folder.recorded("push", "datasets", "imagenet8", "push") is None  # not before the task succeeded
    op.post_execute(ctx, value)
    assert folder.recorded("push", "datasets", "imagenet8", "push")["tag"] == TAG  # type: ignore[index]


def test_fsck_returns_its_counts_and_fails_at_once_on_what_it_could_not_repair(seam: Seam) -> None:
    clean = FsckResult("datasets", 10, ["zdj7a"], [], [], ["zdj7a"], [])
    seam.repo.fsck.return_value = clean
    value = run(
        MLGitFsckOperator(task_id="fsck", entity_type="{{ params.et }}", fix=True), context(et="datasets")
    )
    seam.repo.fsck.assert_called_once_with("datasets", fix=True)
    assert value["corrupted"] == 1 and value["fixed"] == ["zdj7a"]
    seam.repo.fsck.return_value = FsckResult("datasets", 10, ["zdj7a"], [], [], [], ["zdj7a"])
    with pytest.raises(
        AirflowFailException, match=r"fsck datasets: 1 corrupted item\(s\) could not be repaired"
    ):
        run(MLGitFsckOperator(task_id="fsck", entity_type="datasets"))
    value = run(MLGitFsckOperator(task_id="fsck", entity_type="datasets", fail_on_unfixable=False))
    assert value["unfixable"] == ["zdj7a"]


def test_remote_fsck_renders_thorough_and_fails_at_once_on_unfixable(seam: Seam) -> None:
    result = RemoteFsckResult("datasets", "imagenet8", [TAG], 12, ["zdj7b"], [], [], ["zdj7b"], thorough=True)
    seam.repo.remote_fsck.return_value = result
    op = MLGitRemoteFsckOperator(
        task_id="rf", entity_type="datasets", name="imagenet8", thorough="{{ params.t }}"
    )
    with pytest.raises(AirflowFailException, match=r"remote fsck datasets imagenet8: 1 object\(s\) missing"):
        run(op, context(t="true"))
    seam.repo.remote_fsck.assert_called_once_with("datasets", "imagenet8", thorough=True, fix=True)
    op = MLGitRemoteFsckOperator(
        task_id="rf", entity_type="datasets", name="imagenet8", fail_on_unfixable=False
    )
    assert run(op)["total"] == 1


def test_update_pulls_and_returns_the_remote_tags(seam: Seam) -> None:
    seam.repo.metadata.return_value.tags.return_value = [TAG]
    value = run(MLGitUpdateOperator(task_id="update", entity_type="label"))
    seam.repo.update.assert_called_once_with("labels")
    assert value == {"entity_type": "labels", "tags": [TAG]}


def test_sensor_returns_a_version_found_at_once_and_defers_otherwise(seam: Seam) -> None:
    seam.repo.tags.return_value = [TAG]
    op = MLGitVersionSensor(
        task_id="wait", entity_type="dataset", name="imagenet8", min_version="{{ params.v }}"
    )
    assert run(op, context(v="2")) == {
        "entity_type": "datasets",
        "name": "imagenet8",
        "tag": TAG,
        "version": 2,
    }
    assert seam.built == [{"mlgit_conn_id": "mlgit_default", "workspace": None, "run_folder": False}]
    seam.repo.tags.assert_called_once_with("datasets", "imagenet8", fetch=True)
    op = MLGitVersionSensor(
        task_id="wait", entity_type="dataset", name="imagenet8", min_version="{{ params.v }}"
    )
    with pytest.raises(TaskDeferred) as deferred:
        run(op, context(v="3"))
    trigger = deferred.value.trigger
    assert (trigger.entity_type, trigger.name, trigger.min_version) == ("datasets", "imagenet8", 3)
    with pytest.raises(AirflowException, match="waiting for imagenet8 failed: remote gone"):
        op.execute_complete(context(), {"status": "error", "message": "remote gone"})


# -- failures: which ones Airflow may retry (the same policy as the Prefect tasks) ----------------


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (MetadataError("could not push: remote hung up"), True),
        (StorageUnreachable("s3h://b: endpoint did not answer"), True),
        (WorkspaceBusy("workspace /ws is locked by pid 7"), True),
        (ConnectionResetError("reset by peer"), True),
        (EntityNotFound("datasets imagenet8: no such entity"), False),
        (GitIdentityMissing("no git identity: set user.name"), False),
        (CorruptObject("zdj7a: bytes do not match"), False),
        (KeyError("manifest"), False),  # not an error a second attempt cures: Prefect fails it at once too
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_an_error_is_raised_for_airflow_to_retry_or_fails_the_task_at_once(
    seam: Seam, error: Exception, retried: bool
) -> None:
    seam.repo.push.side_effect = error
    op = MLGitPushOperator(task_id="push", entity_type="datasets", name="imagenet8")
    with pytest.raises(Exception) as raised:
        run(op)
    if retried:
        assert raised.value is error  # as it is: the task's retries apply
    else:
        assert type(raised.value) is AirflowFailException and raised.value.__cause__ is error
        assert str(raised.value) == f"{type(error).__name__}: {error}"


def test_airflows_own_errors_are_left_to_airflow(seam: Seam) -> None:
    error = AirflowException("xcom backend unavailable")
    seam.repo.update.side_effect = error
    with pytest.raises(AirflowException) as raised:
        run(MLGitUpdateOperator(task_id="update", entity_type="datasets"))
    assert raised.value is error


# -- templated arguments: declared, rendered, and a bad one refused in one line --------------------

OPERATORS: dict[type[MLGitBaseOperator] | type[MLGitVersionSensor], dict[str, Any]] = {
    MLGitCreateOperator: {"name": "n", "categories": "c"},
    MLGitCheckoutOperator: {"ref": "n"},
    MLGitAddOperator: {"name": "n"},
    MLGitCommitOperator: {"name": "n"},
    MLGitPushOperator: {"name": "n"},
    MLGitFsckOperator: {},
    MLGitUpdateOperator: {},
    MLGitRemoteFsckOperator: {"name": "n"},
    MLGitVersionSensor: {"name": "n"},
}


@pytest.mark.parametrize("cls", OPERATORS, ids=lambda c: c.__name__)
def test_template_fields_are_constructor_arguments_kept_as_given(cls: type[Any]) -> None:
    """What Airflow's template validation asks of an operator: every template field is an
    argument of ``__init__`` stored unchanged under its own name (rendering replaces it there), and
    none is listed twice."""
    import inspect

    params = {
        name
        for klass in cls.__mro__
        if klass.__module__.startswith("mlgit_airflow")
        for name in inspect.signature(klass.__init__).parameters
    }
    fields = list(cls.template_fields)
    assert len(fields) == len(set(fields)), fields
    assert set(fields) <= params, set(fields) - params
    marked = {f: f"{{{{ params.{f} }}}}" for f in fields}
    op = cls(task_id="t", **{"entity_type": "datasets", **OPERATORS[cls], **marked})
    assert {f: getattr(op, f) for f in fields} == marked
    op.render_template_fields(context(**{f: f"rendered-{f}" for f in fields}))
    assert {f: getattr(op, f) for f in fields} == {f: f"rendered-{f}" for f in fields}


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (
            MLGitCheckoutOperator,
            {"ref": "n", "force": "{{ params.x }}"},
            "force: expected true or false, found 'maybe'",
        ),
        (
            MLGitAddOperator,
            {"name": "n", "bumpversion": "{{ params.x }}"},
            "bumpversion: expected true or false, found 'maybe'",
        ),
        (
            MLGitPushOperator,
            {"name": "n", "auto_bump": "{{ params.x }}"},
            "auto_bump: expected true or false, found 'maybe'",
        ),
        (
            MLGitCheckoutOperator,
            {"ref": "n", "version": "{{ params.x }}"},
            "version: expected a positive integer, found 'maybe'",
        ),
        (
            MLGitUpdateOperator,
            {"entity_type": "{{ params.x }}"},
            "unknown entity type 'maybe'; expected one of ['datasets', 'labels', 'models']",
        ),
        (
            MLGitAddOperator,
            {"name": "n", "metrics": "{ {{ params.x }} }"},
            "metrics: expected a mapping (JSON or a Python dict), found '{ maybe }'",
        ),
    ],
    ids=["force", "bumpversion", "auto_bump", "version", "entity_type", "metrics"],
)
def test_a_bad_rendered_argument_fails_at_once_in_one_line_before_the_repository_is_touched(
    seam: Seam, cls: type[Any], kwargs: dict[str, Any], message: str
) -> None:
    op = cls(task_id="t", **{"entity_type": "datasets", **kwargs})
    with pytest.raises(AirflowFailException) as raised:
        run(op, context(x="maybe"))
    assert str(raised.value) == f"MLGitInputError: {message}"
    assert "\n" not in str(raised.value)
    assert not [c for c in seam.repo.mock_calls if not c[0].startswith("metadata")]
