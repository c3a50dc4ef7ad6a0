"""The connection form of the ``mlgit`` type: read by Airflow from the provider info without
importing the hook (Airflow >= 3.2), and by ``MLGitHook.get_ui_field_behaviour``."""

from __future__ import annotations

from typing import Any

# One source for both the declarative provider info (Airflow >= 3.2) and get_ui_field_behaviour().
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["host", "port", "schema"],
    "relabeling": {
        "login": "Storage user: S3 access key id (s3h) or SSH user (sftph)",
        "password": "Storage secret: S3 secret key, SSH key passphrase or password, Azure connection string",
    },
    "placeholders": {
        "login": "AKIA... / sftp user (leave empty to use an AWS profile or the environment)",
        "password": "s3h: secret key; sftph: passphrase of the private key, or the SSH password without one; "
        "azureblobh: DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...",
        "extra": '{"workspace": "/data/mlgit", "datasets_remote": "git@host:org/datasets.git", '
        '"storage_type": "s3h", "bucket": "mlgit-datasets", "endpoint_url": "http://minio:9000"}',
    },
}

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "workspace": {
        "label": "Workspace folder on the worker",
        "schema": {"type": ["string", "null"]},
    },
    "datasets_remote": {"label": "Datasets metadata git URL", "schema": {"type": ["string", "null"]}},
    "labels_remote": {"label": "Labels metadata git URL", "schema": {"type": ["string", "null"]}},
    "models_remote": {"label": "Models metadata git URL", "schema": {"type": ["string", "null"]}},
    "storage_type": {
        "label": "Storage type (s3h, local, sftph or azureblobh)",
        "schema": {"type": ["string", "null"], "default": "s3h"},
    },
    "bucket": {
        "label": "Bucket (s3h), folder (sftph, local) or container (azureblobh)",
        "schema": {"type": ["string", "null"]},
    },
    "storage_path": {"label": "Folder of a local storage", "schema": {"type": ["string", "null"]}},
    "endpoint_url": {
        "label": "S3 endpoint URL (MinIO, ...) or SFTP host",
        "schema": {"type": ["string", "null"]},
    },
    "port": {"label": "SFTP port", "schema": {"type": ["integer", "string", "null"], "default": 22}},
    "private_key": {
        "label": "SFTP private key (the key itself, PEM/OpenSSH text)",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "private_key_path": {
        "label": "SFTP private key file on the worker (instead of the key itself)",
        "schema": {"type": ["string", "null"]},
    },
    "known_hosts": {
        "label": "SFTP known_hosts file on the worker (a host not in it is refused)",
        "schema": {"type": ["string", "null"]},
    },
    "region": {"label": "S3 region", "schema": {"type": ["string", "null"], "default": "us-east-1"}},
    "profile": {"label": "AWS profile (instead of keys)", "schema": {"type": ["string", "null"]}},
    "run_folders": {
        "label": "A folder per DAG run under the workspace (true/false)",
        "schema": {"type": ["boolean", "string", "null"], "default": True},
    },
    "keep_failed_runs_hours": {
        "label": "Hours a failed run's folder is kept",
        "schema": {"type": ["number", "string", "null"], "default": 72},
    },
    "git_author_name": {
        "label": "git author name of metadata commits",
        "schema": {"type": ["string", "null"]},
    },
    "git_author_email": {
        "label": "git author email of metadata commits",
        "schema": {"type": ["string", "null"]},
    },
    "aws_session_token": {
        "label": "AWS session token (temporary keys)",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
}


def provider_ui_field_behaviour() -> dict[str, Any]:
    """UI_FIELD_BEHAVIOUR in the kebab-case keys of provider info."""
    return {
        "hidden-fields": list(UI_FIELD_BEHAVIOUR["hidden_fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
