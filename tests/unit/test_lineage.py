"""mlgit.lineage: the lineage graph, breadth first, never following a rewritten link."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgit.errors import EntityNotFound, LinkMismatch, TagMoved
from mlgit.lineage import verify_link, walk_lineage
from mlgit.metadata import MetadataRepo
from mlgit.results import LineageNode, Link

D1, L1, M1 = "c__d__1", "c__l__1", "c__m__1"


def _node(et: str, tag: str, dataset: str | None = None, labels: str | None = None) -> LineageNode:
    name, version = tag.split("__")[1], int(tag.split("__")[2])
    return LineageNode(
        et,
        name,
        tag,
        f"sha-{tag}",
        version,
        dataset=Link(dataset, f"sha-{dataset}") if dataset else None,
        labels=Link(labels, f"sha-{labels}") if labels else None,
    )


GRAPH = {
    ("datasets", D1): _node("datasets", D1),
    ("labels", L1): _node("labels", L1, dataset=D1),
}


def test_breadth_first_each_version_once() -> None:
    reads: list[tuple[str, str]] = []

    def read(et: str, tag: str) -> LineageNode:
        reads.append((et, tag))
        return GRAPH[(et, tag)]

    lineage = walk_lineage(_node("models", M1, dataset=D1, labels=L1), read)
    assert [n.tag for n in lineage.upstream] == [D1, L1]
    assert reads == [("datasets", D1), ("labels", L1)]  # D1 reached twice, read once


def test_an_unreadable_version_stays_bare() -> None:
    def read(et: str, tag: str) -> LineageNode:
        raise EntityNotFound("no access")

    lineage = walk_lineage(_node("models", M1, dataset=D1), read)
    assert lineage.upstream == [LineageNode("datasets", "d", D1, f"sha-{D1}", 1)]


def test_an_attack_is_raised_not_shown() -> None:
    def read(et: str, tag: str) -> LineageNode:
        raise TagMoved("moved", tag=tag)

    with pytest.raises(TagMoved):
        walk_lineage(_node("models", M1, dataset=D1), read)


def test_a_link_to_another_commit_goes_to_verify() -> None:
    seen: list[tuple[str, Link, str]] = []
    moved = {**GRAPH, ("datasets", D1): LineageNode("datasets", "d", D1, "other-sha", 1)}
    walk_lineage(_node("models", M1, dataset=D1), lambda et, t: moved[(et, t)], lambda *a: seen.append(a))
    assert seen == [("datasets", Link(D1, f"sha-{D1}"), f"models {M1}")]


def test_verify_link(tmp_path: Path) -> None:
    md = MetadataRepo(tmp_path / "ws" / ".ml-git" / "datasets" / "metadata", "datasets")
    md.init("")
    sha = md.commit_entity("c/d", {"d.spec": b"1"}, "d1", D1)
    other = md.commit_entity("c/e", {"e.spec": b"1"}, "e1", "c__e__1")  # d's folder unchanged
    assert verify_link(md, Link(D1, sha), "models m") == sha
    assert verify_link(md, Link(D1, other), "models m") == sha  # a replayed commit of the same version
    changed = md.commit_entity("c/d", {"d.spec": b"2"}, "d2", "c__d__2")
    with pytest.raises(LinkMismatch, match=f"models m records datasets {D1} at commit {changed}"):
        verify_link(md, Link(D1, changed), "models m")
