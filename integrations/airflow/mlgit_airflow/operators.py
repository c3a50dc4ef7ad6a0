"""One operator per verb of ``mlgit.Repository``; each returns the verb's result to XCom as a dict.

Templating lives here, the connection in the hook, all logic in the core. Errors that a retry
cannot fix (unknown entity, bad tag, bad connection, any error ``mlgit.errors.is_retryable`` does not
call retryable) fail the task at once with the core's message; storage and git remote errors are
raised as they are, so Airflow's retries apply to them, as Prefect's tasks retry the same ones.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import AssetAlias, BaseOperator
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowRuntimeError,
)

from mlgit.errors import is_retryable
from mlgit_airflow._entities import MLGitInputError, flag, optional_int, plural_entity_type
from mlgit_airflow.assets import event_extra, mlgit_asset
from mlgit_airflow.hooks import MLGitHook
from mlgit_airflow.lineage import LineageRef, operator_lineage

if TYPE_CHECKING:
    from airflow.sdk import Context

    from mlgit import Repository

#: The alias a push adds its asset to when the entity's name is only known at run time.
PUSH_ALIAS = "mlgit"


def fails_at_once(err: BaseException) -> bool:
    """Whether a task error is final (no Airflow retry): the provider's input errors, and every error
    that ``mlgit.errors.is_retryable`` does not call retryable (the policy Prefect's tasks read too:
    a core error says so itself; a connection error or a timeout from a library may be retried; a
    ``KeyError`` or a ``ValueError`` is not). Airflow's own errors are left to Airflow."""
    if isinstance(err, MLGitInputError | AirflowNotFoundException):
        return True
    if isinstance(err, AirflowException | AirflowRuntimeError):
        return False
    return not is_retryable(err)


def _literal(value: object, what: str) -> Any:
    """A dict given natively (XComArg) or as rendered text (JSON or a Python literal)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text == "None":
        return None
    if not text.startswith(("{", "[")):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise MLGitInputError(
            f"{what}: expected a mapping (JSON or a Python dict), found {value!r}"
        ) from None


def _link_arg(value: object, what: str) -> str | dict[str, str] | None:
    """A lineage link argument: an entity name, a tag, or a mapping with tag and sha (an XCom)."""
    value = _literal(value, what)
    if value is None:
        return None
    if isinstance(value, Mapping):
        if not value.get("tag") or not value.get("sha"):
            raise MLGitInputError(
                f"{what}: expected a mapping with 'tag' and 'sha' (an MLGit XCom), found {dict(value)!r}"
            )
        return {"tag": str(value["tag"]), "sha": str(value["sha"])}
    if isinstance(value, str):
        return value
    raise MLGitInputError(
        f"{what}: expected an entity name, a tag or a {{tag, sha}} mapping, found {value!r}"
    )


def _operator_class(task: Any) -> type:
    return getattr(task, "operator_class", None) or type(task)


class MLGitBaseOperator(BaseOperator):
    """Shared plumbing: the hook, templated connection/workspace, error translation, OpenLineage."""

    template_fields: Sequence[str] = ("mlgit_conn_id", "workspace", "entity_type")
    ui_color = "#dbe9f6"

    def __init__(
        self,
        *,
        entity_type: str,
        mlgit_conn_id: str = MLGitHook.default_conn_name,
        workspace: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.entity_type = entity_type
        self.mlgit_conn_id = mlgit_conn_id
        self.workspace = workspace
        self._lineage_inputs: list[LineageRef] = []
        self._lineage_outputs: list[LineageRef] = []

    @property
    def plural_type(self) -> str:
        """The entity type in its plural form (``datasets``, ``labels``, ``models``)."""
        return plural_entity_type(self.entity_type)

    @property
    def hook(self) -> MLGitHook:
        """One hook per task run: it knows the DAG run, hence the run folder."""
        if getattr(self, "_hook", None) is None:
            self._hook = MLGitHook(mlgit_conn_id=self.mlgit_conn_id, workspace=self.workspace or None)
        return self._hook

    def repository(self) -> Repository:
        return self.hook.get_repository()

    def fetch_first(self) -> bool:
        """Whether a name must be resolved after asking the remote: not in a run folder, whose clones
        were fetched when the run started (one fetch per run and type, the same "latest" for all tasks)."""
        self.repository()
        return self.hook.run is None

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            return self.run_verb(context)
        except Exception as err:
            # A retry cannot fix these: fail now, with the core's message (what, expected, where).
            if fails_at_once(err):
                raise AirflowFailException(f"{type(err).__name__}: {err}") from err
            raise

    def run_verb(self, context: Context) -> dict[str, Any]:
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage inputs/outputs with their version (the tag); None without the provider."""
        return operator_lineage(self._lineage_inputs, self._lineage_outputs)


class MLGitCreateOperator(MLGitBaseOperator):
    """``ml-git <type> create``: write the entity's spec. Storage and bucket default to the connection's.

    With ``exist_ok`` (the default) an entity already in the workspace is left as it is, so a
    re-run or a retry does not fail.
    """

    template_fields: Sequence[str] = (
        *MLGitBaseOperator.template_fields,
        "name",
        "categories",
        "mutability",
        "storage_type",
        "bucket",
        "entity_dir",
        "version",
    )

    def __init__(
        self,
        *,
        name: str,
        categories: str | list[str],
        mutability: str = "strict",
        storage_type: str | None = None,
        bucket: str | None = None,
        entity_dir: str = "",
        version: int | str = 1,
        exist_ok: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.categories = categories
        self.mutability = mutability
        self.storage_type = storage_type
        self.bucket = bucket
        self.entity_dir = entity_dir
        self.version = version
        self.exist_ok = exist_ok

    def run_verb(self, context: Context) -> dict[str, Any]:
        from mlgit import InvalidName, runs

        repo = self.repository()
        defaults = self.hook.storage_args()
        try:
            value = runs.create_or_reuse(
                repo,
                self.plural_type,
                self.name,
                exist_ok=self.exist_ok,
                fetch=self.fetch_first(),
                categories=self.categories,
                mutability=self.mutability,
                storage_type=self.storage_type or defaults["storage_type"],
                bucket=self.bucket or defaults["bucket"],
                entity_dir=self.entity_dir or "",
                version=optional_int(self.version, "version") or 1,
            )
        except InvalidName as err:
            raise MLGitInputError(str(err)) from err
        how = "created" if value["created"] else "found"
        if value["checked_out"]:
            how = f"checked out its latest version {value['checked_out']} for"
        self.log.info("mlgit: %s %s %s at %s", how, value["entity_type"], self.name, value["path"])
        return value


class MLGitCheckoutOperator(MLGitBaseOperator):
    """``ml-git <type> checkout``: materialize a version (name = latest, name + version, or a tag).

    Its XCom ``{tag, sha, ...}`` is what a downstream :class:`MLGitCommitOperator` links as lineage.
    ``sample`` checks out a subset chosen as ML-Git does: ``{"group": "1:3", "seed": "1"}``,
    ``{"random": "1:2", "seed": "7"}`` or ``{"range": "0:100:2"}`` (a dict, or template text holding one).
    """

    template_fields: Sequence[str] = (
        *MLGitBaseOperator.template_fields,
        "ref",
        "version",
        "force",
        "sample",
    )

    def __init__(
        self,
        *,
        ref: str,
        version: int | str | None = None,
        bare: bool = False,
        force: bool | str = False,
        sample: Mapping[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ref = ref
        self.version = version
        self.bare = bare
        self.force = force
        self.sample = sample

    def run_verb(self, context: Context) -> dict[str, Any]:
        sample = _literal(self.sample, "sample")
        if sample is not None and not isinstance(sample, Mapping):
            raise MLGitInputError(
                f"sample: expected a mapping like {{'group': '1:3', 'seed': '1'}}, found {sample!r}"
            )
        repo = self.repository()
        result = repo.checkout(
            self.plural_type,
            str(self.ref),
            version=optional_int(self.version, "version"),
            bare=self.bare,
            force=flag(self.force, "force"),
            fetch=self.fetch_first(),
            sample=sample,
        )
        self.log.info(
            "mlgit: checked out %s %s (%s files, %s bytes)",
            result.entity_type,
            result.tag,
            result.files,
            result.size,
        )
        self._lineage_inputs = [LineageRef(result.entity_type, result.name, result.tag, result.sha)]
        return result.to_dict()


class MLGitAddOperator(MLGitBaseOperator):
    """``ml-git <type> add``: stage the entity's files; models take ``metrics`` or ``metrics_file``.

    ``metrics`` may be a dict, an XComArg (``train_task.output``), or rendered template text
    holding a JSON object or Python dict.
    """

    template_fields: Sequence[str] = (
        *MLGitBaseOperator.template_fields,
        "name",
        "metrics",
        "metrics_file",
        "bumpversion",
    )

    def __init__(
        self,
        *,
        name: str,
        bumpversion: bool | str = False,
        metrics: Mapping[str, Any] | str | None = None,
        metrics_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.bumpversion = bumpversion
        self.metrics = metrics
        self.metrics_file = metrics_file

    def run_verb(self, context: Context) -> dict[str, Any]:
        metrics = _literal(self.metrics, "metrics")
        if metrics is not None and not isinstance(metrics, Mapping):
            raise MLGitInputError(f"metrics: expected a mapping of metric name to number, found {metrics!r}")
        repo = self.repository()
        result = repo.add(
            self.plural_type,
            self.name,
            bumpversion=flag(self.bumpversion, "bumpversion"),
            metrics=metrics,
            metrics_file=Path(self.metrics_file) if self.metrics_file else None,
        )
        self.log.info(
            "mlgit: staged %s %s version %s (%s files)",
            result.entity_type,
            result.name,
            result.version,
            result.files,
        )
        return result.to_dict()


class MLGitCommitOperator(MLGitBaseOperator):
    """``ml-git <type> commit``: record a version in the metadata repository.

    Lineage: for labels and models, when ``dataset`` / ``labels`` are not given, the versions that
    upstream :class:`MLGitCheckoutOperator` tasks of the same DAG run checked out are linked, read
    from their XCom (tag + sha), so the commit may run on another worker than the checkout.
    The metadata commit message records the Airflow run (dag_id, run_id, task_id, try_number).
    """

    template_fields: Sequence[str] = (
        *MLGitBaseOperator.template_fields,
        "name",
        "message",
        "version",
        "dataset",
        "labels",
        "auto_bump",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"message": "md"}

    _LINKABLE: ClassVar[dict[str, tuple[str, ...]]] = {
        "labels": ("datasets",),
        "models": ("datasets", "labels"),
    }

    def __init__(
        self,
        *,
        name: str,
        message: str | None = None,
        version: int | str | None = None,
        dataset: str | Mapping[str, Any] | None = None,
        labels: str | Mapping[str, Any] | None = None,
        link_upstream: bool = True,
        auto_bump: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.message = message
        self.version = version
        self.dataset = dataset
        self.labels = labels
        self.link_upstream = link_upstream
        self.auto_bump = auto_bump

    def upstream_links(self, context: Context) -> dict[str, dict[str, str]]:
        """``{"datasets": {tag, sha}, "labels": {...}}`` from upstream checkout XComs of this run."""
        linkable = self._LINKABLE.get(self.plural_type, ())
        if not linkable:
            return {}
        found: dict[str, set[tuple[str, str]]] = {}
        ti = context["ti"]
        for task in self.get_flat_relatives(upstream=True):
            if not issubclass(_operator_class(task), MLGitCheckoutOperator):
                continue
            value = ti.xcom_pull(task_ids=task.task_id)
            items = (
                list(value)
                if isinstance(value, Sequence) and not isinstance(value, str | Mapping)
                else [value]
            )
            for item in items:
                if (
                    isinstance(item, Mapping)
                    and item.get("entity_type") in linkable
                    and item.get("tag")
                    and item.get("sha")
                ):
                    found.setdefault(str(item["entity_type"]), set()).add(
                        (str(item["tag"]), str(item["sha"]))
                    )
        links: dict[str, dict[str, str]] = {}
        for et, versions in found.items():
            if len(versions) > 1:
                tags = sorted(tag for tag, _ in versions)
                raise MLGitInputError(
                    f"{self.plural_type} {self.name}: upstream checkouts of several {et} versions ({', '.join(tags)}); "
                    f"name the one to link with {'dataset' if et == 'datasets' else 'labels'}="
                )
            tag, sha = next(iter(versions))
            links[et] = {"tag": tag, "sha": sha}
        return links

    def commit_message(self, context: Context) -> str:
        ti = context["ti"]
        head = (self.message or "").strip() or f"{self.plural_type} {self.name}"
        return (
            f"{head}\n\n"
            f"Airflow-Dag-Id: {ti.dag_id}\n"
            f"Airflow-Run-Id: {ti.run_id}\n"
            f"Airflow-Task-Id: {ti.task_id}\n"
            f"Airflow-Try-Number: {ti.try_number}\n"
        )

    def run_verb(self, context: Context) -> dict[str, Any]:
        dataset = _link_arg(self.dataset, "dataset")
        labels = _link_arg(self.labels, "labels")
        if self.link_upstream and (dataset is None or labels is None):
            upstream = self.upstream_links(context)
            if dataset is None:
                dataset = upstream.get("datasets")
            if labels is None and self.plural_type == "models":
                labels = upstream.get("labels")
        repo = self.repository()
        run = self.hook.run_folder()
        step = str(context["ti"].task_id)
        # the latest record of this entity in this run: a push with auto_bump may have moved it on
        ti = context["ti"]
        trailers = {"Airflow-Dag-Id": str(ti.dag_id), "Airflow-Run-Id": str(ti.run_id)}
        made = run.commit_made(repo, self.plural_type, self.name, trailers) if run else None
        if made is not None:  # a retry, or a clear after the run went on: this run's own version
            from mlgit import runs

            result = runs.result_of(repo, self.plural_type, self.name, made["tag"], created=False)
        else:
            result = repo.commit(
                self.plural_type,
                self.name,
                message=self.commit_message(context),
                version=optional_int(self.version, "version"),
                dataset=dataset,
                labels=labels,
                auto_bump=flag(self.auto_bump, "auto_bump"),
            )
            if run is not None:
                run.remember(
                    "commit",
                    result.entity_type,
                    result.name,
                    step,
                    tag=result.tag,
                    sha=result.sha,
                    created=result.created,
                )
        value = result.to_dict()
        value["dropped"] = warn_dropped(self.log, repo, result)
        self.log.info(
            "mlgit: %s %s (sha %s)%s%s",
            "committed" if result.created else "already committed",
            result.tag,
            result.sha,
            f", dataset {result.dataset.tag}" if result.dataset else "",
            f", labels {result.labels.tag}" if result.labels else "",
        )
        self._lineage_inputs = [
            LineageRef(et, "", link.tag, link.sha)
            for et, link in (("datasets", result.dataset), ("labels", result.labels))
            if link is not None
        ]
        self._lineage_outputs = [LineageRef(result.entity_type, result.name, result.tag, result.sha)]
        return value


def warn_dropped(logger: Any, repo: Repository, result: Any) -> list[str]:
    """Files the previous version had and this one lacks, logged as a warning (usually a version built
    on an empty folder instead of on the latest version)."""
    from mlgit import runs

    if not result.tag:
        return []
    dropped = runs.dropped_files(repo, result.entity_type, result.name, result.tag)
    if dropped:
        logger.warning(
            "mlgit: %s drops %d file(s) of the version before it (first: %s)",
            result.tag,
            len(dropped),
            dropped[0],
        )
    return dropped


class MLGitPushOperator(MLGitBaseOperator):
    """``ml-git <type> push``: upload the objects, then the metadata; emits the entity's Asset event.

    The event (``mlgit://<type>/<name>``) carries ``{tag, sha, version, metrics}``. When the name is
    templated, the asset is only known at run time and is emitted through the ``mlgit`` AssetAlias.
    """

    template_fields: Sequence[str] = (*MLGitBaseOperator.template_fields, "name", "auto_bump")

    def __init__(self, *, name: str, auto_bump: bool | str = False, **kwargs: Any) -> None:
        outlets = list(kwargs.pop("outlets", None) or [])
        outlets.append(AssetAlias(PUSH_ALIAS))  # an event only when there is news (see run_verb)
        super().__init__(outlets=outlets, **kwargs)
        self.name = name
        self.auto_bump = auto_bump

    def run_verb(self, context: Context) -> dict[str, Any]:
        from mlgit import runs

        repo = self.repository()
        run = self.hook.run_folder()
        step = str(context["ti"].task_id)
        made = run.push_made(self.plural_type, self.name, step) if run else None
        if made is not None:  # this run pushed already (a clear, a retry after the record): no news
            result = runs.result_of(repo, self.plural_type, self.name, made["tag"], created=False)
        else:
            result = repo.push(self.plural_type, self.name, auto_bump=flag(self.auto_bump, "auto_bump"))
        committed = run.recorded("commit", self.plural_type, self.name) if run else None
        if committed is not None and made is None and result.created and committed["tag"] != result.tag:
            # another run took our version number first; auto_bump published ours as the next one
            run.remember(
                "commit",
                result.entity_type,
                result.name,
                "push",
                tag=result.tag,
                sha=result.sha,
                created=True,
            )
            committed = run.recorded("commit", self.plural_type, self.name)
        # news: a version this push made visible, or a version this run's commit created that a failed
        # attempt pushed without its event (Airflow sends the event only when the task succeeds); a
        # rerun whose commit found its version already there is no news
        ours = committed is not None and committed["tag"] == result.tag and committed.get("created", True)
        news = made is None and (result.created or ours)
        self._pushed = (run, step, result) if run is not None and made is None else None
        self.log.info(
            "mlgit: pushed %s (%s objects uploaded, %s already there)%s",
            result.tag,
            result.uploaded,
            result.skipped,
            "" if news else "; nothing new to push: no Asset event",
        )
        value = result.to_dict()
        if news:
            asset = mlgit_asset(result.entity_type, result.name)
            context["outlet_events"][AssetAlias(PUSH_ALIAS)].add(asset, extra=event_extra(value))
        self._lineage_outputs = [LineageRef(result.entity_type, result.name, result.tag, result.sha)]
        return value

    def post_execute(self, context: Any, result: Any = None) -> None:
        """The push is recorded once the task succeeded (its event is sent): a later clear sends none."""
        super().post_execute(context, result)
        pushed = getattr(self, "_pushed", None)
        if pushed is not None:
            run, step, res = pushed
            run.remember("push", res.entity_type, res.name, step, tag=res.tag, sha=res.sha)


class MLGitFsckOperator(MLGitBaseOperator):
    """``ml-git <type> fsck``: verify (and repair) the local objects, cache and workspace.

    Fails when something stays corrupted after the repair, unless ``fail_on_unfixable=False``.
    """

    def __init__(self, *, fix: bool = True, fail_on_unfixable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fix = fix
        self.fail_on_unfixable = fail_on_unfixable

    def run_verb(self, context: Context) -> dict[str, Any]:
        result = self.repository().fsck(self.plural_type, fix=self.fix)
        value = result.to_dict()
        value["corrupted"] = result.total
        self.log.info(
            "mlgit: fsck %s: %s objects checked, %s corrupted, %s fixed, %s unfixable",
            result.entity_type,
            result.objects_checked,
            result.total,
            len(result.fixed),
            len(result.unfixable),
        )
        if self.fail_on_unfixable and result.unfixable:
            raise AirflowFailException(
                f"fsck {result.entity_type}: {len(result.unfixable)} corrupted item(s) could not be repaired "
                f"(first: {result.unfixable[0]})"
            )
        return value


class MLGitUpdateOperator(MLGitBaseOperator):
    """``ml-git <type> update``: bring the metadata clone to the remote's state (``git pull``).

    In a run folder this moves the run's view of "latest" to the remote's newest version; later
    checkouts by name in the same run take it. Returns ``{entity_type, tags}`` (the remote's versions).
    """

    def run_verb(self, context: Context) -> dict[str, Any]:
        repo = self.repository()
        repo.update(self.plural_type)
        tags = repo.metadata(self.plural_type).tags()
        self.log.info("mlgit: %s metadata updated (%d version tags)", self.plural_type, len(tags))
        return {"entity_type": self.plural_type, "tags": tags}


class MLGitRemoteFsckOperator(MLGitBaseOperator):
    """``ml-git <type> remote-fsck``: check the storage holds every object of every version of
    ``name`` (``thorough``: and that each matches its CID); re-upload what it lacks from this worker.

    Fails when something stays missing or corrupted, unless ``fail_on_unfixable=False``.
    """

    template_fields: Sequence[str] = (*MLGitBaseOperator.template_fields, "name", "thorough")

    def __init__(
        self,
        *,
        name: str,
        thorough: bool | str = False,
        fix: bool = True,
        fail_on_unfixable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.thorough = thorough
        self.fix = fix
        self.fail_on_unfixable = fail_on_unfixable

    def run_verb(self, context: Context) -> dict[str, Any]:
        result = self.repository().remote_fsck(
            self.plural_type, self.name, thorough=flag(self.thorough, "thorough"), fix=self.fix
        )
        value = {**result.to_dict(), "total": result.total}
        self.log.info("mlgit: remote fsck %s", result.summary())
        if self.fail_on_unfixable and result.unfixable:
            raise AirflowFailException(
                f"remote fsck {result.entity_type} {result.name}: {len(result.unfixable)} object(s) missing or "
                f"corrupted in the storage and not on this worker (first: {result.unfixable[0]})"
            )
        return value
