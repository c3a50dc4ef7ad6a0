"""``<type> push NAME``: upload the data of every unpushed version, then push the metadata."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import manifest as mf
from ..errors import (
    MetadataError,
    NothingToCommit,
    VersionConflict,
)
from ..names import tag_name
from ..objects import LocalObjects
from ..results import (
    VersionResult,
    link_of,
    version_result,
)
from ..transfer import Progress, upload
from .commit import commit

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


def push(
    ctx: Context,
    et: str,
    name: str,
    progress: Progress | None = None,
    fail_limit: int | None = None,
    auto_bump: bool = False,
) -> VersionResult:
    """Upload the data of every unpushed version on the branch, then push the metadata.

    When another worker pushed the same version number first, our commit of it is taken off
    the branch and ``VersionConflict`` is raised; with ``auto_bump`` the staged data is
    committed again under the next free version (same message, links and metrics) and pushed.
    """
    for _attempt in range(20):
        head = ctx.store.head(et, name)
        if head is None:
            return _push_once(ctx, et, name, progress, fail_limit)  # raises NothingToCommit
        try:
            return _push_once(ctx, et, name, progress, fail_limit)
        except VersionConflict as exc:
            if head[0] not in exc.tags:
                raise
            ctx.store.clear_head(et, name)  # our version is not a version: nothing is checked out
            if not auto_bump:
                raise
            # our commit is off the branch, its tag gone; the commit itself is still readable by sha
            body = ctx.store.read_commit(et, head[1], name, head[0])[0]
            message = ctx.metadata(et).git("log", "-1", "--format=%B", head[1])
            log.info(
                "%s %s: %s was taken by another worker; committing the next free version",
                et,
                name,
                head[0],
            )
            commit(
                ctx,
                et,
                name,
                message=message,
                dataset=link_of(body.get("dataset")),
                labels=link_of(body.get("labels")),
                auto_bump=True,
            )
    raise VersionConflict(f"{et} {name}: no free version found after 20 attempts")


def _push_once(
    ctx: Context, et: str, name: str, progress: Progress | None, fail_limit: int | None
) -> VersionResult:
    path, body = ctx.store.load(et, name)
    md = ctx.metadata(et)
    head = ctx.store.head(et, name)
    if head is None:
        raise NothingToCommit(
            f"{et} {name}: no committed version to push; run ml-git {et} commit {name} first"
        )
    if not md.remote_url():
        raise MetadataError(
            f"Remote URL not found. {et}: no metadata remote to push to; "
            f"run: ml-git repository remote {et} add URL"
        )
    # every unpushed version on the branch becomes visible with this push: send all their data
    tags = md.unpushed_tags()
    objects = ctx.layout.objects(et)
    source = LocalObjects(objects, ctx.layout.cache(et))
    uploaded = skipped = 0
    manifest: mf.Manifest = {}
    for tag in tags:
        vbody, manifest, _, _ = ctx.store.read_version(et, tag, tag_name(tag))
        keys: set[str] = set()
        for cid in set(manifest.values()):
            keys.add(cid)
            if objects.exists(cid):  # absent after a --bare checkout: then the storage must have it
                keys.update(source.register(cid))
        storage = ctx.storage(vbody["manifest"]["storage"])
        try:
            report = upload(
                storage,
                source,
                keys,
                threads=int(ctx.config["push_threads_count"]),
                progress=progress,
                fail_limit=fail_limit,
            )
        finally:
            storage.close()
        uploaded += len(report.done)
        skipped += report.skipped
    if tags:
        md.push(tags)
    tag = head[0]
    vbody, manifest, _, sha = ctx.store.read_version(et, tag, name)
    ctx.store.set_head(et, name, tag, sha)
    index, _ = ctx.store.staged(et, name)
    return version_result(
        et,
        name,
        vbody,
        path,
        manifest,
        tag,
        sha,
        created=bool(tags),
        uploaded=uploaded,
        skipped=skipped,
        size=sum(e.size for e in index.values()),
    )
