"""mlgit: versioning of ML datasets, labels and models, ML-Git compatible, for pipelines."""

from .errors import (
    ConfigError,
    CorruptObject,
    EntityNotFound,
    GitIdentityMissing,
    InvalidName,
    LocalChanges,
    ManifestError,
    MetadataError,
    MissingExtra,
    MLGitError,
    MutabilityError,
    NotARepository,
    NothingToCommit,
    ObjectNotFound,
    SpecError,
    StorageAuthError,
    StorageError,
    StorageNotFound,
    TagNotFound,
    TransferError,
    UnsafePath,
    VersionConflict,
)
from .names import entity_type, make_tag, parse_tag
from .repository import Repository
from .results import FsckResult, Lineage, LineageNode, Link, StatusResult, VersionResult

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "CorruptObject", "EntityNotFound", "FsckResult", "GitIdentityMissing", "InvalidName",
    "Lineage", "LineageNode", "Link", "LocalChanges", "MLGitError", "ManifestError", "MetadataError",
    "MissingExtra", "MutabilityError", "NotARepository", "NothingToCommit", "ObjectNotFound", "Repository",
    "SpecError", "StatusResult", "StorageAuthError", "StorageError", "StorageNotFound", "TagNotFound",
    "TransferError", "UnsafePath", "VersionConflict", "VersionResult", "entity_type", "make_tag", "parse_tag",
]
