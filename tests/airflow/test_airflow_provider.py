"""Provider registration and the hook's reading of an `mlgit` connection (no DAG run needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.sdk import Connection
from mlgit_airflow.hooks import MLGitConnectionError, MLGitConnectionSettings, MLGitHook

SECRET = "s3cr3t-Value-0123456789"


def test_providers_manager_registers_the_mlgit_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    pm = ProvidersManager()
    assert "mlgit" in pm.providers
    hook = ProvidersManagerTaskRuntime().hooks["mlgit"]
    assert hook is not None
    assert hook.hook_class_name == "mlgit_airflow.hooks.MLGitHook"
    assert hook.connection_id_attribute_name == "mlgit_conn_id"
    assert hook.hook_name == "mlgit (ML-Git)"
    assert hook.connection_testable
    behaviour = pm.field_behaviours["mlgit"]
    assert behaviour["hidden_fields"] == ["host", "port", "schema"]
    assert behaviour["relabeling"]["password"].startswith("Storage secret: S3 secret key")
    widgets = pm.connection_form_widgets
    assert "extra__mlgit__workspace" in widgets
    assert widgets["extra__mlgit__aws_session_token"].is_sensitive
    assert widgets["extra__mlgit__private_key"].is_sensitive  # the SSH key itself: masked in the form
    assert not widgets["extra__mlgit__known_hosts"].is_sensitive


def test_get_ui_field_behaviour_matches_the_provider_info() -> None:
    import mlgit_airflow

    info = mlgit_airflow.get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    behaviour = MLGitHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == info["hidden-fields"]
    assert behaviour["relabeling"] == info["relabeling"]
    behaviour["hidden_fields"].append("login")  # a copy: the class's answer does not change
    assert "login" not in MLGitHook.get_ui_field_behaviour()["hidden_fields"]


def test_public_names_are_importable_from_the_package() -> None:
    import mlgit_airflow

    for name in mlgit_airflow.__all__:
        assert getattr(mlgit_airflow, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        mlgit_airflow.Nope  # noqa: B018


def _conn(extra: dict[str, object], **kwargs: str) -> Connection:
    return Connection(conn_id="mlgit_test", conn_type="mlgit", extra=json.dumps(extra), **kwargs)


def test_settings_from_a_full_s3_connection(tmp_path: Path) -> None:
    extra = {
        "workspace": str(tmp_path / "ws"),
        "datasets_remote": "/git/datasets.git",
        "labels_remote": "/git/labels.git",
        "bucket": "mlgit-datasets",
        "endpoint_url": "http://127.0.0.1:9000",
        "region": "eu-west-1",
        "aws_session_token": "tok-123456789",
    }
    settings = MLGitConnectionSettings.from_connection(_conn(extra, login="AKIAEXAMPLE", password=SECRET))
    assert settings.workspace == tmp_path / "ws"
    assert dict(settings.remotes) == {"datasets": "/git/datasets.git", "labels": "/git/labels.git"}
    assert settings.storage_type == "s3h"
    assert (settings.bucket, settings.endpoint_url, settings.region) == (
        "mlgit-datasets",
        "http://127.0.0.1:9000",
        "eu-west-1",
    )
    assert settings.storage_credentials() == {
        "mlgit-datasets": {
            "aws_access_key_id": "AKIAEXAMPLE",
            "aws_secret_access_key": SECRET,
            "aws_session_token": "tok-123456789",
        }
    }
    assert SECRET not in repr(settings)


def test_settings_from_a_local_storage_connection_and_workspace_override(tmp_path: Path) -> None:
    extra = {
        "extra__mlgit__workspace": "/ignored",
        "storage_type": "local",
        "bucket": "b",
        "storage_path": str(tmp_path),
    }
    settings = MLGitConnectionSettings.from_connection(_conn(extra), workspace=tmp_path / "other")
    assert settings.workspace == tmp_path / "other"
    assert settings.storage_type == "local"
    assert settings.storage_path == str(tmp_path)
    assert settings.storage_credentials() is None
    assert dict(settings.remotes) == {}


@pytest.mark.parametrize(
    ("extra", "kwargs", "message"),
    [
        pytest.param({}, {}, "names no workspace folder", id="no-workspace"),
        pytest.param(
            {"workspace": "/w", "bucket": "b", "storage_type": "ftp"}, {}, "storage_type 'ftp'", id="bad-type"
        ),
        pytest.param({"workspace": "/w", "storage_type": "s3h"}, {}, "no 'bucket'", id="no-bucket"),
        pytest.param(
            {"workspace": "/w", "storage_type": "local", "bucket": "b"},
            {},
            "needs 'storage_path'",
            id="local-no-path",
        ),
        pytest.param(
            {"workspace": "/w", "wrkspace": "/x"}, {}, r"unknown extra keys \['wrkspace'\]", id="typo"
        ),
        pytest.param(
            {"workspace": "/w", "bucket": "b"},
            {"login": "AKIA"},
            "only one of login / password",
            id="half-keys",
        ),
    ],
)
def test_bad_connections_fail_with_one_clear_message(
    extra: dict[str, object], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(MLGitConnectionError, match=message):
        MLGitConnectionSettings.from_connection(_conn(extra, **kwargs))


def test_wrong_connection_type_is_refused() -> None:
    conn = Connection(conn_id="x", conn_type="aws", extra=json.dumps({"workspace": "/w"}))
    with pytest.raises(MLGitConnectionError, match="conn_type 'aws'; expected 'mlgit'"):
        MLGitConnectionSettings.from_connection(conn)


def test_hook_reads_a_connection_given_as_env_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conn = {
        "conn_type": "mlgit",
        "login": "AKIAEXAMPLE",
        "password": SECRET,
        "extra": {"workspace": str(tmp_path), "bucket": "mlgit-datasets", "datasets_remote": "/g/d.git"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MLGIT_ENVJSON", json.dumps(conn))
    settings = MLGitHook(mlgit_conn_id="mlgit_envjson").settings()
    assert settings.conn_id == "mlgit_envjson"
    assert settings.workspace == tmp_path
    assert settings.storage_credentials() == {
        "mlgit-datasets": {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": SECRET}
    }
    ok, message = MLGitHook(mlgit_conn_id="mlgit_envjson").test_connection()
    assert not ok and "datasets metadata remote /g/d.git: cannot read it" in message  # it does not exist


def test_test_connection_reaches_the_remotes_and_the_bucket(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    git_remotes: dict[str, str],
    local_storage: dict[str, str],
) -> None:
    from airflow_helpers import connection_json

    monkeypatch.setenv(
        "AIRFLOW_CONN_MLGIT_PROBE", connection_json(tmp_path / "ws", git_remotes, local_storage)
    )
    ok, message = MLGitHook(mlgit_conn_id="mlgit_probe").test_connection()
    assert ok and "reached remotes ['datasets', 'labels', 'models'] and bucket mlgit-local" in message, (
        message
    )
    gone = {**local_storage, "storage_path": str(tmp_path / "no-such-bucket")}
    monkeypatch.setenv("AIRFLOW_CONN_MLGIT_PROBE", connection_json(tmp_path / "ws", git_remotes, gone))
    ok, message = MLGitHook(mlgit_conn_id="mlgit_probe").test_connection()
    assert not ok and "no-such-bucket" in message and "does not exist" in message
    assert not (tmp_path / "ws").exists()  # a test changes nothing on the worker


def test_missing_connection_fails_with_its_id() -> None:
    from airflow.sdk.exceptions import AirflowNotFoundException

    with pytest.raises(AirflowNotFoundException, match="mlgit_nowhere"):
        MLGitHook(mlgit_conn_id="mlgit_nowhere").settings()
