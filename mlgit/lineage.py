"""The lineage graph: a version and every dataset/labels version it was linked to, recursively."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .errors import MLGitError
from .names import parse_tag
from .results import Lineage, LineageNode

log = logging.getLogger(__name__)


def walk_lineage(root: LineageNode, node: Callable[[str, str], LineageNode]) -> Lineage:
    """Breadth-first from ``root``; ``node(entity_type, tag)`` reads one version's spec. A link to a
    version that cannot be read (no access to that metadata repository) stays in the graph, bare."""
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
            except MLGitError as exc:
                log.info("lineage: %s %s not readable: %s", kind, link.tag, exc)
                parsed = parse_tag(link.tag)
                up = LineageNode(
                    kind, parsed[1] if parsed else link.tag, link.tag, link.sha, parsed[2] if parsed else 0
                )
            upstream.append(up)
            queue.append(up)
    return Lineage(root, upstream)


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
