"""Airflow 3 as deployed on several machines (PostgreSQL, api-server, scheduler, dag-processor,
triggerer, CeleryExecutor on Redis, two worker hosts; see airflow_cluster.py), driven through the
REST API only, and checked from a fresh workspace on the shared remotes and bucket.

The story, once per session (``story``):
1. ``mlgit_howto_dataset`` makes dataset v1; its Asset event starts ``mlgit_on_new_dataset``.
2. ``mlgit_howto_labels`` labels it (lineage: the checkout's tag + sha).
3. ``mlgit_train_model`` (one operator per step, all on host_a) makes model v1.
4. At once, on both hosts: several ``mlgit_train_model_one_task`` runs and
   ``mlgit_dist_wait_for_labels``, whose deferrable sensor waits in the triggerer until a
   colleague's workspace pushes labels v2; then more training runs.
Steps 1-3 run one after the other: each needs the previous one's version, and until each run has
a workspace of its own (issue 10) a host must not run a single-task run between two steps of a
multi-step run.
The tests then check what the runs reported against the remotes, the lineage against the bytes,
the Asset events, the deferral, and that clearing a finished commit/push makes no duplicate.
"""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from airflow_local_settings import HOST_QUEUES
from checks import (
    DATASET,
    LABELS,
    MODEL,
    Reported,
    airflow_toy_model,
    check_model_lineage,
    check_versions_exactly_once,
    fresh_workspace,
    remote_tags,
    reported,
    write_labels,
)
from dist_helpers import git_env, wait_for

#: single-task training runs started before and after the colleague's labels v2
ONE_TASK_RUNS = 2
TRAIN = "mlgit_train_model"
ONE_TASK = "mlgit_train_model_one_task"
WAIT = "mlgit_dist_wait_for_labels"
DAGS = ["mlgit_howto_dataset", "mlgit_howto_labels", TRAIN, ONE_TASK, "mlgit_on_new_dataset", WAIT]


@pytest.fixture(scope="module")
def story(
    airflow_cluster: Any,
    airflow_shared: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    figures: dict[str, Any],
) -> dict[str, Any]:
    c = airflow_cluster
    colleague_dir = tmp_path_factory.mktemp("colleague")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in git_env(colleague_dir / "home").items():
            if key != "HOME":
                mp.setenv(key, value)
        c.wait_for_dags(DAGS)
        started = time.monotonic()
        seconds: dict[tuple[str, str], float] = {}

        seconds.update(c.wait_runs([("mlgit_howto_dataset", c.trigger("mlgit_howto_dataset", "seed"))], 600))
        on_new = wait_for(
            "the asset-triggered run", lambda: c.runs("mlgit_on_new_dataset"), 120, interval=0.5
        )
        labelled = [("mlgit_howto_labels", c.trigger("mlgit_howto_labels", "label"))]
        seconds.update(c.wait_runs([*labelled, ("mlgit_on_new_dataset", on_new[0]["dag_run_id"])], 600))
        seconds.update(c.wait_runs([(TRAIN, c.trigger(TRAIN, "steps"))], 600))
        # each host gets runs of its own (a run id ending in -on-HOST: airflow_local_settings.py routes it to
        # that host's queue): which worker polls first is no part of the test
        hosts = itertools.cycle(HOST_QUEUES)
        at_once = [
            (ONE_TASK, c.trigger(ONE_TASK, f"one-task-{i}-on-{next(hosts)}")) for i in range(ONE_TASK_RUNS)
        ]
        at_once.append((WAIT, c.trigger(WAIT, "wait", {"min_version": 2})))

        def deferred() -> dict[str, Any] | None:
            ti = c.task_instances(WAIT, "wait").get("wait")
            return ti if ti and ti["state"] == "deferred" and ti["triggerer_job"] else None

        wait_ti = wait_for(
            "the sensor to defer to the triggerer", deferred, 600, interval=0.5, alive=c.servers.check_alive
        )
        # a colleague's workspace, on no Airflow host, re-labels the data and pushes labels v2
        colleague = fresh_workspace(colleague_dir / "ws", airflow_shared["remotes"], airflow_shared["bucket"])
        data = colleague.checkout("datasets", DATASET, force=True)
        labels_dir = Path(colleague.checkout("labels", LABELS, force=True).path)
        write_labels(Path(data.path), labels_dir, lambda x, y: int(x > 1.5))
        colleague.add("labels", LABELS)
        colleague.commit("labels", LABELS, message="re-labelled by hand", dataset=data.tag, auto_bump=True)
        pushed = colleague.push("labels", LABELS).to_dict()
        at_once += [
            (ONE_TASK, c.trigger(ONE_TASK, f"one-task-late-{i}-on-{next(hosts)}"))
            for i in range(ONE_TASK_RUNS)
        ]
        seconds.update(c.wait_runs(at_once, 900))
        figures["airflow_story_seconds"] = round(time.monotonic() - started, 1)

    runs = list(seconds)
    tasks = sum(len(c.task_instances(*key)) for key in runs)
    figures["airflow_runs"] = {
        "runs": len(runs),
        "tasks": tasks,
        "run_seconds_min_median_max": [
            min(seconds.values()),
            statistics.median(seconds.values()),
            max(seconds.values()),
        ],
        "run_seconds": {f"{d}/{r}": s for (d, r), s in seconds.items()},
    }
    return {"runs": runs, "colleague_push": pushed, "wait_ti": wait_ti, "on_new": on_new}


def reports_of(c: Any, story: dict[str, Any]) -> list[Reported]:
    out = [reported("colleague", story["colleague_push"])]
    for dag_id, run_id in story["runs"]:
        if dag_id == ONE_TASK:
            out.append(reported(f"{dag_id}/{run_id}", c.xcom(dag_id, run_id, "checkout_train_version")))
        elif dag_id in ("mlgit_howto_dataset", "mlgit_howto_labels", TRAIN):
            out.append(reported(f"{dag_id}/{run_id}", c.xcom(dag_id, run_id, "push")))
    return out


def test_every_reported_version_exists_exactly_once(
    airflow_cluster: Any, story: dict[str, Any], airflow_shared: dict[str, Any], figures: dict[str, Any]
) -> None:
    versions = check_versions_exactly_once(airflow_shared["remotes"], reports_of(airflow_cluster, story))
    # runs that trained on the same inputs as the newest version found it (created: False); a run
    # on other inputs (labels v2, or v1 after a v2 model) made one; each made by exactly one run
    assert len(versions["models"]) >= 1
    assert len(versions["labels"]) == 2 and len(versions["datasets"]) == 1
    figures["airflow_versions"] = {et: len(tags) for et, tags in versions.items()}


def test_lineage_matches_what_each_run_read(
    airflow_cluster: Any, story: dict[str, Any], airflow_shared: dict[str, Any], tmp_path: Path
) -> None:
    c = airflow_cluster
    repo = fresh_workspace(tmp_path / "check", airflow_shared["remotes"], airflow_shared["bucket"])
    lineage = {
        tag: check_model_lineage(repo, tag, airflow_toy_model)
        for tag in remote_tags(airflow_shared["remotes"]["models"])
    }
    # the multi-step run links exactly what its checkout tasks read (XCom, across tasks)
    read = {
        "dataset": c.xcom(TRAIN, "steps", "checkout_dataset")["tag"],
        "labels": c.xcom(TRAIN, "steps", "checkout_labels")["tag"],
    }
    assert lineage[c.xcom(TRAIN, "steps", "push")["tag"]] == read
    # the labels DAG links the dataset version its checkout read
    labels_v1 = repo.checkout("labels", c.xcom("mlgit_howto_labels", "label", "push")["tag"], force=True)
    checked = c.xcom("mlgit_howto_labels", "label", "checkout_dataset")
    assert labels_v1.dataset is not None
    assert (labels_v1.dataset.tag, labels_v1.dataset.sha) == (checked["tag"], checked["sha"])


def test_asset_events_name_the_pushed_versions(airflow_cluster: Any, story: dict[str, Any]) -> None:
    c = airflow_cluster
    for r in reports_of(c, story):
        if r.source == "colleague":
            continue  # pushed outside Airflow: no event
        name = {"datasets": DATASET, "labels": LABELS, "models": MODEL}[r.entity_type]
        events = c.asset_events(f"mlgit://{r.entity_type}/{name}")
        tags = [e["extra"].get("tag") for e in events]
        assert r.tag in tags, f"no Asset event for {r.tag} ({r.source}); events name {tags}"
        event = next(e for e in events if e["extra"].get("tag") == r.tag)
        assert event["extra"]["sha"] == r.sha
    # the push's event started the asset-scheduled DAG, which checked out exactly that version
    on_new = story["on_new"]
    assert len(on_new) == 1
    seed = c.xcom("mlgit_howto_dataset", "seed", "push")
    assert c.xcom("mlgit_on_new_dataset", on_new[0]["dag_run_id"], "checkout")["tag"] == seed["tag"]


def test_sensor_deferred_to_the_triggerer_and_resumed_on_a_push_elsewhere(
    airflow_cluster: Any, story: dict[str, Any]
) -> None:
    c = airflow_cluster
    wait_ti = story["wait_ti"]
    assert wait_ti["state"] == "deferred" and wait_ti["triggerer_job"], wait_ti
    found = c.xcom(WAIT, "wait", "wait")
    assert found["tag"] == story["colleague_push"]["tag"] and found["version"] == 2
    checkout = c.xcom(WAIT, "wait", "checkout")
    assert (checkout["tag"], checkout["sha"]) == (
        story["colleague_push"]["tag"],
        story["colleague_push"]["sha"],
    )
    tis = c.task_instances(WAIT, "wait")
    assert tis["wait"]["state"] == "success"


def test_tasks_ran_on_both_hosts_and_steps_on_one(airflow_cluster: Any, story: dict[str, Any]) -> None:
    c = airflow_cluster
    hosts = {key: {ti["hostname"] for ti in c.task_instances(*key).values()} for key in story["runs"]}
    assert set().union(*hosts.values()) == {"host_a", "host_b"}, hosts
    for key in story["runs"]:  # a run sent to a host ran there
        for host in HOST_QUEUES:
            if key[1].endswith(f"-on-{host}"):
                assert hosts[key] == {host}, (key, hosts[key])
    for key in story["runs"]:
        if key[0] in ("mlgit_howto_dataset", "mlgit_howto_labels", TRAIN, "mlgit_on_new_dataset"):
            assert hosts[key] == {"host_a"}, (key, hosts[key])


def test_clearing_a_finished_commit_and_push_makes_no_duplicate(
    airflow_cluster: Any, story: dict[str, Any], airflow_shared: dict[str, Any]
) -> None:
    c = airflow_cluster
    before = remote_tags(airflow_shared["remotes"]["models"])
    first = c.xcom(TRAIN, "steps", "push")
    c.clear(TRAIN, "steps", ["commit", "push"])
    wait_for(
        "the cleared tasks to run again",
        lambda: c.task_instances(TRAIN, "steps")["push"]["try_number"] > 1 or None,
        120,
    )
    c.wait_runs([(TRAIN, "steps")], 600)
    assert remote_tags(airflow_shared["remotes"]["models"]) == before
    again = c.xcom(TRAIN, "steps", "push")
    assert (again["tag"], again["sha"], again["created"]) == (first["tag"], first["sha"], False)
    commit = c.xcom(TRAIN, "steps", "commit")
    assert (commit["tag"], commit["created"]) == (first["tag"], False)
