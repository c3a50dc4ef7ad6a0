"""One exception tree. Every message says what was expected, what was found, and where.

Retry policy (one owner, read by the Airflow operators and the Prefect tasks alike): every class
says with ``retryable`` whether running the same verb again, unchanged, may succeed. Only errors of
something outside the workspace that may answer next time are retryable: a git remote that did not
answer (``MetadataError``), a storage that failed or timed out (``StorageError``,
``TransferError``), a workspace another process held too long (``WorkspaceBusy``). Everything
about the input, the workspace or the data itself is permanent: a wrong name, spec, tag or version, local changes, a missing git identity, refused credentials, a
bucket that does not exist, an object missing from or corrupted in the storage (the storage's own
retries, in ``mlgit.transfer``, already tried again), untrusted metadata, a full disk. A subclass
states its own value: ``GitIdentityMissing`` is a permanent ``MetadataError``.
"""

from __future__ import annotations

from typing import ClassVar


class MLGitError(Exception):
    """Root of every error mlgit raises on purpose."""

    retryable: ClassVar[bool] = False  # may the same call succeed if run again unchanged?


class ConfigError(MLGitError):
    """`.ml-git/config.yaml` is missing, malformed, or lacks a needed key."""


class NotARepository(ConfigError):
    """The folder is not an mlgit/ML-Git project (no `.ml-git/config.yaml`)."""


class InvalidName(MLGitError):
    """An entity, storage or metric name that cannot be used safely."""


class SpecError(MLGitError):
    """A `.spec` file is missing, malformed, or inconsistent."""


class ManifestError(MLGitError):
    """A `MANIFEST.yaml` or index file is malformed."""


class UnsafePath(ManifestError):
    """A path escapes the workspace (`../`, absolute, or through a symlink)."""


class EntityNotFound(MLGitError):
    """No entity of that name in the workspace or metadata repository."""


class TagNotFound(MLGitError):
    """No tag (or version) that matches."""


class VersionConflict(MLGitError):
    """The version is already taken by another commit."""

    def __init__(self, message: str, tags: list[str] | None = None) -> None:
        super().__init__(message)
        self.tags = tags or []  # the version tags another worker took first


class NothingToCommit(MLGitError):
    """The index holds no change since the last version."""


class LocalChanges(MLGitError):
    """A checkout would overwrite local changes (use force)."""


class UnfinishedCheckout(MLGitError):
    """A checkout stopped while it changed the workspace (killed, or a rename failed): the entity's files are
    partly the new version's; checking it out again finishes it."""

    def __init__(self, message: str, tag: str = "") -> None:
        super().__init__(message)
        self.tag = tag  # the version the checkout was putting in place


class MutabilityError(MLGitError):
    """An operation that the entity's mutability forbids."""


class WorkspaceBusy(MLGitError):
    """Another process holds the workspace lock longer than the timeout."""

    retryable = True  # the other process finishes: a later attempt gets the lock


class MetadataError(MLGitError):
    """A git operation on a metadata repository failed."""

    retryable = True


class GitIdentityMissing(MetadataError):
    """git has no user.name / user.email to sign a metadata commit."""

    retryable = False


class StorageError(MLGitError):
    """A storage backend failed."""

    retryable = True


class StorageNotFound(StorageError):
    """The storage named in a spec is not configured, or its bucket/folder does not exist."""

    retryable = False


class StorageAuthError(StorageError):
    """The storage refused our credentials."""

    retryable = False


class StorageUnreachable(StorageError):
    """The storage's endpoint refused the connection, dropped it, or did not answer in time."""

    retryable = True  # the endpoint may be back by the orchestrator's next attempt


class ObjectNotFound(StorageError):
    """An object is missing from the storage."""

    retryable = False


class CorruptObject(StorageError):
    """An object's bytes do not match its CID."""

    retryable = False


class TransferError(StorageError):
    """Some objects could not be transferred after retries."""

    retryable = True

    def __init__(self, message: str, failed: list[str] | None = None) -> None:
        super().__init__(message)
        self.failed = failed or []


class InvalidSample(MLGitError):
    """A ``--sample-type``/``--sampling``/``--seed`` that cannot choose files from the version."""


class MissingExtra(MLGitError):
    """An optional dependency is not installed."""


# -- untrusted metadata (issue 9) ---------------------------------------------------------------
class UnsafeMetadata(MetadataError):
    """A metadata or project tree holds a symlink, submodule or oversized entry where mlgit reads or
    writes a file (ML-Git metadata holds only regular files)."""

    retryable = False


class TagMoved(MetadataError):
    """A version tag already known here points at another commit on the remote (tags are immutable)."""

    retryable = False

    def __init__(self, message: str, tag: str = "", old: str = "", new: str = "") -> None:
        super().__init__(message)
        self.tag, self.old, self.new = tag, old, new


class LinkMismatch(MetadataError):
    """A lineage link's recorded sha is not the commit its tag points at."""

    retryable = False


class UnsafeRemote(ConfigError):
    """A git URL that would run code (``ext::``), read file descriptors (``fd::``) or inject options."""


class InvalidKey(UnsafePath):
    """An object key (a chunk link, a manifest or index key, a storage key) that is not a CID: it is
    never used as a path or a storage key."""


class DescriptorError(ManifestError):
    """A file's descriptor is malformed, or the sizes it declares disagree with its chunks."""


class TooLarge(MLGitError):
    """A checkout would write more than its spec and descriptors declare, or than the disk holds."""


class DiskFull(MLGitError):
    """The device ran out of space (or quota) while mlgit wrote; nothing half-written is kept."""


class InputFileError(MLGitError):
    """A file given on the command line (e.g. ``--metrics-file``) is not a small regular file."""


def is_retryable(exc: BaseException) -> bool:
    """Whether an orchestrator should run the failed call again: an ``MLGitError`` says so itself;
    a connection error or a timeout that escaped from a library is retryable; anything else is not."""
    if isinstance(exc, MLGitError):
        return exc.retryable
    return isinstance(exc, ConnectionError | TimeoutError)
