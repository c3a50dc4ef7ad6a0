"""mlgit.streaming and transfer.stream_first: a checkout's objects asked in one stream first, the thread
pool for the rest. A local folder that says it ``streams`` (``Storage.stream``'s default: one get after
the other) drives the same code as S3's event loop; tests/storage/test_stream_checkout.py runs it on
SeaweedFS."""

from __future__ import annotations

import os
import threading
from collections.abc import Generator, Iterable
from pathlib import Path

import pytest

from mlgit import transfer
from mlgit.cid import cid_of, hash_file
from mlgit.errors import MLGitError, TransferError
from mlgit.materialize import Builder, build_all
from mlgit.objects import HashFS
from mlgit.storage.local import LocalStorage

BLOCK = 256 * 1024


class Streaming(LocalStorage):
    """A local folder that streams (one get after the other) and records who asked for what."""

    def __init__(self, name: str, root: Path, stop_after: int | None = None) -> None:
        super().__init__(name, root)
        self.streamed: list[str] = []
        self.got: list[str] = []
        self.stop_after = stop_after
        self._lock = threading.Lock()

    @property
    def streams(self) -> bool:
        return True

    def stream(
        self, keys: Iterable[str]
    ) -> Generator[tuple[str, bytes | bytearray | MLGitError], None, None]:
        for key in keys:
            if self.stop_after is not None and len(self.streamed) >= self.stop_after:
                raise KeyboardInterrupt  # the user's ^C, between two answers
            self.streamed.append(key)
            try:
                yield key, LocalStorage.get(self, key)
            except MLGitError as exc:
                yield key, exc

    def get(self, key: str) -> bytes:
        with self._lock:
            self.got.append(key)
        return super().get(key)


def _file(tmp_path: Path, objects: HashFS, bucket: LocalStorage, data: bytes) -> tuple[str, list[str]]:
    """``data`` as a file: its descriptor in the local objects, its chunks in the bucket; (CID, chunks)."""
    src = tmp_path / "src"
    src.write_bytes(data)
    chunks: list[str] = []

    def sink(c: object) -> None:
        bucket.put(c.cid, c.data)  # type: ignore[attr-defined]
        chunks.append(c.cid)  # type: ignore[attr-defined]

    fo = hash_file(src, sink=sink)
    objects.put(fo.cid, fo.descriptor)
    return fo.cid, chunks


@pytest.fixture
def world(tmp_path: Path) -> tuple[HashFS, HashFS, Streaming]:
    (tmp_path / "bucket").mkdir()
    (tmp_path / "ws" / ".ml-git" / "tmp").mkdir(parents=True)
    return HashFS(tmp_path / "objects"), HashFS(tmp_path / "cache"), Streaming("b", tmp_path / "bucket")


def _builder(
    tmp_path: Path, objects: HashFS, cache: HashFS, bucket: LocalStorage, mutability: str = "strict"
) -> Builder:
    return Builder(objects, cache, mutability, storage=bucket, tmp_dir=tmp_path / "ws" / ".ml-git" / "tmp")


def _leftovers(*roots: Path) -> list[str]:
    """Temp files anywhere under ``roots`` (names of finished files are CIDs or the workspace's own)."""
    return sorted(
        str(p) for root in roots if root.exists() for p in root.rglob("*") if p.is_file() and ".tmp" in p.name
    )


@pytest.mark.parametrize("mutability", ["strict", "mutable"])
def test_files_of_their_own_come_from_the_stream_the_rest_from_the_pool(
    tmp_path: Path, world: tuple[HashFS, HashFS, Streaming], mutability: str
) -> None:
    objects, cache, bucket = world
    own = {f"own/{i}": os.urandom(i * 7000 + 1) for i in range(12)}
    own["own/big"] = os.urandom(2 * BLOCK + 77)  # three chunks, written at their offsets
    shared_chunk = os.urandom(BLOCK)
    mixed = {
        "shared/a": shared_chunk + b"a-tail",  # a chunk in two files: not the stream's
        "shared/b": shared_chunk + b"b-tail",
        "repeat/r": b"r" * (3 * BLOCK),  # a chunk repeated in its file: not the stream's
        "empty/e": b"",  # no chunk at all
    }
    jobs: dict[str, tuple[str, Path]] = {}
    streamable_chunks: set[str] = set()
    all_chunks: set[str] = set()
    for rel, data in {**own, **mixed}.items():
        cid, chunks = _file(tmp_path, objects, bucket, data)
        jobs[rel] = (cid, tmp_path / "ws" / rel)
        all_chunks.update(chunks)
        if rel in own:
            streamable_chunks.update(chunks)
    jobs["own/again"] = (jobs["own/3"][0], tmp_path / "ws" / "own" / "again")  # one file, two names
    b = _builder(tmp_path, objects, cache, bucket, mutability)
    seen: list[tuple[str, int, int]] = []
    staged = build_all(b, jobs, threads=3, progress=lambda *a: seen.append(a))
    staged.place()
    for rel, data in {**own, **mixed, "own/again": own["own/3"]}.items():
        assert (tmp_path / "ws" / rel).read_bytes() == data, rel
    assert sorted(bucket.streamed) == sorted(streamable_chunks)  # asked once each, in the stream
    assert not set(bucket.got) & streamable_chunks  # and never again by the pool
    assert set(bucket.got) == all_chunks - streamable_chunks - {cid_of(b"")}
    assert b.fetched == len(bucket.streamed) + len(bucket.got)  # every chunk that came from the storage
    assert seen[0] == ("checkout", 0, len(jobs)) and seen[-1] == ("checkout", len(jobs), len(jobs))
    assert [c for _, c, _ in seen] == sorted(c for _, c, _ in seen)
    assert _leftovers(tmp_path / "ws", tmp_path / "cache") == []
    again, three = (tmp_path / "ws" / "own" / "again").stat(), (tmp_path / "ws" / "own" / "3").stat()
    if mutability == "mutable":  # private, writable copies; nothing in the cache
        assert again.st_ino != three.st_ino and again.st_mode & 0o200 and three.st_mode & 0o200
        assert not (tmp_path / "cache").exists() or not any(
            p.is_file() for p in (tmp_path / "cache").rglob("*")
        )
    else:  # read-only links of the cached file
        assert again.st_ino == three.st_ino == cache.path(jobs["own/3"][0]).stat().st_ino
        assert not three.st_mode & 0o222


def test_a_swapped_chunk_is_named_and_nothing_of_its_file_is_left(
    tmp_path: Path, world: tuple[HashFS, HashFS, Streaming]
) -> None:
    objects, cache, bucket = world
    good, _ = _file(tmp_path, objects, bucket, os.urandom(5000))
    bad, chunks = _file(tmp_path, objects, bucket, os.urandom(BLOCK + 9))
    (bucket.root / chunks[1]).write_bytes(os.urandom(9))  # a bucket writer swapped the bytes under a key
    jobs = {"g": (good, tmp_path / "ws" / "g"), "x": (bad, tmp_path / "ws" / "x")}
    b = _builder(tmp_path, objects, cache, bucket)
    with pytest.raises(TransferError, match=rf"{chunks[1]}.*does not match its CID") as err:
        build_all(b, jobs, threads=2)
    assert "1 of 2 objects not transferred" in str(err.value)
    assert (
        chunks[1] in bucket.streamed and chunks[1] in bucket.got
    )  # the stream's try, then the pool's retries
    assert (
        not cache.exists(bad)
        and not (tmp_path / "ws" / "x").exists()
        and not (tmp_path / "ws" / "g").exists()
    )
    assert _leftovers(tmp_path / "ws", tmp_path / "cache") == []


def test_a_missing_chunk_fails_the_checkout_with_its_key(
    tmp_path: Path, world: tuple[HashFS, HashFS, Streaming]
) -> None:
    objects, cache, bucket = world
    cid, chunks = _file(tmp_path, objects, bucket, os.urandom(100))
    (bucket.root / chunks[0]).unlink()
    with pytest.raises(TransferError, match=rf"first: f: object {chunks[0]} not found in local://b"):
        build_all(_builder(tmp_path, objects, cache, bucket), {"f": (cid, tmp_path / "ws" / "f")}, threads=2)
    assert _leftovers(tmp_path / "ws", tmp_path / "cache") == []


def test_an_interrupted_stream_leaves_no_temp_file(
    tmp_path: Path, world: tuple[HashFS, HashFS, Streaming]
) -> None:
    objects, cache, _ = world
    bucket = Streaming("b", tmp_path / "bucket", stop_after=3)
    jobs = {}
    for i in range(4):
        cid, _ = _file(tmp_path, objects, bucket, os.urandom(BLOCK + 100 * i))  # two chunks each
        jobs[f"f{i}"] = (cid, tmp_path / "ws" / f"f{i}")
    with pytest.raises(KeyboardInterrupt):
        build_all(_builder(tmp_path, objects, cache, bucket), jobs, threads=2)
    assert len(bucket.streamed) == 3  # one file whole, one half written when ^C came
    assert _leftovers(tmp_path / "ws", tmp_path / "cache") == []
    assert not (tmp_path / "ws" / "f0").exists()  # staged files are discarded too


def test_stream_first_leaves_failures_to_the_pool_and_stops_when_the_storage_is_gone(tmp_path: Path) -> None:
    from mlgit.errors import StorageAuthError, StorageUnreachable

    def run(answers: dict[str, bytes | MLGitError]) -> tuple[list[str], list[str]]:
        class Scripted(LocalStorage):
            @property
            def streams(self) -> bool:
                return True

            def stream(
                self, ks: Iterable[str]
            ) -> Generator[tuple[str, bytes | bytearray | MLGitError], None, None]:
                for k in ks:
                    yield k, answers[k]

        taken: list[str] = []
        keys = list(answers)
        left = transfer.stream_first(
            "checkout", Scripted("b", tmp_path), keys, lambda k, d: taken.append(k), None, 9
        )
        return taken, left

    keys = [cid_of(str(i).encode()) for i in range(transfer.DOWN_AFTER + 9)]
    good: dict[str, bytes | MLGitError] = {k: str(i).encode() for i, k in enumerate(keys)}
    # a corrupt object and one request past its timeout: left to the pool, the stream goes on
    taken, left = run(
        {**good, keys[1]: b"not the bytes of its CID", keys[3]: StorageUnreachable("no answer")}
    )
    assert left == [keys[1], keys[3]] and taken == [k for k in keys if k not in left]
    # refused keys: nothing more is asked
    taken, left = run({**good, keys[2]: StorageAuthError("refused")})
    assert taken == keys[:2] and left == keys[2:]
    # DOWN_AFTER unreachable in a row: the storage is down, nothing more is asked
    down = {k: StorageUnreachable("refused") for k in keys[4 : 4 + transfer.DOWN_AFTER]}
    taken, left = run({**good, **down})
    assert taken == keys[:4] and left == keys[4:]
