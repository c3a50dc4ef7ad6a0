"""Prefect tasks: each builds the ``Repository`` from its block and calls one verb.

Every task returns plain JSON (``result.to_dict()``), the same dict as the Airflow operators.
All are safe to retry (the verbs are idempotent), and retry on their own only on errors that a
second attempt can cure (a storage or git remote that did not answer), never on a wrong name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from mlgit import (
    CorruptObject,
    Repository,
    runs,
)
from mlgit.errors import is_retryable

from . import artifacts
from .blocks import MLGitRepository, load_repository_block, plural_entity_type
from .runs import checkouts_in_this_flow_run, commit_message, link_from_checkouts, record_checkout, run_ids

RepositoryRef = MLGitRepository | str
LinkRef = str | Mapping[str, Any] | None


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only what a second attempt can cure; the core's errors say which (``mlgit.errors``),
    and the Airflow operators read the same attribute."""
    return is_retryable(state.data)


_OPTIONS: dict[str, Any] = {
    "cache_policy": NO_CACHE,  # every call has side effects: never skip one because its inputs repeat
    "retries": 2,
    "retry_delay_seconds": [2, 10],
    "retry_condition_fn": _transient,
}


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run logger inside a flow or task run; ``mlgit_prefect``'s own logger when a task's ``.fn``
    is called directly (a script, a unit test), so every outcome line below is written either way."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("mlgit_prefect")


def _repository(repository: RepositoryRef) -> Repository:
    return load_repository_block(repository).get_repository()


def _progress(verb: str) -> Any:
    logger = _log()
    said: set[tuple[str, int]] = set()

    def progress(phase: str, done: int, total: int) -> None:
        if done == total and (phase, total) not in said:  # once per phase, not once per call
            said.add((phase, total))
            logger.info("mlgit %s: %s %d/%d", verb, phase, done, total)

    return progress


def _block_and_repository(
    repository: RepositoryRef,
) -> tuple[MLGitRepository, Repository, runs.RunFolder | None]:
    block = load_repository_block(repository)
    repo = block.get_repository()
    return block, repo, block.run_folder()


def _link(value: LinkRef) -> str | dict[str, str] | None:
    """A name or tag as is; a checkout/push result (or any mapping) reduced to ``{tag, sha}``."""
    if value is None or isinstance(value, str):
        return value
    return {"tag": str(value["tag"]), "sha": str(value["sha"])}


@task(name="mlgit_create", **_OPTIONS)
def mlgit_create(
    repository: RepositoryRef,
    entity_type: str,
    name: str,
    categories: str | list[str],
    mutability: str = "strict",
    bucket: str | None = None,
    entity_dir: str = "",
    version: int = 1,
    exist_ok: bool = True,
) -> dict[str, Any]:
    """Write the entity's spec (``ml-git <type> create``), or reuse the entity: found in the run folder
    as it is (a retry), or, when the remote has versions of it, its latest version checked out so that
    the next version extends it (``checked_out`` in the result names it)."""
    block, repo, run = _block_and_repository(repository)
    et = plural_entity_type(entity_type)
    result = runs.create_or_reuse(
        repo,
        et,
        name,
        exist_ok=exist_ok,
        fetch=run is None,
        categories=categories,
        mutability=mutability,
        storage_type=block.storage_type,
        bucket=bucket or block.bucket_for(et),
        entity_dir=entity_dir,
        version=version,
    )
    if result["checked_out"]:
        _log().info("mlgit create %s/%s: already versioned; checked out %s", et, name, result["checked_out"])
    else:
        _log().info(
            "mlgit create %s/%s: %s at %s",
            et,
            name,
            "created" if result["created"] else "found",
            result["path"],
        )
    return result


@task(name="mlgit_checkout", **_OPTIONS)
def mlgit_checkout(
    repository: RepositoryRef,
    entity_type: str,
    ref: str,
    version: int | None = None,
    bare: bool = False,
    force: bool = False,
    sample: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check out a version (name = latest, name + version, or a tag); later commits in this flow run link it.

    ``sample`` checks out a subset chosen as ML-Git does: ``{"group": "1:3", "seed": "1"}``,
    ``{"random": "1:2", "seed": "7"}`` or ``{"range": "0:100:2"}``.
    """
    _, repo, run = _block_and_repository(repository)
    result = repo.checkout(
        entity_type,
        ref,
        version=version,
        bare=bare,
        force=force,
        fetch=run is None,
        progress=_progress("checkout"),
        sample=sample,
    ).to_dict()
    record_checkout(result)
    _log().info(
        "mlgit checkout %s %s: %s files, %s bytes",
        result["entity_type"],
        result["tag"],
        result["files"],
        result["size"],
    )
    return result


@task(name="mlgit_add", **_OPTIONS)
def mlgit_add(
    repository: RepositoryRef,
    entity_type: str,
    name: str,
    bumpversion: bool = False,
    metrics: Mapping[str, float] | None = None,
    metrics_file: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Stage the entity's files (and metrics, from a dict or the how-to's CSV file).

    ``bumpversion`` bumps only when the spec's version is already tagged with other files or
    metrics (the core's rule): a retried or rerun add never bumps twice.
    """
    repo = _repository(repository)
    result = repo.add(entity_type, name, bumpversion=bumpversion, metrics=metrics, metrics_file=metrics_file)
    _log().info(
        "mlgit add %s/%s: staged version %s (%s files)",
        result.entity_type,
        name,
        result.version,
        result.files,
    )
    return result.to_dict()


@task(name="mlgit_commit", **_OPTIONS)
def mlgit_commit(
    repository: RepositoryRef,
    entity_type: str,
    name: str,
    message: str | None = None,
    version: int | None = None,
    dataset: LinkRef = None,
    labels: LinkRef = None,
    auto_lineage: bool = True,
    auto_bump: bool = False,
) -> dict[str, Any]:
    """Commit the staged version to the metadata repository, linked to the dataset/labels it came from.

    ``dataset`` / ``labels``: a name (its checked-out version), a tag, or a checkout result. Left
    out, labels and models link the dataset/labels that ``mlgit_checkout`` took earlier in this flow
    run (``auto_lineage=False`` turns that off). The flow and task run ids go into the git message.
    """
    repo = _repository(repository)
    links: dict[str, str | dict[str, str] | None] = {"dataset": _link(dataset), "labels": _link(labels)}
    plural = plural_entity_type(entity_type)
    wanted = {"labels": ("dataset",), "models": ("dataset", "labels")}.get(plural, ())
    if auto_lineage and any(links[k] is None for k in wanted):
        checkouts = checkouts_in_this_flow_run()
        for kind in wanted:
            if links[kind] is None:
                links[kind] = link_from_checkouts(kind, checkouts)
    for kind, link in links.items():
        if link is not None:
            _log().info(
                "mlgit commit %s/%s: %s %s",
                plural,
                name,
                kind,
                link if isinstance(link, str) else link["tag"],
            )
    run = load_repository_block(repository).run_folder()
    flow_run_id, _ = run_ids()
    trailers = {"Prefect-Flow-Run": flow_run_id} if flow_run_id else {}
    made = run.commit_made(repo, plural, name, trailers) if run else None
    if made is not None:  # a retry, or a rerun of this flow run: the version it made, not another one
        result = runs.result_of(repo, plural, name, made["tag"], created=False)
    else:
        result = repo.commit(
            entity_type,
            name,
            message=commit_message(message, plural, name),
            version=version,
            dataset=links["dataset"],
            labels=links["labels"],
            auto_bump=auto_bump,
        )
        if run is not None:
            run.remember("commit", plural, name, tag=result.tag, sha=result.sha, created=result.created)
    data = result.to_dict()
    data["dropped"] = runs.dropped_files(repo, plural, name, str(result.tag)) if result.tag else []
    _log().info(
        "mlgit commit %s: %s (sha %s)",
        result.tag,
        "committed" if result.created else "already committed",
        result.sha,
    )
    if data["dropped"]:
        _log().warning(
            "mlgit commit %s: drops %d file(s) of the version before it (first: %s)",
            result.tag,
            len(data["dropped"]),
            data["dropped"][0],
        )
    return data


@task(name="mlgit_push", **_OPTIONS)
def mlgit_push(
    repository: RepositoryRef, entity_type: str, name: str, auto_bump: bool = False
) -> dict[str, Any]:
    """Upload the objects, push tag and branch; then the asset ``mlgit://<type>/<name>`` and two artifacts.

    ``auto_bump``: when another run pushed this version number first, publish ours as the next free one.
    Only for news: a push that made nothing visible (a rerun, a retry after its artifacts) emits no
    second materialization and no new artifact; ``news`` in the result says which it was.
    """
    _, repo, run = _block_and_repository(repository)
    plural = plural_entity_type(entity_type)
    made = run.push_made(plural, name) if run else None
    if made is not None:
        result = runs.result_of(repo, plural, name, made["tag"], created=False)
    else:
        result = repo.push(entity_type, name, progress=_progress("push"), auto_bump=auto_bump)
    committed = run.recorded("commit", plural, name) if run else None
    if (
        run is not None
        and committed is not None
        and made is None
        and result.created
        and committed["tag"] != result.tag
    ):
        # another run took our version number first; auto_bump published ours as the next one
        run.remember("commit", plural, name, tag=result.tag, sha=result.sha, created=True)
        committed = run.recorded("commit", plural, name)
    # news: a version this push made visible, or a version this run's commit created whose first push
    # attempt failed before its asset and artifacts were made; a rerun that found its version is not
    ours = committed is not None and committed["tag"] == result.tag and bool(committed.get("created", True))
    news = made is None and (result.created or ours)
    data = {**result.to_dict(), "news": news}
    _log().info(
        "mlgit push %s: %s objects uploaded, %s already there", result.tag, result.uploaded, result.skipped
    )
    if news:
        artifacts.emit_asset(data)
        artifacts.pushed_table(data)
        artifacts.lineage_summary(repo.lineage(result.entity_type, str(result.tag)))
    else:
        _log().info("mlgit push %s: nothing new; no asset event, no artifact", result.tag)
    if run is not None and made is None:
        run.remember("push", result.entity_type, result.name, tag=result.tag, sha=result.sha)
    return data


@task(name="mlgit_update", **_OPTIONS)
def mlgit_update(repository: RepositoryRef, entity_type: str) -> dict[str, Any]:
    """Bring the metadata clone to the remote's state (``ml-git <type> update``): later checkouts by
    name in this flow run take the remote's newest version. Returns ``{entity_type, tags}``."""
    repo = _repository(repository)
    plural = plural_entity_type(entity_type)
    repo.update(plural)
    tags = repo.metadata(plural).tags()
    _log().info("mlgit update %s: metadata updated (%d version tags)", plural, len(tags))
    return {"entity_type": plural, "tags": tags}


@task(name="mlgit_remote_fsck", **_OPTIONS)
def mlgit_remote_fsck(
    repository: RepositoryRef,
    entity_type: str,
    name: str,
    thorough: bool = False,
    fix: bool = True,
    fail_on_unfixable: bool = True,
) -> dict[str, Any]:
    """Check that the storage holds every object of every version of ``name`` (``thorough``: and that
    each matches its CID); re-upload what it lacks from this worker; fail if something stays missing."""
    result = _repository(repository).remote_fsck(entity_type, name, thorough=thorough, fix=fix)
    _log().info("mlgit remote-fsck %s", result.summary())
    if fail_on_unfixable and result.unfixable:
        raise CorruptObject(
            f"remote fsck {result.entity_type} {result.name}: {len(result.unfixable)} object(s) "
            f"missing or corrupted in the storage and not on this worker "
            f"(first: {result.unfixable[0]})"
        )
    return {**result.to_dict(), "total": result.total}


@task(name="mlgit_fsck", **_OPTIONS)
def mlgit_fsck(
    repository: RepositoryRef, entity_type: str, fix: bool = True, fail_on_unfixable: bool = True
) -> dict[str, Any]:
    """Check (and repair) local objects, cache and locked workspace files; fail if something stays broken."""
    result = _repository(repository).fsck(entity_type, fix=fix)
    _log().info(
        "mlgit fsck %s: %s objects checked, %s corrupted, %s fixed, %s unfixable",
        result.entity_type,
        result.objects_checked,
        result.total,
        len(result.fixed),
        len(result.unfixable),
    )
    if fail_on_unfixable and result.unfixable:
        raise CorruptObject(
            f"fsck {result.entity_type}: {len(result.unfixable)} corrupted item(s) could not be "
            f"repaired (first: {result.unfixable[0]})"
        )
    return {**result.to_dict(), "corrupted": result.total}
