"""Every CID ML-Git 2.9.9 computed for known bytes, reproduced."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from helpers import VECTORS as VECTORS_FILE

from mlgit.cid import _ALPHABET, cid_of, hash_file, is_cid, parse_descriptor
from mlgit.objects import HashFS

VECTORS = yaml.safe_load(VECTORS_FILE.read_text())["vectors"]


def _content(vector: dict) -> bytes:
    name, size = vector["name"], vector["size"]
    if "seed" in name:
        seed = int(name.rsplit("seed", 1)[1])
        return random.Random(seed).randbytes(size)
    literal = {"empty": b"", "one-byte-a": b"a", "hello-newline": b"hello world\n"}
    if name in literal:
        return literal[name]
    pytest.skip(f"no recipe for vector {name!r}")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vector: dict, tmp_path: Path) -> None:
    data = _content(vector)
    assert len(data) == vector["size"]
    src = tmp_path / "f"
    src.write_bytes(data)
    objs = hash_file(src)
    assert objs.cid == vector["file_cid"]
    assert objs.descriptor.decode() == vector["descriptor"]
    assert list(objs.chunks) == vector["chunks"]
    assert [h for h, _ in parse_descriptor(objs.descriptor)] == vector["chunks"]
    fs = HashFS(tmp_path / "objects")
    assert fs.path(objs.cid).relative_to(tmp_path / "objects").as_posix() == vector["local_path"]


def test_is_cid() -> None:
    assert is_cid(cid_of(b"x"))
    assert not is_cid("zdj7W../../etc/passwd")
    assert not is_cid("")
    assert not is_cid("z" + "1" * 48)


# -- properties and ML-Git's own objects ---------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlgit.cid import descriptor_bytes, require_cid  # noqa: E402
from mlgit.errors import DescriptorError, InvalidKey  # noqa: E402

from .conftest import FIXTURE  # noqa: E402
from .strategies import UNIT, cids  # noqa: E402


def test_every_object_mlgit_pushed_is_keyed_by_its_cid() -> None:
    objects = sorted((FIXTURE / "bucket").iterdir())
    assert len(objects) == 33
    for obj in objects:
        assert cid_of(obj.read_bytes()) == obj.name


def test_mlgits_descriptors_parse_and_serialize_back() -> None:
    descriptors = 0
    for obj in (FIXTURE / "bucket").iterdir():
        data = obj.read_bytes()
        if data.startswith(b'{"Links"'):
            descriptors += 1
            assert descriptor_bytes(parse_descriptor(data)) == data
    assert descriptors >= 10


@UNIT
@given(st.binary(max_size=3000), st.integers(1, 1024))
def test_hash_file_chunks_and_joins_back(tmp_path: Path, data: bytes, block: int) -> None:
    src = tmp_path / "f"
    src.write_bytes(data)
    kept: list[bytes] = []
    objs = hash_file(src, sink=lambda c: kept.append(c.data), block_size=block)
    assert b"".join(kept) == data and objs.size == len(data)
    assert all(len(k) <= block for k in kept) and all(kept)
    assert list(objs.chunks) == [cid_of(k) for k in kept]
    assert parse_descriptor(objs.descriptor) == [(cid_of(k), len(k)) for k in kept]
    assert objs.cid == cid_of(objs.descriptor)


@UNIT
@given(st.lists(st.tuples(cids, st.integers(1, 4 * 256 * 1024)), max_size=6))
def test_descriptor_round_trip(links: list[tuple[str, int]]) -> None:
    assert parse_descriptor(descriptor_bytes(links)) == links


@pytest.mark.parametrize(
    ("data", "error", "says"),
    [
        (b"not json", DescriptorError, "malformed JSON"),
        (b"[]", DescriptorError, "found list"),
        (b'{"Links": [1]}', DescriptorError, "link 0: expected"),
        (
            b'{"Links": [{"Hash": "../../etc/passwd", "Size": 1}]}',
            InvalidKey,
            "link 0: expected an object key",
        ),
        (f'{{"Links": [{{"Hash": "{cid_of(b"x")}", "Size": 0}}]}}'.encode(), DescriptorError, "size of 1.."),
        (
            f'{{"Links": [{{"Hash": "{cid_of(b"x")}", "Size": 1048577}}]}}'.encode(),
            DescriptorError,
            "size of 1..",
        ),
        (
            f'{{"Links": [{{"Hash": "{cid_of(b"x")}", "Size": true}}]}}'.encode(),
            DescriptorError,
            "size of 1..",
        ),
    ],
)
def test_bad_descriptors(data: bytes, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says.replace("(", "\\(")):
        parse_descriptor(data, "descriptor d")


def test_require_cid() -> None:
    key = cid_of(b"k")
    assert require_cid(key, "here") == key
    with pytest.raises(InvalidKey, match="here: expected an object key"):
        require_cid(key + "/x", "here")
    with pytest.raises(InvalidKey, match="found int"):
        require_cid(3, "here")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_cid_matches_agrees_on_the_vectors(vector: dict) -> None:
    from mlgit.cid import cid_matches

    data = _content(vector)
    assert cid_matches(cid_of(data), data)
    assert cid_matches(vector["file_cid"], data) == (cid_of(data) == vector["file_cid"])
    assert not cid_matches(cid_of(data), data + b"\0")


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=2048),
    other=st.binary(max_size=64),
    pos=st.integers(5, 48),
    ch=st.sampled_from(_ALPHABET),
)
def test_cid_matches_is_cid_of_equals(data: bytes, other: bytes, pos: int, ch: str) -> None:
    """``cid_matches(key, data)`` is exactly ``cid_of(data) == key``: for the right key, another file's key,
    the right key with one character changed, and strings that are not CIDs."""
    from mlgit.cid import cid_matches

    key = cid_of(data)
    assert cid_matches(key, data)
    assert cid_matches(cid_of(other), data) == (cid_of(other) == key)
    changed = key[:pos] + ch + key[pos + 1 :]
    assert cid_matches(changed, data) == (changed == key)
    for bad in (
        key[:-1],
        key + "1",
        key.upper(),
        "z" + key[1:].replace("d", "0", 1),
        key.replace("z", "Z", 1),
        "",
    ):
        assert not cid_matches(bad, data)
