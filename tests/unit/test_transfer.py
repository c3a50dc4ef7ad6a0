"""mlgit.transfer: the one retry layer (attempts, backoff, deadline, final errors) and the worker pool."""

from __future__ import annotations

import time

import pytest

from mlgit import transfer
from mlgit.errors import CorruptObject, ObjectNotFound, StorageAuthError, StorageUnreachable


class Flaky:
    """A storage call that fails ``fails`` times (after ``takes`` seconds each), then answers."""

    def __init__(self, fails: int, error: Exception, takes: float = 0.0) -> None:
        self.fails, self.error, self.takes, self.calls = fails, error, takes, 0

    def __call__(self) -> str:
        self.calls += 1
        time.sleep(self.takes)
        if self.calls <= self.fails:
            raise self.error
        return "ok"


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "BACKOFF", 0.01)


def test_a_transient_error_is_retried_until_an_attempt_answers() -> None:
    call = Flaky(transfer.ATTEMPTS - 1, StorageUnreachable("connection refused"))
    assert transfer.retry(call, "get") == "ok"
    assert call.calls == transfer.ATTEMPTS


def test_after_the_last_attempt_the_error_says_how_many_were_made() -> None:
    call = Flaky(99, StorageUnreachable("cannot reach s3h://b (no answer within 2 s)"))
    with pytest.raises(
        StorageUnreachable,
        match=rf"no answer within 2 s\) \(gave up after {transfer.ATTEMPTS} attempts in \d+ s\)",
    ):
        transfer.retry(call, "get")
    assert call.calls == transfer.ATTEMPTS


@pytest.mark.parametrize(
    "error",
    [ObjectNotFound("no key"), StorageAuthError("refused"), CorruptObject("bad bytes")],
    ids=["missing", "refused", "corrupt"],
)
def test_final_errors_are_never_retried(error: Exception) -> None:
    call = Flaky(99, error)
    with pytest.raises(type(error)):
        transfer.retry(call, "get")
    assert call.calls == 1


def test_no_attempt_starts_after_the_deadline() -> None:
    """Slow attempts (a server that answers nothing until the read timeout) stop at the deadline, not after
    ``ATTEMPTS`` of them."""
    call = Flaky(99, StorageUnreachable("no answer"), takes=0.2)
    started = time.monotonic()
    with pytest.raises(StorageUnreachable, match="gave up after 2 attempts"):
        transfer.retry(call, "get", attempts=10, deadline=0.3)
    assert call.calls == 2  # the second began before 0.3 s; a third would have begun after
    assert time.monotonic() - started < 1.0


def test_other_exceptions_pass_at_once() -> None:
    call = Flaky(99, ValueError("a bug, not a storage fault"))
    with pytest.raises(ValueError):
        transfer.retry(call, "get")
    assert call.calls == 1


def test_the_pool_stops_after_the_fail_limit_and_reports_every_outcome() -> None:
    done: list[str] = []

    def one(key: str) -> None:
        if key.startswith("bad"):
            raise CorruptObject(f"{key} does not match its CID")
        done.append(key)

    keys = [f"ok{i}" for i in range(5)] + [f"bad{i}" for i in range(5)]
    seen: list[tuple[int, int]] = []
    report = transfer.run_pool("push", keys, one, 1, lambda _phase, n, total: seen.append((n, total)), 2)
    assert sorted(report.done) == sorted(done) == [f"ok{i}" for i in range(5)]
    assert list(report.failed) == ["bad0", "bad1"]  # one worker, keys in order: stopped at the second failure
    assert seen[0] == (0, 10) and seen[-1] == (7, 10)


def test_the_pool_stops_at_once_when_the_storage_cannot_be_used() -> None:
    calls: list[str] = []

    def one(key: str) -> None:
        calls.append(key)
        raise StorageUnreachable("connection refused")

    report = transfer.run_pool("checkout", [f"k{i}" for i in range(50)], one, 1, None, None)
    assert calls == ["k0"] and list(report.failed) == ["k0"] and not report.done
