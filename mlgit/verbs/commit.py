"""``<type> commit NAME``: version what is staged (spec + manifest committed and tagged in the metadata repository)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import manifest as mf
from .. import sampling
from .. import spec as specs
from ..errors import (
    EntityNotFound,
    InvalidName,
    MutabilityError,
    NothingToCommit,
    SpecError,
    VersionConflict,
)
from ..lineage import warn_if_unpushed
from ..names import check_name, link_type, make_tag, parse_tag, singular
from ..results import (
    Link,
    LinkArg,
    VersionResult,
    version_result,
)
from ..safety import disk_errors
from ..workspace import IGNORE_FILE, README
from ..yamlio import MAX_SMALL, read_bounded

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


def resolve_link(ctx: Context, kind: str, ref: LinkArg) -> Link | None:
    if ref is None or ref == "":
        return None
    if isinstance(ref, Link):
        return ref
    if isinstance(ref, Mapping):
        try:
            return Link(str(ref["tag"]), str(ref["sha"]))
        except KeyError:
            raise InvalidName(
                f"--{kind}: expected a mapping with 'tag' and 'sha', found {dict(ref)!r}"
            ) from None
    ref = str(ref)
    et = link_type(kind)
    if parse_tag(ref) is not None:
        md = ctx.metadata(et)
        if not md.has_tag(ref):
            md.fetch()
        return Link(ref, md.tag_sha(ref))
    check_name(ref, f"--{kind}")
    head = ctx.store.head(et, ref)
    if head is None:
        raise EntityNotFound(
            f"--{kind}={ref}: expected a checked-out {singular(et)} {ref!r} in this workspace "
            f"(run ml-git {et} checkout {ref}) or a tag such as cat__{ref}__1; found none"
        )
    return Link(*head)


@disk_errors("commit")
def commit(
    ctx: Context,
    et: str,
    name: str,
    message: str | None = None,
    version: int | None = None,
    dataset: LinkArg = None,
    labels: LinkArg = None,
    auto_bump: bool = False,
) -> VersionResult:
    path, body = ctx.store.load(et, name)
    ctx.store.refuse_symlinked(et, name)  # HEAD is written after the metadata commit: looked at first
    ctx.store.refuse_if_unfinished(et, name, "commit")
    sampling.refuse_if_sampled(ctx.layout.index_dir(et, name), et, name, "commit")
    index, staged = ctx.store.staged(et, name)
    if not (ctx.layout.index_dir(et, name) / "MANIFEST.yaml").exists():
        raise NothingToCommit(
            f'Nothing to commit (create/add files and use "ml-git {et} add" command to track them): '
            f"{et} {name} has nothing staged"
        )
    if version is not None:
        if isinstance(version, bool) or int(version) < 1:
            raise SpecError(f"--version: expected a positive integer, found {version!r}")
        body = specs.with_changes(body, version=int(version))
    links = {
        "dataset": resolve_link(ctx, "dataset", dataset),
        "labels": resolve_link(ctx, "labels", labels),
    }
    for kind, link in links.items():
        if link is not None:
            warn_if_unpushed(ctx.metadata(link_type(kind)), link)
    md = ctx.metadata(et)
    previous = md.fetch_tags(name)  # the fetch lists the tags: no git process more
    known = set(previous)
    folder = path.relative_to(ctx.root / et).as_posix()
    if previous:
        before = ctx.store.version_spec(et, previous[-1], name, folder).get("mutability", "strict")
        if before != body.get("mutability", "strict"):
            raise MutabilityError(
                f"{et} {name}: mutability cannot change between versions "
                f"(was {before} in {previous[-1]}, found {body.get('mutability')} in the spec)"
            )
    size = sum(e.size for e in index.values())
    while True:
        cats, _, ver = specs.tag_parts(body)
        tag = make_tag(cats, name, ver)
        new_body = specs.with_changes(
            body,
            manifest={
                **body["manifest"],
                "files": "MANIFEST.yaml",
                "size": specs.natural_size(size),
                "amount": len(staged),
            },
            **{k: {"tag": v.tag, "sha": v.sha} for k, v in links.items() if v is not None},
        )
        if tag not in known:  # the tags were just fetched: no git process per candidate
            break
        old_body, old_manifest, _, sha = ctx.store.read_version(et, tag, name)
        if old_manifest == staged and _same_version(old_body, new_body):
            ctx.store.set_head(et, name, tag, sha)
            return version_result(et, name, old_body, path, index, tag, sha, created=False)
        if not auto_bump:
            raise VersionConflict(
                f"{et} {name}: version {ver} is already tagged {tag} with other content; "
                f"use add --bumpversion or commit --version={ctx.store.next_version(et, name)}"
            )
        body = specs.with_changes(body, version=ctx.store.next_version(et, name))
    files = {f"{name}.spec": specs.dumps(et, new_body), "MANIFEST.yaml": mf.dumps(staged)}
    for extra in (README, IGNORE_FILE):  # ML-Git versions .mlgitignore with the spec
        if (path / extra).is_file():
            label = "README" if extra == README else extra
            files[extra] = read_bounded(path / extra, label, SpecError, MAX_SMALL)
    msg = message or "/".join([*cats, name])
    sha = md.commit_entity(folder, files, msg, tag)
    if new_body["version"] != specs.load(specs.spec_file(path, name), et, name)["version"]:
        specs.save(specs.spec_file(path, name), et, specs.with_changes(body, version=new_body["version"]))
    ctx.store.set_head(et, name, tag, sha)
    return version_result(et, name, new_body, path, index, tag, sha)


def _same_version(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("version", "metrics", "dataset", "labels", "categories", "mutability")
    return all(a.get(k) == b.get(k) for k in keys)
