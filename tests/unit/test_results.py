"""mlgit.results: typed results whose to_dict() is plain JSON (XCom, Prefect results)."""

from __future__ import annotations

import json

from mlgit.results import FsckResult, Lineage, LineageNode, Link, StatusResult, VersionResult


def test_to_dict_is_plain_json() -> None:
    link = Link("c__d__1", "a" * 40)
    v = VersionResult("models", "m", 2, "c__m__2", "b" * 40, "models/m", 3, 10, {"acc": 0.5}, dataset=link)
    d = v.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["dataset"] == {"tag": "c__d__1", "sha": "a" * 40} and d["labels"] is None
    assert d["created"] is True and d["uploaded"] == 0
    node = LineageNode("models", "m", "c__m__2", "b" * 40, 2, dataset=link)
    lineage = Lineage(node, [LineageNode("datasets", "d", "c__d__1", "a" * 40, 1)])
    ld = lineage.to_dict()
    assert json.loads(json.dumps(ld)) == ld and ld["upstream"][0]["name"] == "d"


def test_status_clean() -> None:
    assert StatusResult("datasets", "d").clean
    for field in ("new", "modified", "deleted", "untracked", "corrupted", "missing"):
        assert not StatusResult("datasets", "d", **{field: ["x"]}).clean, field


def test_fsck_total() -> None:
    r = FsckResult("datasets", 9, ["a"], ["b", "c"], ["d"], [], ["a"])
    assert r.total == 4
    assert FsckResult("datasets", 9, [], [], [], [], []).total == 0
