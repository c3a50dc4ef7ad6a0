"""mlgit.materialize: whole files from descriptors and chunks, checked before and while written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlgit.cid import cid_of, descriptor_bytes, hash_file
from mlgit.errors import DescriptorError, ObjectNotFound, TooLarge, TransferError
from mlgit.materialize import Builder, build_all, check_bounds
from mlgit.objects import HashFS
from mlgit.storage.local import LocalStorage

BLOCK = 256 * 1024


@pytest.fixture
def stores(tmp_path: Path) -> tuple[HashFS, HashFS, LocalStorage]:
    (tmp_path / "bucket").mkdir()
    return HashFS(tmp_path / "objects"), HashFS(tmp_path / "cache"), LocalStorage("b", tmp_path / "bucket")


def _add(tmp_path: Path, objects: HashFS, data: bytes, where: HashFS | LocalStorage | None = None) -> str:
    """Descriptor into ``objects``; chunks into ``where`` (default: ``objects``)."""
    src = tmp_path / "src"
    src.write_bytes(data)
    where = where or objects
    fo = hash_file(src, sink=lambda c: where.put(c.cid, c.data))
    objects.put(fo.cid, fo.descriptor)
    return fo.cid


def test_strict_files_go_to_the_cache_and_are_linked_read_only(tmp_path: Path, stores: tuple) -> None:
    objects, cache, _ = stores
    data = os.urandom(BLOCK + 10)
    cid = _add(tmp_path, objects, data)
    ws = tmp_path / "ws" / "a" / "f.bin"
    st = Builder(objects, cache, "strict").build(cid, ws)
    assert ws.read_bytes() == data and cache.path(cid).read_bytes() == data
    assert st is not None and (st.st_mode & 0o222) == 0
    assert Builder(objects, cache, "strict").build(cid, None) is None  # cache only
    assert not [p for p in ws.parent.iterdir() if p.name != "f.bin"]  # no temp file left


def test_mutable_files_are_private_copies(tmp_path: Path, stores: tuple) -> None:
    objects, cache, _ = stores
    cid = _add(tmp_path, objects, b"hello")
    b = Builder(objects, cache, "mutable")
    one, two = tmp_path / "ws" / "1", tmp_path / "ws" / "2"
    b.build(cid, one)
    b.build(cid, two)  # the same file under two names: built once, then copied
    assert one.read_bytes() == two.read_bytes() == b"hello"
    assert one.stat().st_ino != two.stat().st_ino and (one.stat().st_mode & 0o200)
    assert not cache.exists(cid)


def test_chunks_come_from_the_storage_verified(tmp_path: Path, stores: tuple) -> None:
    objects, cache, bucket = stores
    data = os.urandom(2 * BLOCK + 5)
    cid = _add(tmp_path, objects, data, where=bucket)
    (tmp_path / "tmp").mkdir()
    b = Builder(objects, cache, "strict", storage=bucket, tmp_dir=tmp_path / "tmp")
    jobs = {"x/f": (cid, tmp_path / "ws" / "x" / "f"), "y/g": (cid, tmp_path / "ws" / "y" / "g")}
    staged = build_all(b, jobs, threads=2)
    assert sorted(staged.stats) == ["x/f", "y/g"] and b.fetched == 3  # each chunk fetched once
    assert not (tmp_path / "ws").exists()  # staged: nothing in the workspace before place()
    staged.place()
    assert (tmp_path / "ws" / "y" / "g").read_bytes() == data
    with pytest.raises(ObjectNotFound, match="no storage was given"):
        Builder(objects, HashFS(tmp_path / "cache2"), "strict").build(cid, None)


def test_a_chunk_repeated_in_a_file_is_read_once(tmp_path: Path, stores: tuple) -> None:
    objects, cache, bucket = stores
    data = b"z" * (3 * BLOCK)
    cid = _add(tmp_path, objects, data, where=bucket)
    b = Builder(objects, cache, "mutable", storage=bucket)
    b.build(cid, tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == data and b.fetched == 1


def test_a_chunk_of_another_size_than_declared_writes_nothing(tmp_path: Path, stores: tuple) -> None:
    objects, cache, _ = stores
    objects.put(cid_of(b"abc"), b"abc")
    lying = descriptor_bytes([(cid_of(b"abc"), 4)])
    objects.put(cid_of(lying), lying)
    target = tmp_path / "ws" / "f"
    with pytest.raises(DescriptorError, match="declared 4 bytes, found 3"):
        Builder(objects, cache, "strict").build(cid_of(lying), target)
    assert not cache.exists(cid_of(lying)) and not target.exists()
    assert not [n for _, _, files in os.walk(tmp_path / "cache") for n in files]


def test_build_all_reports_failures_as_one_transfer_error(tmp_path: Path, stores: tuple) -> None:
    objects, cache, bucket = stores
    cid = _add(tmp_path, objects, b"gone", where=bucket)
    for key in list(bucket.list_keys()):
        bucket.delete(key)
    with pytest.raises(TransferError, match="checkout: 1 of 1 objects not transferred"):
        build_all(Builder(objects, cache, "strict", storage=bucket), {"f": (cid, tmp_path / "f")}, threads=1)


@pytest.mark.parametrize("mutability", ["strict", "mutable"])
def test_one_bad_object_stages_nothing_and_leaves_no_temp_file(
    tmp_path: Path, stores: tuple, mutability: str
) -> None:
    objects, cache, bucket = stores
    good = [_add(tmp_path, objects, os.urandom(100), where=bucket) for _ in range(20)]
    chunk = os.urandom(100)
    bucket.put(cid_of(chunk), b"not the chunk")  # a bucket writer swapped it: its CID no longer matches
    bad = descriptor_bytes([(cid_of(chunk), 100)])
    objects.put(cid_of(bad), bad)
    ws, tmp = tmp_path / "ws", tmp_path / "tmp"
    tmp.mkdir()
    jobs = {f"d{i % 3}/f{i}": (cid, ws / f"d{i % 3}" / f"f{i}") for i, cid in enumerate(good)}
    jobs["d9/bad"] = (cid_of(bad), ws / "d9" / "bad")
    with pytest.raises(TransferError, match="1 of 21 objects not transferred"):
        build_all(Builder(objects, cache, mutability, bucket, tmp), jobs, threads=2)
    assert not ws.exists() and list(tmp.iterdir()) == []  # no file, no folder, no temp file


def test_many_staged_files_are_placed_by_several_workers(tmp_path: Path, stores: tuple) -> None:
    objects, cache, _ = stores
    data = {f"d{i % 7}/f{i}": os.urandom(20) for i in range(700)}
    cids = {rel: _add(tmp_path, objects, b) for rel, b in data.items()}
    (tmp_path / "tmp").mkdir()
    ws = tmp_path / "ws"
    staged = build_all(
        Builder(objects, cache, "mutable", tmp_dir=tmp_path / "tmp"),
        {rel: (cid, ws / rel) for rel, cid in cids.items()},
        threads=4,
    )
    assert not ws.exists()
    staged.place(threads=4)
    assert {f.relative_to(ws).as_posix(): f.read_bytes() for f in ws.rglob("*") if f.is_file()} == data
    assert list((tmp_path / "tmp").iterdir()) == []


def test_check_bounds_refuses_before_any_write(tmp_path: Path, stores: tuple) -> None:
    objects, cache, _ = stores
    cid = _add(tmp_path, objects, b"x" * 100)
    jobs = {f"f{i}": (cid, tmp_path / "ws" / f"f{i}") for i in range(50)}  # one file, many names
    b = Builder(objects, cache, "mutable")
    check_bounds(b, "d__1", {"manifest": {"size": "5.0 kB"}}, 50, jobs, tmp_path)
    with pytest.raises(TooLarge, match="would write 5000 bytes"):
        check_bounds(b, "d__1", {"manifest": {"size": "4.9 kB"}}, 50, jobs, tmp_path)
    assert not (tmp_path / "ws").exists()
