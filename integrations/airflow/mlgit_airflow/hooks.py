"""MLGitHook: an Airflow connection of type ``mlgit`` turned into a ``mlgit.Repository``.

The connection holds where the workspace lives on the worker, the metadata remotes (one git URL
per entity type), one storage (type, bucket, endpoint, region) and its keys (login / password).
The keys reach the core in memory only (``storage_credentials``); nothing is written to disk.
"""

from __future__ import annotations

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

STORAGE_TYPES = ("s3h", "local")


class MLGitConnectionError(MLGitInputError):
    """An ``mlgit`` connection that lacks or misstates a field."""


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
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_connection(
        cls, conn: Connection, workspace: str | Path | None = None
    ) -> MLGitConnectionSettings:
        prefix = "extra__mlgit__"  # forms of older Airflow versions stored extras with this prefix
        extra: dict[str, Any] = {k.removeprefix(prefix): v for k, v in conn.extra_dejson.items()}
        where = f"connection {conn.conn_id!r}"
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
        if bool(conn.login) != bool(conn.password):
            raise MLGitConnectionError(f"{where} has only one of login / password; storage keys need both")
        return cls(
            conn_id=conn.conn_id,
            workspace=Path(folder).expanduser(),
            remotes=remotes,
            storage_type=storage_type,
            bucket=bucket,
            storage_path=extra.get("storage_path") or None,
            endpoint_url=extra.get("endpoint_url") or None,
            region=extra.get("region") or "us-east-1",
            profile=extra.get("profile") or None,
            access_key_id=conn.login or None,
            secret_access_key=conn.password or None,
            session_token=extra.get("aws_session_token") or None,
        )

    def storage_credentials(self) -> dict[str, dict[str, str]] | None:
        """The keys of the connection's bucket, in the shape ``mlgit.Repository`` takes them."""
        if not (self.bucket and self.access_key_id and self.secret_access_key):
            return None
        keys = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            keys["aws_session_token"] = self.session_token
        return {self.bucket: keys}


def open_repository(settings: MLGitConnectionSettings) -> Repository:
    """Initialize (first use) or open the workspace the settings describe. Every step is idempotent."""
    from mlgit import Repository

    settings.workspace.mkdir(parents=True, exist_ok=True)
    repo = Repository.init(
        settings.workspace, exist_ok=True, storage_credentials=settings.storage_credentials()
    )
    for entity_type, url in settings.remotes.items():
        repo.remote_add(entity_type, url)
    if settings.storage_type and settings.bucket:
        repo.storage_add(
            settings.bucket,
            type=settings.storage_type,
            path=settings.storage_path,
            credentials=settings.profile,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
        )
    for entity_type in settings.remotes:
        repo.entity_init(entity_type)
    return repo


class MLGitHook(BaseHook):
    """Builds the ``mlgit.Repository`` of a worker's workspace from an ``mlgit`` connection.

    :param mlgit_conn_id: the connection (type ``mlgit``).
    :param workspace: a workspace folder that overrides the connection's ``workspace`` extra.
    """

    conn_name_attr = "mlgit_conn_id"
    default_conn_name = "mlgit_default"
    conn_type = "mlgit"
    hook_name = "mlgit (ML-Git)"

    def __init__(self, mlgit_conn_id: str = default_conn_name, workspace: str | Path | None = None) -> None:
        super().__init__()
        self.mlgit_conn_id = mlgit_conn_id
        self.workspace = workspace
        self._repository: Repository | None = None

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
        """The workspace's repository, initialized (remotes, storage, metadata clones) on first use."""
        if self._repository is None:
            self._repository = open_repository(self.settings())
        return self._repository

    def storage_args(self) -> dict[str, Any]:
        """``storage_type`` and ``bucket`` of the connection, as ``Repository.create`` takes them."""
        settings = self.settings()
        return {"storage_type": settings.storage_type or "s3h", "bucket": settings.bucket}

    def get_conn(self) -> Repository:
        return self.get_repository()

    def test_connection(self) -> tuple[bool, str]:
        try:
            settings = self.settings()
        except Exception as err:  # the UI shows the message; the type does not matter there
            return False, str(err)
        return (
            True,
            f"workspace {settings.workspace}, remotes {sorted(settings.remotes)}, bucket {settings.bucket}",
        )
