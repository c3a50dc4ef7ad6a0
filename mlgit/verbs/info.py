"""Reading verbs: ``list``, ``tag list``, ``branch``, ``show``, ``log``, ``metrics``, lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import (
    EntityNotFound,
    MetadataError,
)
from ..lineage import verify_link, walk_lineage
from ..names import check_name, parse_tag
from ..results import (
    Lineage,
    LineageNode,
    link_of,
)

if TYPE_CHECKING:
    from ..context import Context


def entities(ctx: Context, et: str) -> list[str]:
    """Folders (relative to the type folder) of every entity in the metadata repository."""
    md = ctx.metadata(et)
    return sorted(
        p.rsplit("/", 1)[0]
        for p in md.files()
        if p.endswith(".spec") and p.rsplit("/", 1)[-1][:-5] == p.rsplit("/", 1)[0].rsplit("/", 1)[-1]
    )


def tags(ctx: Context, et: str, name: str, fetch: bool = False) -> list[str]:
    """Version tags of ``name``, oldest first. ``fetch``: the versions on the remote only (fetched,
    so they can be read; the branch and the workspace do not move, unlike ``update``)."""
    check_name(name)
    md = ctx.metadata(et)
    if fetch and md.remote_url():
        with ctx.workspace_lock.hold("fetch"):
            md.fetch()
        remote = md.remote_tags()
        return [t for t in md.tags(name) if t in remote]
    return md.tags(name)


def branch(ctx: Context, et: str, name: str) -> tuple[str, str] | None:
    check_name(name)
    return ctx.store.head(et, name)


def show(ctx: Context, et: str, name: str) -> dict[str, Any]:
    check_name(name)
    head = ctx.store.head(et, name)
    tags = ctx.metadata(et).tags(name)
    ref = head[0] if head else (tags[-1] if tags else None)
    if ref is not None:
        return ctx.store.read_version(et, ref, name)[0]
    return ctx.store.load(et, name)[1]


def log(ctx: Context, et: str, name: str) -> str:
    check_name(name)
    md = ctx.metadata(et)
    spec_path = md.find_spec(name)
    if spec_path is None:
        raise EntityNotFound(f"{et} {name}: not in the metadata repository {md.path}")
    return md.log(spec_path.rsplit("/", 1)[0])


def metrics(ctx: Context, et: str, name: str) -> dict[str, dict[str, float]]:
    versions = tags(ctx, et, name)
    if not versions:
        raise EntityNotFound(f"{et} {name}: no version in the metadata repository {ctx.metadata(et).path}")
    return {
        t: {k: float(v) for k, v in (ctx.store.read_version(et, t, name)[0].get("metrics") or {}).items()}
        for t in versions
    }


def lineage(ctx: Context, et: str, ref: str) -> Lineage:
    """A version and every dataset/labels version it was linked to, recursively."""
    if parse_tag(str(ref)) is None:
        head = ctx.store.head(et, str(ref))
        tag = head[0] if head else ctx.store.resolve_ref(et, str(ref), None)[0]
    else:
        tag = str(ref)
    return walk_lineage(
        node(ctx, et, tag),
        lambda kind, tag_: node(ctx, kind, tag_),
        lambda kind, link, owner: verify_link(ctx.metadata(kind), link, owner),
    )


def node(ctx: Context, et: str, tag: str) -> LineageNode:
    """One version in a lineage graph (fetched first when the clone lacks its tag)."""
    md = ctx.metadata(et)
    if not md.exists:
        raise MetadataError(f"{et} metadata repository not initialized (run ml-git {et} init)")
    if not md.has_tag(tag):
        md.fetch()
    body, _, _, sha = ctx.store.read_version(et, tag)
    return LineageNode(
        et,
        str(body["name"]),
        tag,
        sha,
        int(body["version"]),
        {k: float(v) for k, v in (body.get("metrics") or {}).items()},
        link_of(body.get("dataset")),
        link_of(body.get("labels")),
    )
