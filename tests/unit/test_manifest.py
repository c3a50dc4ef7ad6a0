"""mlgit.manifest: ML-Git's MANIFEST.yaml (CID -> !!set of paths), read and written byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlgit import manifest as mf
from mlgit import yamlio
from mlgit.cid import cid_of
from mlgit.errors import ManifestError, UnsafePath

from .conftest import FIXTURE
from .strategies import UNIT, cids, relpaths

EXPECTED = yaml.safe_load((FIXTURE / "expected.yaml").read_text())["tags"]
A, B = cid_of(b"a"), cid_of(b"b")


def _manifests(written: dict[str, dict[str, bytes]]) -> dict[str, bytes]:
    return {
        tag: data
        for tag, files in written.items()
        for p, data in files.items()
        if p.endswith("MANIFEST.yaml")
    }


def test_mlgit_manifests_read_back_byte_for_byte(mlgit_written: dict[str, dict[str, bytes]]) -> None:
    manifests = _manifests(mlgit_written)
    assert sorted(manifests) == sorted(EXPECTED)
    for tag, data in manifests.items():
        parsed = mf.parse(data, tag)
        assert sorted(parsed) == sorted(EXPECTED[tag]), tag
        assert mf.dumps(parsed) == data, tag  # what ML-Git wrote, we write


def test_duplicate_content_is_one_key_with_two_paths(mlgit_written: dict[str, dict[str, bytes]]) -> None:
    parsed = mf.parse(_manifests(mlgit_written)["vision__wildlife__birds__1"], "birds 1")
    assert parsed["data/a/same.txt"] == parsed["data/b/same.txt"]
    assert parsed["data/a/same.txt"] != parsed["data/hello.txt"]


def test_plain_reader_and_yaml_reader_agree(mlgit_written: dict[str, dict[str, bytes]]) -> None:
    for tag, data in _manifests(mlgit_written).items():
        assert mf._parse_plain(data.decode()) is not None, tag  # ML-Git's layout takes the fast path
        assert mf.parse(data, tag) == mf._validated(yamlio.loads(data), tag)


@UNIT
@given(st.dictionaries(relpaths, cids, max_size=12))
def test_round_trip(manifest: dict[str, str]) -> None:
    data = mf.dumps(manifest)
    assert mf.parse(data, "m") == manifest
    assert mf.dumps(mf.parse(data, "m")) == data  # stable: a second write changes nothing


@UNIT
@given(
    st.dictionaries(
        st.from_regex(r"[a-z0-9_]{1,8}(/[a-z0-9_]{1,8}){0,2}\.txt", fullmatch=True), cids, max_size=8
    )
)
def test_plain_paths_are_written_in_mlgits_layout(manifest: dict[str, str]) -> None:
    text = mf.dumps(manifest).decode()
    assert mf._parse_plain(text) is not None or not manifest
    assert yaml.safe_load(text) == (
        {c: set(p for p, k in manifest.items() if k == c) for c in set(manifest.values())} or {}
    )


def test_quoted_paths_go_through_yaml() -> None:
    manifest = {"a b/ c.txt": A, "ab: c.txt": A, "#hash": B, "é.txt": B, "true": B}
    data = mf.dumps(manifest)
    assert mf._parse_plain(data.decode()) is None
    assert mf.parse(data, "m") == manifest


def test_empty(tmp_path: Path) -> None:
    assert mf.dumps({}) == b"{}\n"
    assert mf.parse(b"{}\n", "m") == {}
    assert mf.parse(b"", "m") == {}
    assert mf.load(tmp_path / "absent.yaml") == {}


@pytest.mark.parametrize(
    ("text", "error", "says"),
    [
        ("notacid: !!set\n  a.txt: null\n", ManifestError, "expected a CID key"),
        (f"{A}: !!set\n  a.txt: null\n{B}: !!set\n  a.txt: null\n", ManifestError, "listed under two keys"),
        (f"{A}: !!set\n  ../escape: null\n", UnsafePath, "escapes"),
        (f"{A}: !!set\n  /etc/passwd: null\n", UnsafePath, "absolute"),
        (f"{A}: 3\n", ManifestError, "expected a set of paths"),
        ("- a\n- b\n", ManifestError, "expected a mapping"),
        (f"{A}: [unclosed\n", ManifestError, "malformed YAML"),
        (f"{A}: &x !!set\n  a.txt: null\n{B}: *x\n", ManifestError, "malformed YAML"),
    ],
)
def test_bad_manifests_are_one_error_naming_the_file(text: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says) as info:
        mf.parse(text.encode(), "the/MANIFEST.yaml")
    assert "the/MANIFEST.yaml" in str(info.value)


def test_load_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "MANIFEST.yaml"
    path.write_bytes(mf.dumps({"a.txt": A, "b.txt": A, "c.txt": B}))
    assert mf.load(path) == {"a.txt": A, "b.txt": A, "c.txt": B}
    (tmp_path / "link.yaml").symlink_to(path)
    with pytest.raises(UnsafePath, match="symlink"):
        mf.load(tmp_path / "link.yaml")


@pytest.mark.parametrize("name", ["0", "true", "1.5", "null", "yes"])
def test_yaml_readers_read_every_written_path_as_a_string(name: str) -> None:
    assert yaml.safe_load(mf.dumps({name: A})) == {A: {name}}
