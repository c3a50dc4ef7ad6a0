"""``Repository``: one object per workspace folder, with the verbs of the ML-Git how-to.

A thin facade: each verb lives in its own module under ``mlgit/verbs/`` and takes a ``Context``
(``mlgit.context``: the path layout, the entity store, the metadata repositories, the storages).
No ``os.chdir``, no module state: two Repository objects may be used from two threads at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import Context
from .locking import PathLock, locked
from .metadata import MetadataRepo
from .names import MUTABILITIES, entity_type, parse_categories
from .results import FsckResult, Lineage, Link, LinkArg, StatusResult, VersionResult
from .verbs import add as _add
from .verbs import checkout as _checkout
from .verbs import commit as _commit
from .verbs import create as _create
from .verbs import info as _info
from .verbs import push as _push
from .verbs import setup as _setup
from .verbs import status as _status
from .verbs import unlock as _unlock

if TYPE_CHECKING:
    from .layout import Layout
    from .sampling import Sample
    from .store import EntityStore
    from .transfer import Progress
    from .verbs.gc import GcReport
    from .verbs.remote_fsck import RemoteFsckResult
    from .verbs.setup import WorkspaceSetup


class Repository:
    """An ML-Git project folder: ``.ml-git/config.yaml`` plus the entity folders."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        storage_credentials: Mapping[str, Mapping[str, str]] | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.root = Path(path).resolve()
        self.context = Context(self.root, storage_credentials, lock_timeout)
        self.config  # noqa: B018 - fail early, with the path, when this is not a project

    def __repr__(self) -> str:
        return f"Repository({str(self.root)!r})"

    @property
    def workspace_lock(self) -> PathLock:
        """The workspace lock every verb that changes state holds (``mlgit.locking``)."""
        return self.context.workspace_lock

    @property
    def layout(self) -> Layout:
        return self.context.layout

    @property
    def store(self) -> EntityStore:
        return self.context.store

    # -- project setup ------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        exist_ok: bool = True,
        storage_credentials: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Repository:
        return cls(_setup.init_project(path, exist_ok), storage_credentials)

    @classmethod
    def setup(
        cls,
        path: str | os.PathLike[str],
        wanted: WorkspaceSetup,
        storage_credentials: Mapping[str, Mapping[str, str]] | None = None,
        lock_timeout: float | None = None,
    ) -> Repository:
        """The workspace at ``path`` made (or kept) as ``wanted`` says: remotes, storages, git identity,
        metadata clones; the config is written only when a setting differs (``verbs.setup``)."""
        _setup.ensure_workspace(Path(path), wanted, lock_timeout)
        return cls(path, storage_credentials, lock_timeout)

    @property
    def config(self) -> dict[str, Any]:
        return self.context.config

    @locked
    @contextlib.contextmanager
    def global_config(self) -> Iterator[None]:
        """Config changes inside this block go to the global file (ML-Git's ``--global``)."""
        self.context.global_config = True
        try:
            yield
        finally:
            self.context.global_config = False

    def remote_add(self, entity_type_: str, url: str) -> str:
        """Set the metadata remote of a type; returns the URL it replaced ('' when none)."""
        from .verbs.remotes import remote_add

        return remote_add(self.context, entity_type(entity_type_), url)

    def remote_del(self, entity_type_: str) -> str:
        """Forget the metadata remote of a type (ML-Git's ``remote del``); returns the URL removed."""
        from .verbs.remotes import remote_del

        return remote_del(self.context, entity_type(entity_type_))

    @locked
    def storage_add(
        self,
        name: str,
        type: str = "s3h",
        *,
        path: str | None = None,
        credentials: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = "us-east-1",
        username: str | None = None,
        private_key: str | None = None,
        port: int | None = None,
        known_hosts: str | None = None,
    ) -> None:
        """Add a storage (bucket) to the config; the settings a type needs (``verbs.setup``)."""
        where = (path, credentials, endpoint_url, region)
        _setup.storage_add(self.context, name, type, *where, username, private_key, port, known_hosts)

    @locked
    def storage_del(self, name: str, type: str | None = None) -> None:
        _setup.storage_del(self.context, name, type)

    @locked
    def set_config(self, key: str, value: Any) -> None:
        _setup.set_config(self.context, key, value)

    @locked
    def entity_init(self, entity_type_: str, require_remote: bool = False) -> None:
        """Clone the type's metadata remote (without one: a local repository, unless ``require_remote``)."""
        _setup.entity_init(self.context, entity_type(entity_type_), require_remote)

    @locked
    def create(
        self,
        entity_type_: str,
        name: str,
        categories: str | list[str],
        mutability: str = "strict",
        storage_type: str = "s3h",
        bucket: str | None = None,
        entity_dir: str = "",
        version: int = 1,
    ) -> Path:
        """Write ``<type>/<entity_dir>/<name>/<name>.spec``; returns the entity folder."""
        et = entity_type(entity_type_)
        args = (mutability, storage_type, bucket, entity_dir, version)
        return _create.create(self.context, et, name, categories, *args)

    def gc(self) -> GcReport:
        """Remove local objects and cached files that no index and no unpushed version refers to."""
        from .verbs.gc import gc

        return gc(self.context)

    def metadata(self, et: str) -> MetadataRepo:
        return self.context.metadata(et)

    def entity_path(self, entity_type_: str, name: str) -> Path:
        return self.layout.entity_path(entity_type_, name)

    # -- the verbs of the how-to ----------------------------------------------------------------
    def status(self, entity_type_: str, name: str) -> StatusResult:
        return _status.status(self.context, entity_type(entity_type_), name)

    @locked
    def add(
        self,
        entity_type_: str,
        name: str,
        bumpversion: bool = False,
        metrics: Mapping[str, Any] | None = None,
        metrics_file: str | os.PathLike[str] | None = None,
        paths: list[str] | None = None,
    ) -> VersionResult:
        """Stage the entity's changed files (only those under ``paths`` when given)."""
        et = entity_type(entity_type_)
        return _add.add(self.context, et, name, bumpversion, metrics, metrics_file, paths)

    @locked
    def commit(
        self,
        entity_type_: str,
        name: str,
        message: str | None = None,
        version: int | None = None,
        dataset: LinkArg = None,
        labels: LinkArg = None,
        auto_bump: bool = False,
    ) -> VersionResult:
        et = entity_type(entity_type_)
        return _commit.commit(self.context, et, name, message, version, dataset, labels, auto_bump)

    @locked
    def push(
        self,
        entity_type_: str,
        name: str,
        progress: Progress | None = None,
        fail_limit: int | None = None,
        auto_bump: bool = False,
    ) -> VersionResult:
        """Upload the data of every unpushed version on the branch, then push the metadata
        (``verbs.push``: a version number taken by another worker, and ``auto_bump``)."""
        return _push.push(self.context, entity_type(entity_type_), name, progress, fail_limit, auto_bump)

    @locked
    def update(self, entity_type_: str | None = None, require_remote: bool = False) -> None:
        _setup.update(self.context, entity_type(entity_type_) if entity_type_ else None, require_remote)

    @locked
    def checkout(
        self,
        entity_type_: str,
        ref: str | Link | Mapping[str, str],
        version: int | None = None,
        bare: bool = False,
        force: bool = False,
        progress: Progress | None = None,
        fail_limit: int | None = None,
        sample: Sample | Mapping[str, Any] | None = None,
        fetch: bool = False,
    ) -> VersionResult:
        """Materialize a version. ``sample`` checks out a subset, chosen as ML-Git does
        (``mlgit.sampling``). ``fetch`` asks the remote first, so a name means the remote's latest
        (ML-Git's own checkout, and the default here, resolves from the local clone's tags)."""
        et = entity_type(entity_type_)
        args = (version, bare, force, progress, fail_limit, sample, fetch)
        return _checkout.checkout(self.context, et, ref, *args)

    # -- integrity ------------------------------------------------------------------------------
    @locked
    def fsck(self, entity_type_: str, fix: bool = True) -> FsckResult:
        """Verify every local object, cached file and locked workspace file; repair what can be repaired."""
        from .verbs.fsck import fsck

        return fsck(self.context, entity_type(entity_type_), fix)

    @locked
    def unlock(self, entity_type_: str, name: str, file: str) -> Path:
        """Make one file of a flexible entity editable (a private copy, no longer the cache's inode)."""
        return _unlock.unlock(self.context, entity_type(entity_type_), name, file)

    @locked
    def remote_fsck(
        self, entity_type_: str, name: str, thorough: bool = False, fix: bool = True
    ) -> RemoteFsckResult:
        """Check that the storage holds every object of every version of ``name``; re-upload what it lacks."""
        from .verbs.remote_fsck import remote_fsck

        return remote_fsck(self.context, entity_type(entity_type_), name, thorough, fix)

    # -- reading the metadata -----------------------------------------------------------------
    def entities(self, entity_type_: str) -> list[str]:
        """Folders (relative to the type folder) of every entity in the metadata repository."""
        return _info.entities(self.context, entity_type(entity_type_))

    def tags(self, entity_type_: str, name: str, fetch: bool = False) -> list[str]:
        """Version tags of ``name``, oldest first. ``fetch``: the versions on the remote only (fetched,
        so they can be read; the branch and the workspace do not move, unlike ``update``)."""
        return _info.tags(self.context, entity_type(entity_type_), name, fetch)

    def head(self, entity_type_: str, name: str) -> Link | None:
        """The version checked out in this workspace (its tag and commit), None when none."""
        found = self.branch(entity_type_, name)
        return Link(*found) if found else None

    def branch(self, entity_type_: str, name: str) -> tuple[str, str] | None:
        """ML-Git's ``branch`` verb: (tag, sha) of the version checked out (a tag, not a git branch)."""
        return _info.branch(self.context, entity_type(entity_type_), name)

    def show(self, entity_type_: str, name: str) -> dict[str, Any]:
        return _info.show(self.context, entity_type(entity_type_), name)

    def log(self, entity_type_: str, name: str) -> str:
        return _info.log(self.context, entity_type(entity_type_), name)

    def metrics(self, entity_type_: str, name: str) -> dict[str, dict[str, float]]:
        return _info.metrics(self.context, entity_type(entity_type_), name)

    def lineage(self, entity_type_: str, ref: str) -> Lineage:
        """A version and every dataset/labels version it was linked to, recursively."""
        return _info.lineage(self.context, entity_type(entity_type_), ref)

    # -- ML-Git's other verbs (mlgit/verbs/) ---------------------------------------------------
    @locked
    def fetch(
        self,
        entity_type_: str,
        ref: str,
        version: int | None = None,
        progress: Progress | None = None,
        sample: Sample | Mapping[str, Any] | None = None,
    ) -> tuple[str, int]:
        """Download a version's objects into the local store, workspace untouched: (tag, objects fetched)."""
        from .verbs.fetch import fetch

        return fetch(self.context, entity_type(entity_type_), ref, version, progress, sample)

    @locked
    def reset(self, entity_type_: str, name: str, mode: str = "hard", reference: str = "head") -> str | None:
        """ML-Git's reset (soft/mixed/hard, head or head~1); returns the tag checked out afterwards."""
        from .verbs.reset import reset

        return reset(self.context, entity_type(entity_type_), name, mode, reference)

    @locked
    def tag_add(self, entity_type_: str, name: str, tag: str) -> str:
        from .verbs.tag import tag_add

        return tag_add(self.context, entity_type(entity_type_), name, tag)

    def diff(
        self, entity_type_: str, name: str, first: str, second: str
    ) -> tuple[list[str], list[str], list[str]]:
        """(added, updated, deleted) paths between two versions of ``name``."""
        from .verbs.history import diff

        return diff(self.context, entity_type(entity_type_), name, first, second)

    def export(self, entity_type_: str, tag: str, bucket: str, **options: Any) -> int:
        """Copy a version's objects to another bucket; returns the objects written."""
        from .verbs.export import export

        return export(self.context, entity_type(entity_type_), tag, bucket, **options)

    @locked
    def import_files(self, entity_type_: str, bucket: str, entity_dir: str, **options: Any) -> list[str]:
        """Copy plain files from a bucket into ``<type>/entity_dir``; returns the paths written."""
        from .verbs.importer import import_files

        return import_files(self.context, entity_type(entity_type_), bucket, entity_dir, **options)


__all__ = ["Repository", "MUTABILITIES", "parse_categories"]
