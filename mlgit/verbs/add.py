"""``<type> add NAME``: stage the entity's changed files (objects, cache and index)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import index as idx
from .. import manifest as mf
from .. import sampling
from .. import spec as specs
from ..errors import (
    InvalidName,
    MutabilityError,
    SpecError,
)
from ..names import make_tag, safe_relpath
from ..results import (
    VersionResult,
    version_result,
)
from ..safety import disk_errors
from ..workspace import read_metrics_file, scan, stage, to_metric
from .changes import changed_in_place, refresh, under

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


@disk_errors("add")
def add(
    ctx: Context,
    et: str,
    name: str,
    bumpversion: bool = False,
    metrics: Mapping[str, Any] | None = None,
    metrics_file: str | os.PathLike[str] | None = None,
    paths: list[str] | None = None,
) -> VersionResult:
    """Stage the entity's changed files (only those under ``paths`` when given)."""
    path, body = ctx.store.load(et, name)
    ctx.store.refuse_symlinked(et, name)  # the index is written after the files are staged: looked at first
    ctx.store.refuse_if_unfinished(et, name, "add")
    sampling.refuse_if_sampled(ctx.layout.index_dir(et, name), et, name, "add")
    if "mutability" not in body and not (ctx.metadata(et).exists and ctx.metadata(et).tags(name)):
        raise SpecError(  # ML-Git: a new entity must say; one versioned before mutability existed is strict
            f"{specs.spec_file(path, name)}: expected a 'mutability' (strict, flexible or mutable) "
            "for a new entity; add it to the spec or create the entity with ml-git create"
        )
    mutability = body.get("mutability", "strict")
    values = metric_values(et, name, metrics, metrics_file)  # refused before anything is written
    index, _ = ctx.store.staged(et, name)
    wanted = [safe_relpath(p.strip("/"), "add FILE_PATH") for p in paths or []]
    files = scan(path, name)
    if wanted:
        files = {r: st for r, st in files.items() if under(r, wanted)}
    loaded, index = index, refresh(path, files, index)
    corrupted = [
        r
        for r, st in files.items()
        if r in index
        and changed_in_place(index[r], st, path / r, ctx.layout.cache(et).path(index[r].cid))
        and mutability != "mutable"
        and index[r].status != idx.UNLOCKED
    ]
    if corrupted:
        raise MutabilityError(
            f"{et} {name} is {mutability}: {len(corrupted)} locked file(s) were changed in place "
            f"(first: {corrupted[0]}); restore them with checkout --force, or unlock them first (flexible)"
        )
    changed = [r for r, st in files.items() if r not in index or not index[r].matches(st)]
    staged = stage(
        path,
        changed,
        ctx.layout.objects(et),
        None if mutability == "mutable" else ctx.layout.cache(et),
        chunks=bool(ctx.config.get("write_chunks")),  # ours, only when set: ML-Git's push can run after
    )
    new_index: idx.Index = {
        rel: e
        for rel, e in index.items()
        if rel not in files and (e.status == idx.BARE or (wanted and not under(rel, wanted)))
    }
    for rel, st in files.items():
        if rel in staged:
            fo, st_after = staged[rel]
            new_index[rel] = idx.Entry.from_stat(fo.cid, st_after)
        elif index[rel].status == idx.UNLOCKED:
            new_index[rel] = idx.Entry(index[rel].cid, st.st_size, st.st_mtime_ns, st.st_ino, idx.ADDED)
        else:
            new_index[rel] = index[rel]
    if new_index != loaded or not (ctx.layout.index_dir(et, name) / "INDEX.yaml").exists():
        ctx.store.save_staged(et, name, new_index)
    new_body = body
    if values is not None:
        new_body = specs.with_changes(new_body, metrics=values)
    if bumpversion:
        bumped = bumped_version(ctx, et, name, new_body, {rel: e.cid for rel, e in new_index.items()})
        if bumped != new_body["version"]:
            new_body = specs.with_changes(new_body, version=bumped)
    if new_body is not body:
        specs.save(specs.spec_file(path, name), et, new_body)
    return version_result(et, name, new_body, path, new_index, tag=None, sha=None)


def metric_values(
    et: str,
    name: str,
    metrics: Mapping[str, Any] | None,
    metrics_file: str | os.PathLike[str] | None,
) -> dict[str, float] | None:
    if not metrics and metrics_file is None:
        return None
    if et != "models":
        raise InvalidName(f"metrics: only models carry metrics, found {et} {name}")
    values = {str(k): to_metric(str(k), v, "--metric") for k, v in (metrics or {}).items()}
    if metrics_file is not None:
        if not str(metrics_file).strip():
            raise SpecError("--metrics-file: expected a path to a CSV file, found an empty value")
        values.update(read_metrics_file(Path(metrics_file)))
    return values


def bumped_version(ctx: Context, et: str, name: str, body: dict[str, Any], staged: mf.Manifest) -> int:
    """``--bumpversion``, safe to retry: the spec's version is bumped only when a tag already
    holds it with other content; a version not tagged yet (a bump whose commit never ran), or
    tagged with exactly this content (a retried add after its commit), is kept."""
    version = int(body["version"])
    md = ctx.metadata(et)
    tag = make_tag([str(c) for c in body["categories"]], name, version)
    if not md.exists or not md.has_tag(tag):
        return version
    old_body, old_manifest, _, _ = ctx.store.read_version(et, tag, name)
    if old_manifest == staged and (old_body.get("metrics") or {}) == (body.get("metrics") or {}):
        return version
    return max(version + 1, ctx.store.next_version(et, name))
