"""Project setup: ``init``, ``repository storage add/del``, ``config``, ``<type> init``, ``<type> update``."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config as cfg
from ..errors import (
    ConfigError,
    MetadataError,
)
from ..gitsafe import check_remote_url
from ..locking import PathLock
from ..names import check_name, entity_type
from ..storage.local import check_bucket_folder

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


def storage_add(
    ctx: Context,
    name: str,
    type: str = "s3h",
    path: str | None = None,
    credentials: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = "us-east-1",
    username: str | None = None,
    private_key: str | None = None,
    port: int | None = None,
    known_hosts: str | None = None,
) -> None:
    spec = StorageSpec(
        name, type, path, credentials, endpoint_url, region, username, private_key, port, known_hosts
    )
    settings = storage_section(ctx.root, spec)

    def apply(data: dict[str, Any]) -> None:
        data.setdefault("storages", {}).setdefault(type, {})[name] = settings

    ctx.update_config(apply)


@dataclass(frozen=True)
class StorageSpec:
    """One storage (bucket) of a workspace, as ``repository storage add`` takes it."""

    name: str
    type: str = "s3h"
    path: str | None = None  # local: the folder used as the bucket
    credentials: str | None = None  # s3h: an AWS profile (None: the credential chain)
    endpoint_url: str | None = None  # s3h: MinIO & co.; sftph: the SSH host
    region: str | None = "us-east-1"
    username: str | None = None
    private_key: str | None = None  # sftph: a key file on this host
    port: int | None = None
    known_hosts: str | None = None


@dataclass(frozen=True)
class WorkspaceSetup:
    """What an orchestrated workspace must hold: metadata remotes, storages, the git identity of its
    metadata commits. ``ensure_workspace`` makes a folder say exactly that, writing only what differs."""

    remotes: Mapping[str, str] = field(default_factory=dict)
    storages: Sequence[StorageSpec] = ()
    git_author_name: str | None = None
    git_author_email: str | None = None


#: in .ml-git/: held while a workspace is set up (one setup at a time; verbs are not kept waiting)
SETUP_LOCK = "setup.lock"


def ensure_workspace(root: Path, wanted: WorkspaceSetup, lock_timeout: float | None = None) -> bool:
    """Create ``root`` or bring it to ``wanted``: the project config (written once, and again only
    when a setting differs), a metadata clone per remote, the git identity in each. Idempotent and
    safe from many processes at once: one sets the folder up, the others find it done. Changes to an
    existing project are made under the workspace lock too, so no verb of another process sees them
    half made. Returns whether anything was written. The one owner of workspace setup: the Airflow
    hook, the Prefect block and ``mlgit demo`` call it (``Repository.setup``)."""
    from ..context import Context

    root = Path(root).expanduser().resolve()
    if cfg.MLGIT_DIR in root.parts:
        raise ConfigError(f"{root} is inside a {cfg.MLGIT_DIR} folder; expected a project folder")
    remotes = {entity_type(et): str(url) for et, url in wanted.remotes.items()}
    for et, url in remotes.items():
        check_remote_url(url, f"{et} metadata remote")
    sections = [(spec, storage_section(root, spec)) for spec in wanted.storages]
    identity = [
        (k, v) for k, v in (("name", wanted.git_author_name), ("email", wanted.git_author_email)) if v
    ]
    (root / cfg.MLGIT_DIR).mkdir(parents=True, exist_ok=True)
    with PathLock(root / cfg.MLGIT_DIR / SETUP_LOCK, f"setup of workspace {root}", lock_timeout).hold(
        "setup"
    ):
        fresh = not cfg.config_path(root).exists()
        current = cfg.initial() if fresh else cfg.load_local(root)
        data = copy.deepcopy(current)
        for et, url in remotes.items():
            data[et] = {**(data.get(et) or {}), "git": url}
        for spec, section in sections:
            storages = data["storages"] = data.get("storages") or {}
            storages[spec.type] = {**(storages.get(spec.type) or {}), spec.name: section}
        written = fresh or data != current
        if fresh:  # a new project: no verb works here yet
            cfg.save(root, data)
        ctx = Context(root, lock_timeout=lock_timeout)
        pending = [et for et in remotes if _clone_differs(ctx, et, remotes[et], identity)]
        if not written and not pending:
            return False
        with ctx.workspace_lock.hold("setup"):
            if written and not fresh:
                cfg.save(root, data)
            for et in pending:
                md = ctx.metadata(et)
                md.init(remotes[et])
                for key, value in identity:
                    if _git_config(ctx, et, key) != value:
                        md.git("config", f"user.{key}", value)
    log.info(
        "workspace %s: set up (config %s, %d metadata clone(s) made or changed)",
        root,
        "written" if written else "kept",
        len(pending),
    )
    return True


def _git_config(ctx: Context, et: str, key: str) -> str:
    """``user.<key>`` of the type's clone, read from its config file (no git process)."""
    reader = ctx.metadata(et).repo.config_reader("repository")
    return str(reader.get_value("user", key, "")).strip()


def _clone_differs(ctx: Context, et: str, url: str, identity: list[tuple[str, str]]) -> bool:
    md = ctx.metadata(et)
    if not md.exists or md.remote_url() != url:
        return True
    return any(_git_config(ctx, et, key) != value for key, value in identity)


def storage_section(root: Path, spec: StorageSpec) -> dict[str, Any]:
    """The config section of a storage, checked (its name, a local bucket folder's place; that
    folder is made when missing)."""
    name, type, path = spec.name, spec.type, spec.path
    credentials, endpoint_url, region = spec.credentials, spec.endpoint_url, spec.region
    username, private_key, port, known_hosts = spec.username, spec.private_key, spec.port, spec.known_hosts
    check_name(name, "storage name")
    if type == "local":
        if not path:
            raise ConfigError(f"storage local://{name}: expected --path=DIR (the folder used as a bucket)")
        settings: dict[str, Any] = {"path": str(path)}
        folder = Path(path) if Path(path).is_absolute() else root / path
        check_bucket_folder(folder, root, f"local://{name}")
        folder.mkdir(parents=True, exist_ok=True)
    elif type in ("s3h", "s3"):
        settings = {  # as ML-Git writes it: null profile = the AWS credential chain
            "aws-credentials": {"profile": credentials or None},
            "region": region or "us-east-1",
            "endpoint-url": endpoint_url or None,
        }
    elif type in ("sftph", "azureblobh"):
        from ..storage.settings import storage_settings

        settings = storage_settings(type, name, endpoint_url, username, private_key, port, known_hosts)
    else:
        raise ConfigError(f"storage type: expected local, s3h, sftph or azureblobh, found {type!r}")
    return settings


def storage_del(ctx: Context, name: str, type: str | None = None) -> None:
    def apply(data: dict[str, Any]) -> None:
        found = False
        for scheme, section in (data.get("storages") or {}).items():
            if (type is None or scheme == type) and name in (section or {}):
                del section[name]
                found = True
        if not found:
            raise ConfigError(f"storage {name!r} is not in {cfg.config_path(ctx.root)}")

    ctx.update_config(apply)


def set_config(ctx: Context, key: str, value: Any) -> None:
    def apply(data: dict[str, Any]) -> None:
        data[key] = value

    ctx.update_config(apply)


def entity_init(ctx: Context, et: str, require_remote: bool = False) -> None:
    """Clone the type's metadata remote (without one: a local repository, unless ``require_remote``)."""
    url = str(ctx.config[et].get("git") or "")
    if require_remote and not url:
        raise ConfigError(
            f"Unable to find remote repository. Add the remote first: no {et}.git in "
            f"{cfg.config_path(ctx.root)}; run: ml-git repository remote {et} add URL"
        )
    ctx.metadata(et).init(url)


def update(ctx: Context, only: str | None = None, require_remote: bool = False) -> None:
    """Pull the metadata repository of ``only`` (cloned when absent), or of every type already cloned."""
    types = [only] if only else list(cfg.ENTITY_TYPES)
    for et in types:
        if require_remote and not (ctx.config.get(et) or {}).get("git"):
            raise MetadataError(
                f"Remote URL not found. Could not update metadata: no {et}.git in {cfg.config_path(ctx.root)}"
            )
        md = ctx.metadata(et)
        if md.exists:
            md.update()
        elif only:
            md.init(str(ctx.config[et].get("git") or ""))


def init_project(path: str | os.PathLike[str], exist_ok: bool = True) -> Path:
    """Create ``.ml-git/config.yaml`` in ``path`` (kept when it exists and ``exist_ok``); returns the root."""
    root = Path(path).resolve()
    if cfg.MLGIT_DIR in root.parts:
        raise ConfigError(f"{root} is inside a {cfg.MLGIT_DIR} folder; expected a project folder")
    if cfg.config_path(root).exists():
        if not exist_ok:
            raise ConfigError(f"{root} is already an ML-Git project ({cfg.config_path(root)} exists)")
    else:
        root.mkdir(parents=True, exist_ok=True)
        cfg.save(root, cfg.initial())
    return root
