"""The lineage graph: a version and every dataset/labels version it was linked to, recursively."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import gitsafe
from .errors import (
    LinkMismatch,
    MetadataError,
    MLGitError,
    TagMoved,
    UnsafeMetadata,
    UnsafePath,
    UnsafeRemote,
)
from .names import parse_tag
from .results import Lineage, LineageNode, Link

if TYPE_CHECKING:
    from .metadata import MetadataRepo

log = logging.getLogger(__name__)


def walk_lineage(
    root: LineageNode,
    node: Callable[[str, str], LineageNode],
    verify: Callable[[str, Link, str], object] | None = None,
) -> Lineage:
    """Breadth-first from ``root``; ``node(entity_type, tag)`` reads one version's spec. A link to a
    version that cannot be read (no access to that metadata repository) stays in the graph, bare; a
    link whose recorded sha is not its tag's commit goes to ``verify(entity_type, link, owner)``."""
    upstream: list[LineageNode] = []
    seen = {root.tag}
    queue = [root]
    while queue:
        current = queue.pop(0)
        for kind, link in (("datasets", current.dataset), ("labels", current.labels)):
            if link is None or link.tag in seen:
                continue
            seen.add(link.tag)
            try:
                up = node(kind, link.tag)
            except (TagMoved, LinkMismatch, UnsafeMetadata, UnsafePath, UnsafeRemote):
                raise  # an attack or a rewrite, not a missing permission: never shown as a lineage
            except MLGitError as exc:
                log.info("lineage: %s %s not readable: %s", kind, link.tag, exc)
                parsed = parse_tag(link.tag)
                up = LineageNode(
                    kind, parsed[1] if parsed else link.tag, link.tag, link.sha, parsed[2] if parsed else 0
                )
            else:
                if up.sha != link.sha and verify is not None:
                    verify(kind, link, f"{current.entity_type} {current.tag}")
            upstream.append(up)
            queue.append(up)
    return Lineage(root, upstream)


def verify_link(md: MetadataRepo, link: Link, owner: str) -> str:
    """The commit of ``link.tag``, which must be ``link.sha``; LinkMismatch (naming both) otherwise.

    One difference is accepted: ``link.sha`` is a commit this repository holds whose entity folder is the
    same tree as at the tag (a commit replayed by a rejected push: the same version, another commit)."""
    actual = md.tag_sha(link.tag)
    if actual == link.sha:
        return actual
    parsed = parse_tag(link.tag)
    spec = md.find_spec(parsed[1], link.tag) if parsed else None
    if spec is not None and gitsafe.same_folder(md.git, link.sha, actual, spec.rsplit("/", 1)[0]):
        return actual
    raise LinkMismatch(
        f"{owner} records {md.entity_type} {link.tag} at commit {link.sha}, but that tag points at commit "
        f"{actual} in {md.path}; a version tag never moves, so the link is not followed "
        "(the tag was rewritten on the remote, or the link was recorded elsewhere)"
    )


def warn_if_unpushed(md: MetadataRepo, link: Link) -> None:
    """A link to a version not yet on the remote's branch: its sha changes if its push is replayed (another
    worker pushed first), and only this workspace can then tell the two commits are the same version."""
    if not md.exists or not md.remote_url():
        return
    try:
        md.git("merge-base", "--is-ancestor", link.sha, f"refs/remotes/origin/{md.branch}")
    except MetadataError:
        log.warning(
            "link to %s %s (%s): that version is not pushed yet; push it first, or the recorded sha may not "
            "be the one others see if its push is replayed",
            md.entity_type,
            link.tag,
            link.sha[:12],
        )


def tree_lines(lineage: Lineage) -> list[str]:
    """The graph as a tree: each version's dataset and labels indented under it (a labels' dataset
    under the labels). A version linked twice is shown again, its own links not repeated."""
    by_tag = {n.tag: n for n in [lineage.root, *lineage.upstream]}

    def label(n: LineageNode) -> str:
        metrics = ", ".join(f"{k}={v:g}" for k, v in sorted(n.metrics.items()))
        return f"{n.entity_type} {n.tag} ({n.sha[:12]})" + (f"  metrics: {metrics}" if metrics else "")

    lines = [label(lineage.root)]
    shown: set[str] = {lineage.root.tag}

    def children(n: LineageNode, prefix: str) -> None:
        links = [link for link in (n.dataset, n.labels) if link is not None]
        for i, link in enumerate(links):
            last = i == len(links) - 1
            child = by_tag.get(link.tag)
            text = label(child) if child else f"{link.tag} ({link.sha[:12]})"
            lines.append(prefix + ("`-- " if last else "|-- ") + text)
            if child is not None and child.tag not in shown:
                shown.add(child.tag)
                children(child, prefix + ("    " if last else "|   "))

    children(lineage.root, "")
    return lines
