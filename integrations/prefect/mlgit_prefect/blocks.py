"""Prefect blocks: where an mlgit workspace lives and how it reaches its remotes and storage.

Keys live in their own block (``MLGitCredentials``, as prefect-aws keeps ``AwsCredentials`` apart
from ``S3Bucket``): one set of keys can serve several repositories, and rotating them touches one
document. They reach ``mlgit.Repository`` in memory only, never its config file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from mlgit import ConfigError, Repository
from mlgit.names import ENTITY_TYPES
from mlgit.names import entity_type as plural_entity_type  # the core owns the types: InvalidName otherwise


class BlockNotFound(ConfigError):
    """No saved block of that name on the Prefect API."""


class MLGitCredentials(Block):
    """S3 / MinIO keys for the buckets of an ``MLGitRepository``."""

    _block_type_name = "MLGit Credentials"
    _block_type_slug = "mlgit-credentials"
    _description = "Access keys for the S3-compatible storage of an mlgit repository (kept apart from it)."
    _documentation_url = "https://github.com/HPInc/ml-git"  # type: ignore[assignment]

    aws_access_key_id: str | None = Field(default=None, title="Access key id")
    aws_secret_access_key: SecretStr | None = Field(default=None, title="Secret access key")
    aws_session_token: SecretStr | None = Field(
        default=None, title="Session token", description="Only for temporary (STS) credentials."
    )

    def storage_credentials(self) -> dict[str, str]:
        """The mapping ``Repository(storage_credentials={bucket: ...})`` expects; empty when unset."""
        if not self.aws_access_key_id or self.aws_secret_access_key is None:
            return {}
        out = {
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
        "bucket (S3, MinIO or a local folder) holding their content-addressed objects."
    )
    _documentation_url = "https://github.com/HPInc/ml-git"  # type: ignore[assignment]

    workspace: str = Field(
        title="Workspace",
        description="Folder of the ML-Git project on the worker (created and configured when missing).",
    )
    datasets_remote: str | None = Field(default=None, description="git URL of the datasets metadata repository.")
    labels_remote: str | None = Field(default=None, description="git URL of the labels metadata repository.")
    models_remote: str | None = Field(default=None, description="git URL of the models metadata repository.")
    storage_type: Literal["s3h", "local"] = Field(
        default="s3h", description="s3h: AWS S3 or an S3-compatible server (MinIO); local: a folder used as bucket."
    )
    bucket: str = Field(description="Bucket (s3h) or storage name (local) used by every entity type by default.")
    buckets: dict[str, str] = Field(
        default_factory=dict,
        description="Per entity type bucket, e.g. {'labels': 'mlgit-labels'}; others use `bucket`.",
    )
    storage_path: str | None = Field(
        default=None, description="storage_type local: the folder holding one sub-folder per bucket name."
    )
    endpoint_url: str | None = Field(default=None, description="S3 endpoint, e.g. a MinIO URL; empty for AWS.")
    region: str = Field(default="us-east-1")
    aws_profile: str | None = Field(
        default=None, description="AWS profile written to the config when no credentials block is given."
    )
    credentials: MLGitCredentials | None = Field(default=None, description="Keys for the buckets (SecretStr).")

    def bucket_for(self, entity_type: str) -> str:
        return self.buckets.get(plural_entity_type(entity_type), self.bucket)

    def all_buckets(self) -> list[str]:
        return sorted({self.bucket, *self.buckets.values()})

    def get_repository(self) -> Repository:
        """The configured ``Repository``: initialized, remotes and storages set, metadata cloned. Idempotent."""
        keys = self.credentials.storage_credentials() if self.credentials is not None else {}
        creds = {bucket: keys for bucket in self.all_buckets()} if keys else None
        root = Path(self.workspace).expanduser()
        with _setup_lock(root):
            repo = Repository.init(root, storage_credentials=creds)
            self._configure(repo)
        return repo

    def _configure(self, repo: Repository) -> None:
        config = repo.config
        for et in ENTITY_TYPES:
            url = getattr(self, f"{et}_remote")
            if url and (config.get(et) or {}).get("git") != url:
                repo.remote_add(et, url)
        for bucket in self.all_buckets():
            if self.storage_type == "local":
                if not self.storage_path:
                    named = f" {self._block_document_name!r}" if self._block_document_name else ""
                    raise ConfigError(
                        f"MLGitRepository{named}: storage_type local needs "
                        f"storage_path (the folder used as bucket {bucket!r}), found none"
                    )
                repo.storage_add(bucket, "local", path=str(Path(self.storage_path).expanduser() / bucket))
            else:
                repo.storage_add(bucket, "s3h", credentials=self.aws_profile, endpoint_url=self.endpoint_url,
                                 region=self.region)
        for et in ENTITY_TYPES:
            if getattr(self, f"{et}_remote"):
                repo.entity_init(et)


@contextmanager
def _setup_lock(root: Path) -> Iterator[None]:
    """Serialize the setup of one workspace: tasks submitted at once on a fresh worker clone once."""
    (root / ".ml-git").mkdir(parents=True, exist_ok=True)
    with open(root / ".ml-git" / "prefect-setup.lock", "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; the tasks' retries cover a lost race
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def load_repository_block(ref: MLGitRepository | str) -> MLGitRepository:
    """A block given as is, or loaded by its saved name; one clear error when there is none."""
    if isinstance(ref, MLGitRepository):
        return ref
    if not isinstance(ref, str) or not ref:
        raise BlockNotFound(f"repository: expected an MLGitRepository block or the name of a saved one, found {ref!r}")
    try:
        block = MLGitRepository.load(ref)
    except ValueError as exc:
        from prefect.settings import PREFECT_API_URL

        raise BlockNotFound(
            f"no MLGitRepository block named {ref!r} on the Prefect API ({PREFECT_API_URL.value() or 'ephemeral'}); "
            f"save one first: MLGitRepository(workspace=..., bucket=...).save({ref!r})"
        ) from exc
    return block  # type: ignore[return-value]
