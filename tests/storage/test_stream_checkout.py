"""A fresh checkout from SeaweedFS through the one-thread stream (storage/s3_stream.py): every object
asked once, from the checkout's own thread, the bytes right; a swapped object refused by name."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from helpers import publish, s3_workspace
from s3server import S3Bucket

from mlgit.errors import TransferError


def _keys(b: S3Bucket) -> list[str]:
    pages = b.client().get_paginator("list_objects_v2").paginate(Bucket=b.bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _files() -> dict[str, bytes]:
    files = {f"data/{i // 40}/{i:03d}.bin": os.urandom(50 + 97 * i) for i in range(160)}
    files["data/big.bin"] = os.urandom(700_000)  # three chunks
    files["data/same.bin"] = files["data/0/007.bin"]  # one file under two names
    files["data/empty.bin"] = b""
    return files


@pytest.fixture
def pushed(
    seaweedfs_bucket: S3Bucket, tmp_path: Path, remotes: dict[str, str]
) -> tuple[S3Bucket, dict[str, bytes]]:
    files = _files()
    b = seaweedfs_bucket
    publish(s3_workspace(tmp_path / "ws", remotes, b.bucket, b.endpoint), "many", b.bucket, files)
    return seaweedfs_bucket, files


def test_a_fresh_checkout_asks_each_object_once_from_its_own_thread(
    pushed: tuple[S3Bucket, dict[str, bytes]],
    tmp_path: Path,
    remotes: dict[str, str],
    gets: list[tuple[str, str]],
) -> None:
    b, files = pushed
    gets.clear()  # the push's own requests, if any
    fresh = s3_workspace(tmp_path / "fresh", remotes, b.bucket, b.endpoint)
    result = fresh.checkout("datasets", "many")
    root = tmp_path / "fresh" / "datasets" / "many"
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel
    objects = len(_keys(b))  # every descriptor and chunk of the version, nothing else in the bucket
    assert len(gets) == len({p for p, _ in gets}) == objects  # each object asked once
    assert {name for _, name in gets} == {threading.current_thread().name}  # no thread per request
    assert result.downloaded == objects


def test_a_swapped_object_is_refused_by_name_and_the_workspace_is_untouched(
    pushed: tuple[S3Bucket, dict[str, bytes]], tmp_path: Path, remotes: dict[str, str]
) -> None:
    b, files = pushed
    victim = _keys(b)[17]
    b.client().put_object(Bucket=b.bucket, Key=victim, Body=b"not what the CID says")
    fresh = s3_workspace(tmp_path / "fresh", remotes, b.bucket, b.endpoint)
    with pytest.raises(TransferError, match=rf"{victim}.* does not match its CID"):
        fresh.checkout("datasets", "many")
    assert not (tmp_path / "fresh" / "datasets" / "many" / "data").exists()
    leftovers = [p for p in (tmp_path / "fresh").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []
