"""MLGitHook: an Airflow connection of type ``mlgit`` turned into a ``mlgit.Repository``.

The connection holds where the workspace lives on the worker, the metadata remotes (one git URL
per entity type), one storage (type, bucket, endpoint, region) and its secret (login / password:
S3 keys; SSH user and key passphrase or password; Azure connection string; extra ``private_key``:
an SSH key itself). The secrets reach the core in memory only (``storage_credentials``), are masked
in task logs, and nothing is written to disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from mlgit_airflow._entities import ENTITY_TYPES, MLGitInputError
from mlgit_airflow._fields import CONN_FIELDS, UI_FIELD_BEHAVIOUR

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from mlgit import Repository
    from mlgit.runs import RunFolder

STORAGE_TYPES = ("s3h", "local", "sftph", "azureblobh")
#: extra fields that hold a secret: masked in logs as soon as they are read
SECRET_EXTRAS = ("aws_session_token", "private_key")


class MLGitConnectionError(MLGitInputError):
    """An ``mlgit`` connection that lacks or misstates a field."""


def _extra(conn: Connection, where: str) -> dict[str, Any]:
    """The extra fields, parsed here rather than by ``conn.extra_dejson``: that one registers every
    value as a secret (paths, URLs, bucket names vanish from logs; short ones such as ``s3h`` log
    "Skipping masking for a secret as it's too short" on every read). Only SECRET_EXTRAS are secrets."""
    try:
        extra = json.loads(conn.extra) if conn.extra else {}
    except ValueError as exc:
        raise MLGitConnectionError(f"{where}: extra is not valid JSON ({exc})") from None
    if not isinstance(extra, dict):
        raise MLGitConnectionError(f"{where}: extra must be a JSON object, found {type(extra).__name__}")
    for name in SECRET_EXTRAS:
        _mask(extra.get(name) or extra.get(f"extra__mlgit__{name}"))
    return extra


def _mask(secret: Any) -> None:
    """Mask a secret in task logs; a multi-line one (an SSH key) line by line too, and the account key
    of an Azure connection string on its own, as either may be printed apart from the rest."""
    if not secret:
        return
    from airflow.sdk.log import mask_secret

    text = str(secret)
    mask_secret(text)
    for part in [*text.splitlines(), *text.split(";")]:
        part = part.strip()
        if part and not part.startswith("-----"):
            mask_secret(part.split("=", 1)[1] if part.startswith("AccountKey=") else part)


@dataclass(frozen=True)
class MLGitConnectionSettings:
    """What an ``mlgit`` connection says, checked. The secret is kept out of ``repr``."""

    conn_id: str
    workspace: Path
    remotes: Mapping[str, str]
    storage_type: str | None = None
    bucket: str | None = None
    storage_path: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"
    profile: str | None = None
    port: int | None = None
    private_key_path: str | None = None
    known_hosts: str | None = None
    run_folders: bool = True
    keep_failed_runs_hours: float = 72.0
    git_author_name: str | None = None
    git_author_email: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_connection(
        cls, conn: Connection, workspace: str | Path | None = None
    ) -> MLGitConnectionSettings:
        prefix = "extra__mlgit__"  # forms of older Airflow versions stored extras with this prefix
        where = f"connection {conn.conn_id!r}"
        extra: dict[str, Any] = {k.removeprefix(prefix): v for k, v in _extra(conn, where).items()}
        if conn.conn_type and conn.conn_type != "mlgit":
            raise MLGitConnectionError(f"{where} has conn_type {conn.conn_type!r}; expected 'mlgit'")
        unknown = sorted(set(extra) - set(CONN_FIELDS))
        if unknown:
            raise MLGitConnectionError(
                f"{where} has unknown extra keys {unknown}; known: {sorted(CONN_FIELDS)}"
            )
        folder = workspace or extra.get("workspace")
        if not folder:
            raise MLGitConnectionError(
                f"{where} names no workspace folder: set extra 'workspace' (a folder on the worker) "
                "or pass workspace= to the hook/operator"
            )
        remotes = {et: str(extra[f"{et}_remote"]) for et in ENTITY_TYPES if extra.get(f"{et}_remote")}
        storage_type = extra.get("storage_type") or ("s3h" if extra.get("bucket") else None)
        if storage_type is not None and storage_type not in STORAGE_TYPES:
            raise MLGitConnectionError(
                f"{where} has storage_type {storage_type!r}; expected one of {list(STORAGE_TYPES)}"
            )
        bucket = extra.get("bucket") or None
        if storage_type and not bucket:
            raise MLGitConnectionError(
                f"{where} has storage_type {storage_type!r} but no 'bucket' (storage name)"
            )
        if storage_type == "local" and not extra.get("storage_path"):
            raise MLGitConnectionError(
                f"{where}: a local storage needs 'storage_path' (the folder used as bucket)"
            )
        _mask(conn.password)
        if storage_type in (None, "s3h") and bool(conn.login) != bool(conn.password):
            raise MLGitConnectionError(f"{where} has only one of login / password; storage keys need both")
        if storage_type == "sftph" and not extra.get("endpoint_url"):
            raise MLGitConnectionError(f"{where}: an sftph storage needs 'endpoint_url' (the SSH host)")
        if extra.get("private_key") and extra.get("private_key_path"):
            raise MLGitConnectionError(
                f"{where} has both 'private_key' and 'private_key_path'; give the key or its file, not both"
            )
        port = extra.get("port") or None
        try:
            port = int(port) if port is not None else None
        except (TypeError, ValueError):
            raise MLGitConnectionError(f"{where}: port must be a number (1..65535), found {port!r}") from None
        run_folders = extra.get("run_folders", True)
        if isinstance(run_folders, str):
            run_folders = run_folders.strip().lower() not in ("false", "0", "no", "off", "")
        try:
            keep_failed = float(extra.get("keep_failed_runs_hours") or 72)
        except (TypeError, ValueError):
            raise MLGitConnectionError(
                f"{where}: keep_failed_runs_hours must be a number of hours, "
                f"found {extra.get('keep_failed_runs_hours')!r}"
            ) from None
        return cls(
            run_folders=bool(run_folders),
            keep_failed_runs_hours=keep_failed,
            git_author_name=extra.get("git_author_name") or None,
            git_author_email=extra.get("git_author_email") or None,
            conn_id=conn.conn_id,
            workspace=Path(folder).expanduser(),
            remotes=remotes,
            storage_type=storage_type,
            bucket=bucket,
            storage_path=extra.get("storage_path") or None,
            endpoint_url=extra.get("endpoint_url") or None,
            region=extra.get("region") or "us-east-1",
            profile=extra.get("profile") or None,
            port=port,
            private_key_path=extra.get("private_key_path") or None,
            known_hosts=extra.get("known_hosts") or None,
            private_key=extra.get("private_key") or None,
            access_key_id=conn.login or None,
            secret_access_key=conn.password or None,
            session_token=extra.get("aws_session_token") or None,
        )

    def storage_credentials(self) -> dict[str, dict[str, str]] | None:
        """The keys of the connection's bucket, in the shape ``mlgit.Repository`` takes them."""
        if self.bucket and self.storage_type == "azureblobh":
            secret = self.secret_access_key
            return {self.bucket: {"connection_string": secret}} if secret else None
        if self.bucket and self.storage_type == "sftph":
            keys = {"username": self.access_key_id or ""}
            if self.private_key:
                keys["private_key"] = self.private_key
            if self.secret_access_key:  # with a key, its passphrase; without, the SSH password
                has_key = self.private_key or self.private_key_path
                keys["passphrase" if has_key else "password"] = self.secret_access_key
            return {self.bucket: {k: v for k, v in keys.items() if v}}
        if not (self.bucket and self.access_key_id and self.secret_access_key):
            return None
        keys = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            keys["aws_session_token"] = self.session_token
        return {self.bucket: keys}


def open_repository(settings: MLGitConnectionSettings, run: Mapping[str, str] | None = None) -> Repository:
    """Initialize (first use) or open the workspace the settings describe, through the core's one
    setup (``Repository.setup``: under a file lock, the config written only when it changes).

    With ``run`` (``{dag_id, run_id}``) and the connection's ``run_folders`` on, that is the DAG run's
    own folder under the workspace root (``mlgit.runs``); finished runs' folders are swept on the way."""
    from mlgit import Repository, StorageSpec, WorkspaceSetup, runs
    from mlgit_airflow.runs import dag_run_state, key_of

    settings.workspace.mkdir(parents=True, exist_ok=True)
    folder = settings.workspace
    if run is not None and settings.run_folders:
        folder = runs.prepare(settings.workspace, key_of(run), settings.remotes, run).path
        runs.sweep(settings.workspace, dag_run_state, keep_failed=settings.keep_failed_runs_hours * 3600)
    storages = []
    if settings.storage_type and settings.bucket:
        storages.append(
            StorageSpec(
                settings.bucket,
                settings.storage_type,
                path=settings.storage_path,
                credentials=settings.profile,
                endpoint_url=settings.endpoint_url,
                region=settings.region,
                username=settings.access_key_id if settings.storage_type == "sftph" else None,
                private_key=settings.private_key_path,
                port=settings.port,
                known_hosts=settings.known_hosts,
            )
        )
    wanted = WorkspaceSetup(
        remotes=dict(settings.remotes),
        storages=storages,
        git_author_name=settings.git_author_name,
        git_author_email=settings.git_author_email,
    )
    return Repository.setup(folder, wanted, storage_credentials=settings.storage_credentials())


class MLGitHook(BaseHook):
    """Builds the ``mlgit.Repository`` of a worker's workspace from an ``mlgit`` connection.

    :param mlgit_conn_id: the connection (type ``mlgit``).
    :param workspace: a workspace folder that overrides the connection's ``workspace`` extra.
    """

    conn_name_attr = "mlgit_conn_id"
    default_conn_name = "mlgit_default"
    conn_type = "mlgit"
    hook_name = "mlgit (ML-Git)"

    def __init__(
        self,
        mlgit_conn_id: str = default_conn_name,
        workspace: str | Path | None = None,
        run_folder: bool = True,
    ) -> None:
        super().__init__()
        self.mlgit_conn_id = mlgit_conn_id
        self.workspace = workspace
        self.use_run_folder = run_folder
        self._repository: Repository | None = None
        self.run: dict[str, str] | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            key: (value.copy() if isinstance(value, dict | list) else value)
            for key, value in UI_FIELD_BEHAVIOUR.items()
        }

    def settings(self) -> MLGitConnectionSettings:
        return MLGitConnectionSettings.from_connection(
            self.get_connection(self.mlgit_conn_id), self.workspace
        )

    def get_repository(self) -> Repository:
        """The repository of this DAG run's folder (inside a task), or of the workspace root (outside
        one), initialized (remotes, storage, metadata clones) on first use."""
        if self._repository is None:
            from mlgit_airflow.runs import current_run

            settings = self.settings()
            self.run = current_run() if self.use_run_folder and settings.run_folders else None
            self._repository = open_repository(settings, self.run)
        return self._repository

    def run_folder(self) -> RunFolder | None:
        """Where this DAG run's records live (what it committed and pushed), None outside a run."""
        from mlgit.runs import RunFolder
        from mlgit_airflow.runs import key_of

        self.get_repository()
        if self.run is None:
            return None
        return RunFolder(self.settings().workspace.resolve(), key_of(self.run), self.run)

    def storage_args(self) -> dict[str, Any]:
        """``storage_type`` and ``bucket`` of the connection, as ``Repository.create`` takes them."""
        settings = self.settings()
        return {"storage_type": settings.storage_type or "s3h", "bucket": settings.bucket}

    def get_conn(self) -> Repository:
        return self.get_repository()

    def test_connection(self) -> tuple[bool, str]:
        """Reach every metadata remote (``git ls-remote``) and the storage with its secret (S3: HeadBucket;
        SFTP: log in and stat the folder; Azure: the container's properties)."""
        from mlgit.probe import check_all
        from mlgit.storage.settings import storage_settings

        try:
            settings = self.settings()
            storages: dict[str, Any] = {}
            uri = None
            if settings.storage_type and settings.bucket:
                uri = f"{settings.storage_type}://{settings.bucket}"
                if settings.storage_type == "local":
                    section: dict[str, Any] = {"path": settings.storage_path}
                elif settings.storage_type in ("sftph", "azureblobh"):
                    section = storage_settings(
                        settings.storage_type,
                        settings.bucket,
                        settings.endpoint_url,
                        settings.access_key_id,
                        settings.private_key_path,
                        settings.port,
                        settings.known_hosts,
                    )
                else:
                    section = {"aws-credentials": {"profile": settings.profile}, "region": settings.region}
                    if settings.endpoint_url:
                        section["endpoint-url"] = settings.endpoint_url
                storages = {settings.storage_type: {settings.bucket: section}}
            creds = (settings.storage_credentials() or {}).get(settings.bucket or "")
            problems = check_all(settings.remotes, uri, storages, creds)
        except Exception as err:  # the UI shows the message; the type does not matter there
            return False, str(err)
        if problems:
            return False, "; ".join(problems)
        return (
            True,
            f"reached remotes {sorted(settings.remotes)} and bucket {settings.bucket}; workspace root {settings.workspace}",
        )
