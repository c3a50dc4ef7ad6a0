"""Every CID ML-Git 2.9.9 computed for known bytes, reproduced."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from helpers import VECTORS as VECTORS_FILE

from mlgit.cid import cid_of, hash_file, is_cid, parse_descriptor
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
