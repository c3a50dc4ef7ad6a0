"""Prefect blocks: where an mlgit workspace lives and how it reaches its remotes and storage.

Keys live in their own block (``MLGitCredentials``, as prefect-aws keeps ``AwsCredentials`` apart
from ``S3Bucket``): one set of keys can serve several repositories, and rotating them touches one
document. They reach ``mlgit.Repository`` in memory only, never its config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from mlgit import ConfigError, Repository, StorageSpec, WorkspaceSetup, runs
from mlgit.names import ENTITY_TYPES, entity_type


def plural_entity_type(value: str) -> str:
    """``dataset`` -> ``datasets`` (the form results carry); the core owns the types (``InvalidName``
    for anything else, failed at once like Airflow's operators)."""
    return entity_type(value)


class BlockNotFound(ConfigError):
    """No saved block of that name on the Prefect API."""


class MLGitCredentials(Block):
    """The storage secret of an ``MLGitRepository``: S3 / MinIO keys, an SSH key (or password) for an
    SFTP storage, or an Azure connection string. Set the fields of the repository's storage type."""

    _block_type_name = "MLGit Credentials"
    _block_type_slug = "mlgit-credentials"
    _description = (
        "The storage secret of an mlgit repository (kept apart from it): S3 keys, an SSH private key "
        "and its passphrase or an SSH password (sftph), or an Azure connection string (azureblobh)."
    )
    _documentation_url = "https://github.com/HPInc/ml-git"  # type: ignore[assignment]

    aws_access_key_id: str | None = Field(default=None, title="Access key id")
    aws_secret_access_key: SecretStr | None = Field(default=None, title="Secret access key")
    aws_session_token: SecretStr | None = Field(
        default=None, title="Session token", description="Only for temporary (STS) credentials."
    )
    private_key: SecretStr | None = Field(
        default=None, title="SSH private key (sftph)", description="The key itself (OpenSSH/PEM text)."
    )
    passphrase: SecretStr | None = Field(
        default=None,
        title="SSH key passphrase (sftph)",
        description="Of private_key, or of the repository's private_key_path.",
    )
    password: SecretStr | None = Field(
        default=None, title="SSH password (sftph)", description="Only for a server without key login."
    )
    connection_string: SecretStr | None = Field(
        default=None,
        title="Azure connection string (azureblobh)",
        description="DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...",
    )

    def storage_credentials(self) -> dict[str, str]:
        """The mapping ``Repository(storage_credentials={bucket: ...})`` expects; empty when unset.
        Each storage reads its own keys (S3 the aws_ ones, SFTP the SSH ones, Azure the string)."""
        out = {
            name: secret.get_secret_value()
            for name in ("private_key", "passphrase", "password", "connection_string")
            if (secret := getattr(self, name)) is not None
        }
        if not self.aws_access_key_id or self.aws_secret_access_key is None:
            return out
        out |= {
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key.get_secret_value(),
        }
        if self.aws_session_token is not None:
            out["aws_session_token"] = self.aws_session_token.get_secret_value()
        return out


class MLGitRepository(Block):
    """An ML-Git project on this worker: its metadata remotes and the storage of its objects."""

    _block_type_name = "MLGit Repository"
    _block_type_slug = "mlgit-repository"
    _description = (
        "An ML-Git compatible workspace: git remotes for dataset/labels/model metadata and the "
        "bucket (S3, MinIO, an SFTP folder, an Azure container or a local folder) holding their content-addressed objects."
    )
    _documentation_url = "https://github.com/HPInc/ml-git"  # type: ignore[assignment]

    workspace: str = Field(
        title="Workspace",
        description="Folder of the ML-Git project on the worker (created and configured when missing).",
    )
    datasets_remote: str | None = Field(
        default=None, description="git URL of the datasets metadata repository."
    )
    labels_remote: str | None = Field(default=None, description="git URL of the labels metadata repository.")
    models_remote: str | None = Field(default=None, description="git URL of the models metadata repository.")
    storage_type: Literal["s3h", "local", "sftph", "azureblobh"] = Field(
        default="s3h",
        description="s3h: AWS S3 or an S3-compatible server (MinIO); local: a folder used as bucket; "
        "sftph: a folder on an SSH server (SFTP); azureblobh: an Azure Blob container.",
    )
    bucket: str = Field(
        description="Bucket (s3h) or storage name (local) used by every entity type by default."
    )
    buckets: dict[str, str] = Field(
        default_factory=dict,
        description="Per entity type bucket, e.g. {'labels': 'mlgit-labels'}; others use `bucket`.",
    )
    storage_path: str | None = Field(
        default=None, description="storage_type local: the folder holding one sub-folder per bucket name."
    )
    endpoint_url: str | None = Field(
        default=None, description="s3h: the endpoint, e.g. a MinIO URL, empty for AWS; sftph: the SSH host."
    )
    username: str | None = Field(default=None, description="sftph: the SSH user.")
    port: int | None = Field(default=None, ge=1, le=65535, description="sftph: the SSH port (22 when empty).")
    private_key_path: str | None = Field(
        default=None,
        description="sftph: a private key file on the worker (or put the key in the credentials).",
    )
    known_hosts: str | None = Field(
        default=None, description="sftph: a known_hosts file on the worker; a host not in it is refused."
    )
    region: str = Field(default="us-east-1")
    aws_profile: str | None = Field(
        default=None, description="AWS profile written to the config when no credentials block is given."
    )
    credentials: MLGitCredentials | None = Field(
        default=None,
        description="The storage secret: S3 keys, SSH key/password, Azure connection string (SecretStr).",
    )
    run_folders: bool = Field(
        default=True,
        description="Inside a flow run, work in <workspace>/runs/<flow run>/ (cache, objects and git objects "
        "shared per host); off: every run shares the workspace folder itself.",
    )
    keep_failed_runs_hours: float = Field(
        default=72.0, description="How long the folder of a failed flow run is kept for inspection."
    )
    git_author_name: str | None = Field(
        default=None, description="git author/committer name of metadata commits."
    )
    git_author_email: str | None = Field(
        default=None, description="git author/committer email of metadata commits."
    )

    def bucket_for(self, entity_type: str) -> str:
        return self.buckets.get(plural_entity_type(entity_type), self.bucket)

    def all_buckets(self) -> list[str]:
        return sorted({self.bucket, *self.buckets.values()})

    def get_repository(self) -> Repository:
        """The configured ``Repository``: initialized, remotes and storages set, metadata cloned. Idempotent."""
        keys = self.credentials.storage_credentials() if self.credentials is not None else {}
        creds = {bucket: keys for bucket in self.all_buckets()} if keys else None
        root = Path(self.workspace).expanduser()
        run = self.run_folder()
        if run is not None:
            root = runs.prepare(root, run.key, self.remotes(), run.info).path
            runs.sweep(self.workspace, flow_run_state, keep_failed=self.keep_failed_runs_hours * 3600)
        return Repository.setup(root, self.workspace_setup(), storage_credentials=creds)

    def remotes(self) -> dict[str, str]:
        return {
            et: str(getattr(self, f"{et}_remote")) for et in ENTITY_TYPES if getattr(self, f"{et}_remote")
        }

    def run_folder(self) -> runs.RunFolder | None:
        """The running flow run's folder (its key is the flow run id), None outside a flow run."""
        from prefect import runtime

        flow_run_id = runtime.flow_run.id
        if not self.run_folders or not flow_run_id:
            return None
        root = Path(self.workspace).expanduser().resolve()
        return runs.RunFolder(
            root, runs.run_key("flow-run", str(flow_run_id)), {"flow_run_id": str(flow_run_id)}
        )

    def workspace_setup(self) -> WorkspaceSetup:
        """What the workspace must hold, for the core's one setup (``Repository.setup``: under a file
        lock, the config written only when a setting differs)."""
        storages = []
        for bucket in self.all_buckets():
            if self.storage_type == "local":
                if not self.storage_path:
                    named = f" {self._block_document_name!r}" if self._block_document_name else ""
                    raise ConfigError(
                        f"MLGitRepository{named}: storage_type local needs "
                        f"storage_path (the folder used as bucket {bucket!r}), found none"
                    )
                storages.append(
                    StorageSpec(bucket, "local", path=str(Path(self.storage_path).expanduser() / bucket))
                )
            elif self.storage_type in ("sftph", "azureblobh"):
                storages.append(
                    StorageSpec(
                        bucket,
                        self.storage_type,
                        endpoint_url=self.endpoint_url,
                        username=self.username,
                        private_key=self.private_key_path,
                        port=self.port,
                        known_hosts=self.known_hosts,
                    )
                )
            else:
                storages.append(
                    StorageSpec(
                        bucket,
                        "s3h",
                        credentials=self.aws_profile,
                        endpoint_url=self.endpoint_url,
                        region=self.region,
                    )
                )
        return WorkspaceSetup(
            remotes=self.remotes(),
            storages=storages,
            git_author_name=self.git_author_name,
            git_author_email=self.git_author_email,
        )


def flow_run_state(info: Mapping[str, Any]) -> str | None:
    """The state of the flow run a run folder belongs to, from the Prefect API; None when unknown."""
    if not info.get("flow_run_id"):
        return None
    from uuid import UUID

    from prefect import get_client

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(str(info["flow_run_id"]))).state
    except Exception:  # a deleted run, an API that does not answer: unknown
        return None
    if state is None:
        return None
    kind = str(state.type.value).upper()
    if kind == "COMPLETED":
        return "success"
    if kind in ("FAILED", "CRASHED", "CANCELLED"):
        return "failed"
    return "running"


def load_repository_block(ref: MLGitRepository | str) -> MLGitRepository:
    """A block given as is, or loaded by its saved name; one clear error when there is none."""
    if isinstance(ref, MLGitRepository):
        return ref
    if not isinstance(ref, str) or not ref:
        raise BlockNotFound(
            f"repository: expected an MLGitRepository block or the name of a saved one, found {ref!r}"
        )
    try:
        block = MLGitRepository.load(ref)
    except ValueError as exc:
        from prefect.settings import PREFECT_API_URL

        raise BlockNotFound(
            f"no MLGitRepository block named {ref!r} on the Prefect API ({PREFECT_API_URL.value() or 'ephemeral'}); "
            f"save one first: MLGitRepository(workspace=..., bucket=...).save({ref!r})"
        ) from exc
    return block  # type: ignore[return-value]
