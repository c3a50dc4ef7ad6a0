"""``repository graph``: every version linked to the dataset/labels versions it came from, as DOT."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config as cfg
from ..names import parse_tag
from ..objects import atomic_write

if TYPE_CHECKING:
    from ..repository import Repository


def edges(repo: Repository) -> list[tuple[str, str]]:
    """(version tag, tag it links to) for every version of every initialized type."""
    out: list[tuple[str, str]] = []
    for et in cfg.ENTITY_TYPES:
        md = repo.metadata(et)
        if not md.exists:
            continue
        for tag in md.tags():
            parsed = parse_tag(tag)
            if parsed is None:
                continue
            body = repo._read_version(et, tag, parsed[1])[0]
            for key in ("dataset", "labels"):
                link = body.get(key)
                if isinstance(link, dict) and link.get("tag"):
                    out.append((tag, str(link["tag"])))
    return out


def graph_dot(repo: Repository) -> str | None:
    pairs = edges(repo)
    if not pairs:
        return None
    lines = ["digraph {"]
    lines += [f'\t"{src}" -> "{dst}"' for src, dst in pairs]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(dot: str, folder: Path, html_page: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not html_page:
        path = folder / "entities_relationships.dot"
        atomic_write(path, dot.encode())
        return path
    path = folder / "entities_relationships.html"
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>ML-Git entities relationships</title>"
        f"</head><body><pre>{html.escape(dot)}</pre></body></html>\n"
    )
    atomic_write(path, page.encode())
    return path
