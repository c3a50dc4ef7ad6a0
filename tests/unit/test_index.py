"""mlgit.index: the staging index (JSON, a YAML subset), its stat shortcut and its checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit import index as ix
from mlgit.cid import cid_of
from mlgit.errors import ManifestError, UnsafePath

from .strategies import UNIT, cids, relpaths

A = cid_of(b"a")
entries = st.builds(
    ix.Entry,
    cids,
    st.integers(0, 1 << 40),
    st.integers(0, 1 << 62),
    st.integers(0, 1 << 40),
    st.sampled_from([ix.ADDED, ix.UNLOCKED, ix.BARE]),
)


@UNIT
@given(st.dictionaries(relpaths, entries, max_size=10))
def test_round_trip(tmp_path: Path, index: dict[str, ix.Entry]) -> None:
    path = tmp_path / "INDEX.yaml"
    ix.save(path, index)
    assert ix.load(path) == index
    assert [p.name for p in tmp_path.iterdir()] == ["INDEX.yaml"]  # no temp file left beside it


def test_written_as_json_and_read_as_yaml_too(tmp_path: Path) -> None:
    path = tmp_path / "INDEX.yaml"
    ix.save(path, {"a.txt": ix.Entry(A, 1, 2, 3)})
    assert json.loads(path.read_bytes()) == {
        "a.txt": {"hash": A, "size": 1, "mtime_ns": 2, "ino": 3, "status": "a"}
    }
    path.write_text(f"a.txt:\n  hash: {A}\n  size: 1\n  mtime_ns: 2\n  ino: 3\n")  # hand-written YAML
    assert ix.load(path) == {"a.txt": ix.Entry(A, 1, 2, 3, ix.ADDED)}


def test_absent_or_empty_is_empty(tmp_path: Path) -> None:
    assert ix.load(tmp_path / "none") == {}
    (tmp_path / "empty").write_text("")
    assert ix.load(tmp_path / "empty") == {}


@pytest.mark.parametrize(
    ("doc", "error", "says"),
    [
        ('{"a.txt": {"hash": "x", "size": 1, "mtime_ns": 2, "ino": 3}}', ManifestError, "no valid CID"),
        ('{"a.txt": {"size": 1}}', ManifestError, "'a.txt' is malformed"),
        (
            f'{{"a.txt": {{"hash": "{A}", "size": "big", "mtime_ns": 2, "ino": 3}}}}',
            ManifestError,
            "malformed",
        ),
        (f'{{"../x": {{"hash": "{A}", "size": 1, "mtime_ns": 2, "ino": 3}}}}', UnsafePath, "escapes"),
        ("[1, 2]", ManifestError, "expected a mapping"),
        ("a: [unclosed", ManifestError, "malformed YAML"),
    ],
)
def test_bad_index_names_the_file(tmp_path: Path, doc: str, error: type[Exception], says: str) -> None:
    path = tmp_path / "INDEX.yaml"
    path.write_text(doc)
    with pytest.raises(error, match=says) as info:
        ix.load(path)
    assert str(path) in str(info.value)


def test_stat_shortcut_sees_size_mtime_and_inode(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"one")
    entry = ix.Entry.from_stat(A, os.stat(f))
    assert ix.matches_file(f, entry)
    os.utime(f, ns=(1, entry.mtime_ns + 1))
    assert not ix.matches_file(f, entry)
    entry = ix.Entry.from_stat(A, os.stat(f))
    os.chmod(f, 0o444)  # ctime changes, and is left out on purpose
    assert ix.matches_file(f, entry)
    f.unlink()
    f.write_bytes(b"one")  # same size, maybe same mtime: another inode
    os.utime(f, ns=(1, entry.mtime_ns))
    assert ix.matches_file(f, entry) == (os.stat(f).st_ino == entry.ino)
    f.unlink()
    assert not ix.matches_file(f, entry)
