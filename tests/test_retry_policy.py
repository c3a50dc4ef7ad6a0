"""One retry policy: every MLGitError says whether a retry may cure it, and Airflow and Prefect obey it alike."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest

import mlgit.errors as errors

RETRYABLE = {
    "MetadataError",
    "StorageError",
    "StorageUnreachable",
    "TransferError",
    "WorkspaceBusy",
}  # a remote or a storage that may answer next time


def _classes() -> list[type[errors.MLGitError]]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.MLGitError)]


def test_every_error_class_states_the_documented_policy() -> None:
    found = {c.__name__ for c in _classes() if c.retryable}
    assert found == RETRYABLE
    # subclasses of a retryable error that a retry cannot cure say so themselves
    for name in ("GitIdentityMissing", "UnsafeMetadata", "TagMoved", "ObjectNotFound", "CorruptObject"):
        assert getattr(errors, name).retryable is False, name


def test_errors_from_libraries() -> None:
    assert errors.is_retryable(ConnectionResetError("reset by peer"))
    assert errors.is_retryable(TimeoutError("timed out"))
    assert not errors.is_retryable(ValueError("bad"))
    assert not errors.is_retryable(KeyError("k"))


@pytest.mark.parametrize("cls", _classes(), ids=lambda c: c.__name__)
def test_airflow_and_prefect_decide_alike(cls: type[errors.MLGitError]) -> None:
    pytest.importorskip("airflow")
    pytest.importorskip("prefect")
    from mlgit_airflow.operators import fails_at_once
    from mlgit_prefect.tasks import _transient

    err = cls(f"{cls.__name__}: expected something, found something else")
    prefect_retries = _transient(None, None, SimpleNamespace(data=err))
    airflow_retries = not fails_at_once(err)
    assert prefect_retries == airflow_retries == cls.retryable


@pytest.mark.parametrize(
    "err",
    [
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
        KeyError("manifest"),
        ValueError("bad"),
        OSError(28, "No space left on device"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_airflow_and_prefect_decide_alike_on_errors_from_libraries(err: Exception) -> None:
    pytest.importorskip("airflow")
    pytest.importorskip("prefect")
    from mlgit_airflow.operators import fails_at_once
    from mlgit_prefect.tasks import _transient

    assert (
        _transient(None, None, SimpleNamespace(data=err))
        == (not fails_at_once(err))
        == errors.is_retryable(err)
    )
