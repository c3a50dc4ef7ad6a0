"""mlgit.transfer over a real local storage folder: skip what exists, verify, stop early, report once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlgit import transfer
from mlgit.cid import cid_of
from mlgit.errors import StorageError, StorageNotFound, TransferError
from mlgit.objects import HashFS
from mlgit.storage.local import LocalStorage


def _objects(store: HashFS, n: int, size: int = 1024) -> list[str]:
    keys = []
    for _ in range(n):
        data = os.urandom(size)
        store.put(cid_of(data), data)
        keys.append(cid_of(data))
    return keys


@pytest.fixture
def bucket(tmp_path: Path) -> LocalStorage:
    root = tmp_path / "bucket"
    root.mkdir()
    return LocalStorage("bucket", root)


@pytest.fixture
def objects(tmp_path: Path) -> HashFS:
    return HashFS(tmp_path / "objects")


def test_round_trip_with_progress(bucket: LocalStorage, objects: HashFS, tmp_path: Path) -> None:
    keys = _objects(objects, 40)
    calls: list[tuple[str, int, int]] = []
    rep = transfer.upload(bucket, objects, keys, threads=4, progress=lambda *a: calls.append(a))
    assert len(rep.done) == 40 and rep.skipped == 0 and not rep.failed
    assert calls[0] == ("push", 0, 40) and calls[-1] == ("push", 40, 40)
    fresh = HashFS(tmp_path / "fresh")
    rep = transfer.download(bucket, fresh, keys, threads=4)
    assert len(rep.done) == 40
    assert all(fresh.get(k) == objects.get(k) for k in keys)


def test_upload_skips_what_the_storage_has(bucket: LocalStorage, objects: HashFS) -> None:
    keys = _objects(objects, 12)
    transfer.upload(bucket, objects, keys[:5])
    rep = transfer.upload(bucket, objects, keys)
    assert rep.skipped == 5 and sorted(rep.done) == sorted(keys[5:])


def test_corrupted_object_is_named_and_never_kept(
    bucket: LocalStorage, objects: HashFS, tmp_path: Path
) -> None:
    keys = _objects(objects, 8)
    transfer.upload(bucket, objects, keys)
    bad = sorted(keys)[3]
    (bucket.root / bad).write_bytes(b"rotten bytes")
    fresh = HashFS(tmp_path / "fresh")
    with pytest.raises(TransferError) as err:
        transfer.download(bucket, fresh, keys, threads=3)
    assert err.value.failed == [bad] and bad in str(err.value)
    assert not fresh.exists(bad) and sum(fresh.exists(k) for k in keys) == 7


def test_missing_storage_folder_is_one_definite_error(objects: HashFS, tmp_path: Path) -> None:
    keys = _objects(objects, 3)
    with pytest.raises(StorageNotFound, match="does not exist"):
        transfer.upload(LocalStorage("nope", tmp_path / "absent"), objects, keys)


class _Flaky(LocalStorage):
    """A real folder whose puts fail transiently N times per key (a 503 we cannot cause on a folder)."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__("flaky", root)
        self.failures = failures
        self.attempts: dict[str, int] = {}

    def put(self, key: str, data: bytes) -> None:
        n = self.attempts[key] = self.attempts.get(key, 0) + 1
        if n <= self.failures:
            raise StorageError(f"503 SlowDown for {key} (simulated)")
        super().put(key, data)


def test_transient_errors_are_retried(
    bucket: LocalStorage, objects: HashFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer.time, "sleep", lambda s: None)
    flaky = _Flaky(bucket.root, failures=2)
    keys = _objects(objects, 8)
    rep = transfer.upload(flaky, objects, keys, threads=4)
    assert len(rep.done) == 8 and all(n == 3 for n in flaky.attempts.values())


def test_fail_limit_stops_early(
    bucket: LocalStorage, objects: HashFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer.time, "sleep", lambda s: None)
    flaky = _Flaky(bucket.root, failures=1000)
    keys = _objects(objects, 200, size=16)
    with pytest.raises(TransferError) as err:
        transfer.upload(flaky, objects, keys, threads=2, fail_limit=3)
    assert "200 of 200 objects not transferred" in str(err.value)
    assert len(flaky.attempts) < 50


def test_storage_down_mid_transfer_stops_without_trying_everything(
    bucket: LocalStorage, objects: HashFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer.time, "sleep", lambda s: None)
    flaky = _Flaky(bucket.root, failures=1000)
    keys = _objects(objects, 500, size=16)
    with pytest.raises(TransferError) as err:
        transfer.upload(flaky, objects, keys, threads=2)
    assert "500 of 500 objects not transferred" in str(err.value)
    assert len(flaky.attempts) < 100


def test_a_storage_that_wants_more_uploads_in_flight_gets_them(tmp_path: Path, objects: HashFS) -> None:
    """``Storage.concurrency`` (s3h on an endpoint: 32) sizes the push pool when push_threads_count is less:
    eight uploads wait for each other here, which two workers could never do."""
    import threading

    class Wide(LocalStorage):
        concurrency = 8
        meet = threading.Barrier(8, timeout=20)

        def put(self, key: str, data: bytes) -> None:
            self.meet.wait()  # BrokenBarrierError (a failed object) unless 8 are in flight at once
            super().put(key, data)

    (tmp_path / "wide").mkdir()
    keys = _objects(objects, 16)
    rep = transfer.upload(Wide("wide", tmp_path / "wide"), objects, keys, threads=2)
    assert sorted(rep.done) == sorted(keys) and not rep.failed


def test_progress_reports_are_spaced_and_end_at_the_total(bucket: LocalStorage, objects: HashFS) -> None:
    keys = _objects(objects, 300, size=64)
    calls: list[tuple[str, int, int]] = []
    transfer.upload(bucket, objects, keys, threads=4, progress=lambda *a: calls.append(a))
    counts = [c[1] for c in calls]
    assert counts[0] == 0 and counts[-1] == 300 and counts == sorted(set(counts))  # rising, no repeats
    assert len(calls) < 300  # not one call per object: at most one per PROGRESS_EVERY
