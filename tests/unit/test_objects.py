"""mlgit.objects: ML-Git's hashfs layout, atomic writes, stale temp files, cached chunks for a push."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit.cid import cid_of, hash_file
from mlgit.errors import CorruptObject, InvalidKey
from mlgit.objects import (
    TMP_DIR,
    HashFS,
    LocalObjects,
    atomic_write,
    remove_stale_temps,
    temp_folder_for,
    temp_name,
)

from .strategies import UNIT


def test_layout_is_mlgits(tmp_path: Path) -> None:
    fs = HashFS(tmp_path)
    cid = cid_of(b"hello")
    assert fs.put(cid, b"hello") is True
    assert fs.path(cid) == tmp_path / "hashfs" / cid[5:7] / cid[7:9] / cid
    assert fs.path(cid).read_bytes() == b"hello"
    assert fs.put(cid, b"hello") is False  # already there: not written again
    assert list(fs) == [cid]


@UNIT
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_put_get_round_trip(tmp_path: Path, blobs: list[bytes]) -> None:
    fs = HashFS(tmp_path / str(len(list(tmp_path.iterdir()))))
    for blob in blobs:
        fs.put(cid_of(blob), blob)
    for blob in blobs:
        assert fs.get(cid_of(blob)) == blob and fs.exists(cid_of(blob))
    assert sorted(fs) == sorted({cid_of(b) for b in blobs})


def test_a_changed_object_is_corrupt(tmp_path: Path) -> None:
    fs = HashFS(tmp_path)
    cid = cid_of(b"data")
    fs.put(cid, b"data")
    fs.path(cid).write_bytes(b"dat4")
    with pytest.raises(CorruptObject, match=f"object {cid} in {tmp_path} does not match"):
        fs.get(cid)
    assert fs.get(cid, verify=False) == b"dat4"
    fs.remove(cid)
    assert not fs.exists(cid)
    fs.remove(cid)  # absent: no error


@pytest.mark.parametrize("key", ["../../etc/passwd", "zdj7W", "", "zdj7W" + "/" * 44])
def test_a_key_is_never_a_path(tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidKey):
        HashFS(tmp_path).path(key)


def test_temp_files_are_not_objects_and_stale_ones_go(tmp_path: Path) -> None:
    fs = HashFS(tmp_path)
    cid = cid_of(b"x")
    fs.put(cid, b"x")
    folder = fs.path(cid).parent
    pid = os.fork()
    if pid == 0:  # a process that is gone by the time we look
        os._exit(0)
    os.waitpid(pid, 0)
    dead = folder / f".tmp-{pid}-1-{cid}"
    mine = Path(temp_name(folder, cid))
    dead.write_bytes(b"half")
    mine.write_bytes(b"being written")
    assert list(fs) == [cid]
    assert remove_stale_temps(tmp_path) == 1
    assert not dead.exists() and mine.exists() and fs.exists(cid)


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f"
    atomic_write(target, b"one")
    atomic_write(target, b"two", mode=0o444)
    assert target.read_bytes() == b"two" and (target.stat().st_mode & 0o777) == 0o444
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f"]  # the failed write left no temp file


def test_workspace_writes_use_the_workspace_tmp(tmp_path: Path) -> None:
    (tmp_path / ".ml-git").mkdir()
    (tmp_path / ".ml-git" / "config.yaml").write_text("{}")
    data = tmp_path / "datasets" / "d" / "data"
    data.mkdir(parents=True)
    assert temp_folder_for(data) == str(tmp_path / TMP_DIR)  # not among the user's files
    own = tmp_path / ".ml-git" / "datasets" / "index"
    own.mkdir(parents=True)
    assert temp_folder_for(own) == str(own)
    outside = tmp_path.parent / f"{tmp_path.name}-bucket"
    outside.mkdir(exist_ok=True)
    assert temp_folder_for(outside) == str(outside)
    atomic_write(data / "f.txt", b"x")
    assert os.listdir(data) == ["f.txt"] and os.listdir(tmp_path / TMP_DIR) == []


def test_link_from_and_adopt(tmp_path: Path) -> None:
    fs = HashFS(tmp_path / "cache")
    src = tmp_path / "f"
    src.write_bytes(b"content")
    fo = hash_file(src)
    kept = fs.link_from(fo.cid, src)
    assert kept.read_bytes() == b"content" and kept.stat().st_ino == src.stat().st_ino
    assert fs.link_from(fo.cid, tmp_path / "absent") == kept  # already kept: src is not read

    def write(tmp: str) -> object:
        Path(tmp).write_bytes(b"adopted")
        return hash_file(tmp)

    adopted = fs.adopt(write)  # type: ignore[arg-type]
    path = fs.path(adopted.cid)
    assert path.read_bytes() == b"adopted" and (path.stat().st_mode & 0o222) == 0
    assert sorted(fs) == sorted([fo.cid, adopted.cid])

    def fail(tmp: str) -> object:
        Path(tmp).write_bytes(b"half")
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        fs.adopt(fail)  # type: ignore[arg-type]
    assert not [n for n in os.listdir(tmp_path / "cache" / "hashfs") if n.startswith(".tmp-")]


def test_local_objects_cut_chunks_from_the_cached_file(tmp_path: Path) -> None:
    objects, cache = HashFS(tmp_path / "objects"), HashFS(tmp_path / "cache")
    src = tmp_path / "f"
    src.write_bytes(os.urandom(600 * 1024))  # three chunks
    fo = hash_file(src)
    objects.put(fo.cid, fo.descriptor)
    cache.link_from(fo.cid, src)
    local = LocalObjects(objects, cache)
    keys = local.register(fo.cid)
    assert keys == [fo.cid, *fo.chunks]
    assert b"".join(local.get(c) for c in fo.chunks) == src.read_bytes()
    assert all(local.exists(k) for k in keys)
    os.chmod(src, 0o644)
    with open(src, "r+b") as fh:  # changed in place after add
        fh.seek(300 * 1024)
        fh.write(b"X")
    with pytest.raises(CorruptObject, match="the file changed after add"):
        local.get(fo.chunks[1])
    assert local.get(fo.chunks[0])  # the other chunks are still whole
