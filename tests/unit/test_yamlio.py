"""mlgit.yamlio: the one YAML owner: no anchors or aliases, bounded reads of regular files only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit import yamlio
from mlgit.errors import ConfigError, ManifestError, UnsafePath

from .strategies import UNIT

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@UNIT
@given(documents)
def test_round_trip(doc: object) -> None:
    assert yamlio.loads(yamlio.dumps(doc)) == doc
    assert yamlio.loads(yamlio.dumps(doc).encode()) == doc


def test_shared_objects_are_written_twice_not_aliased() -> None:
    shared = {"k": [1, 2]}
    text = yamlio.dumps({"a": shared, "b": shared})
    assert "&" not in text and "*" not in text
    assert yamlio.loads(text) == {"a": shared, "b": shared}


@pytest.mark.parametrize(
    "doc",
    [
        "a: &x [1]\nb: *x\n",
        b"a: &anchor 1\n",
        'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n',
    ],
)
def test_anchors_and_aliases_are_refused(doc: str | bytes) -> None:
    with pytest.raises(yamlio.AliasRefused, match="anchors or aliases"):
        yamlio.loads(doc)


def test_ampersand_and_star_in_plain_text_are_fine() -> None:
    assert yamlio.loads("a: 'x & y'\nb: '*.txt'\nc: R&D\n") == {"a": "x & y", "b": "*.txt", "c": "R&D"}


def test_read_bounded(tmp_path: Path) -> None:
    f = tmp_path / "f.yaml"
    f.write_bytes(b"x" * 100)
    assert yamlio.read_bounded(f, "spec", limit=100) == b"x" * 100
    with pytest.raises(ConfigError, match="100 bytes; expected at most 99"):
        yamlio.read_bounded(f, "spec", ConfigError, limit=99)
    with pytest.raises(FileNotFoundError):
        yamlio.read_bounded(tmp_path / "absent", "spec")
    (tmp_path / "link").symlink_to(f)
    with pytest.raises(UnsafePath, match="symlink"):
        yamlio.read_bounded(tmp_path / "link", "spec")
    with pytest.raises(UnsafePath, match="folder"):
        yamlio.read_bounded(tmp_path, "spec")
    os.mkfifo(tmp_path / "fifo")  # would block a plain open() forever
    with pytest.raises(UnsafePath, match="fifo"):
        yamlio.read_bounded(tmp_path / "fifo", "spec")
    with pytest.raises(UnsafePath, match="character device"):
        yamlio.read_bounded(Path("/dev/zero"), "spec")


def test_load_file_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "config.yaml"
    f.write_text("a: [unclosed\n")
    with pytest.raises(ConfigError, match=f"config {f}: malformed YAML"):
        yamlio.load_file(f, "config", ConfigError)
    with pytest.raises(ManifestError, match="is missing"):
        yamlio.load_file(tmp_path / "absent", "manifest")
    f.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="malformed"):
        yamlio.load_file(f, "config", ConfigError)
