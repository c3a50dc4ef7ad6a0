"""One exception tree. Every message says what was expected, what was found, and where."""

from __future__ import annotations


class MLGitError(Exception):
    """Root of every error mlgit raises on purpose."""


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


class MutabilityError(MLGitError):
    """An operation that the entity's mutability forbids."""


class WorkspaceBusy(MLGitError):
    """Another process holds the workspace lock longer than the timeout."""


class MetadataError(MLGitError):
    """A git operation on a metadata repository failed."""


class GitIdentityMissing(MetadataError):
    """git has no user.name / user.email to sign a metadata commit."""


class StorageError(MLGitError):
    """A storage backend failed."""


class StorageNotFound(StorageError):
    """The storage named in a spec is not configured, or its bucket/folder does not exist."""


class StorageAuthError(StorageError):
    """The storage refused our credentials."""


class StorageUnreachable(StorageError):
    """The storage's endpoint refused the connection, dropped it, or did not answer in time."""


class ObjectNotFound(StorageError):
    """An object is missing from the storage."""


class CorruptObject(StorageError):
    """An object's bytes do not match its CID."""


class TransferError(StorageError):
    """Some objects could not be transferred after retries."""

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


class TagMoved(MetadataError):
    """A version tag already known here points at another commit on the remote (tags are immutable)."""

    def __init__(self, message: str, tag: str = "", old: str = "", new: str = "") -> None:
        super().__init__(message)
        self.tag, self.old, self.new = tag, old, new


class LinkMismatch(MetadataError):
    """A lineage link's recorded sha is not the commit its tag points at."""


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
