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
