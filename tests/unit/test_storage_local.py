"""mlgit.storage.local: a folder used as a bucket (flat keys, atomic puts, hostile files refused)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlgit.cid import cid_of
from mlgit.errors import ConfigError, CorruptObject, InvalidKey, ObjectNotFound, StorageNotFound
from mlgit.storage import local
from mlgit.storage.local import LocalStorage, check_bucket_folder

A, B = cid_of(b"a"), cid_of(b"b")


def test_contract(tmp_path: Path) -> None:
    s = LocalStorage("b", tmp_path)
    assert s.where() == "local://b"
    s.put(A, b"a")
    s.put(A, b"a")  # immutable objects: a second put is harmless
    assert s.get(A) == b"a" and s.exists(A) and not s.exists(B)
    assert (tmp_path / A).read_bytes() == b"a"  # flat, as in S3
    assert s.missing([A, B]) == {B}
    (tmp_path / f".tmp-1-2-{B}").write_bytes(b"half")  # a temp file is never listed as an object
    assert list(s.list_keys()) == [A]
    assert list(s.list_keys("zzz")) == []
    s.delete(A)
    s.delete(A)
    assert not s.exists(A)
    with pytest.raises(ObjectNotFound, match=f"object {A} not found in local://b"):
        s.get(A)


@pytest.mark.parametrize("key", ["../x", "a/b", ".hidden", "", "zdj7W"])
def test_keys_must_be_cids(tmp_path: Path, key: str) -> None:
    s = LocalStorage("b", tmp_path)
    for call in (lambda: s.put(key, b"x"), lambda: s.get(key), lambda: s.exists(key), lambda: s.delete(key)):
        with pytest.raises(InvalidKey, match="storage local://b"):
            call()
    assert os.listdir(tmp_path) == []


def test_missing_folder(tmp_path: Path) -> None:
    s = LocalStorage("b", tmp_path / "absent")
    for call in (lambda: s.put(A, b"a"), lambda: s.get(A), lambda: list(s.list_keys()), s.check):
        with pytest.raises(StorageNotFound, match="does not exist"):
            call()


def test_hostile_objects_are_refused_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = LocalStorage("b", tmp_path)
    os.mkfifo(tmp_path / A)  # would block a read forever
    with pytest.raises(CorruptObject, match="not a regular file"):
        s.get(A)
    monkeypatch.setattr(local, "MAX_OBJECT", 3)
    (tmp_path / B).write_bytes(b"four")
    with pytest.raises(CorruptObject, match="4 bytes"):
        s.get(B)


def test_bucket_folder_must_be_its_own(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for inside in (ws, ws / ".ml-git" / "b", ws / "datasets" / "x"):
        with pytest.raises(ConfigError, match="expected a folder of its own"):
            check_bucket_folder(inside, ws, "local://b")
    assert check_bucket_folder(tmp_path / "bucket", ws, "local://b") == tmp_path / "bucket"
    assert check_bucket_folder(ws / "other", ws, "local://b") == ws / "other"
