"""The operators on an SFTP server (real sshd) and on Azure Blob (Azurite), the storage secret only in
the Airflow connection (an encrypted SSH key and its passphrase; a connection string), in no log or XCom."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from airflow_dagrun import load_dag, run_dag
from airflow_helpers import TEST_DAGS

PASSPHRASE = "correct-horse-battery"


def encrypted_key(server: Any, folder: Path) -> str:
    """The sshd fixture's user key, re-encrypted with PASSPHRASE: its text, as a user pastes it."""
    key = folder / "user_key"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(server.private_key, key)
    key.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-N", PASSPHRASE, "-f", str(key)], check=True)
    return key.read_text()


def sftp_storage(bucket: Any, key_text: str) -> tuple[dict[str, Any], str, str]:
    """(extra, login, password) of an sftph connection."""
    s = bucket.server
    extra = {
        "storage_type": "sftph",
        "bucket": bucket.name,
        "endpoint_url": s.host,
        "port": s.port,
        "known_hosts": str(s.known_hosts),
        "private_key": key_text,
    }
    return extra, s.username, PASSPHRASE


def connection(workspace: Path, remotes: dict[str, str], extra: dict[str, Any], **secret: str) -> str:
    extra = {"workspace": str(workspace), **extra, **{f"{et}_remote": url for et, url in remotes.items()}}
    return json.dumps({"conn_type": "mlgit", "extra": extra, **secret})


@pytest.mark.parametrize("kind", ["sftph", "azureblobh"])
def test_push_and_checkout_with_the_secret_in_no_log_or_xcom(
    kind: str,
    request: pytest.FixtureRequest,
    airflow_db: Path,
    git_remotes: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    if kind == "sftph":
        bucket = request.getfixturevalue("sftp_bucket")
        key_text = encrypted_key(bucket.server, tmp_path / "keys")
        extra, login, password = sftp_storage(bucket, key_text)
        secrets = [PASSPHRASE, *[ln for ln in key_text.splitlines()[1:-1] if len(ln) > 8]]
        secret = {"login": login, "password": password}
        stored = lambda: {p.name for p in bucket.path.iterdir() if p.is_file()}  # noqa: E731
    else:
        container = request.getfixturevalue("azure_container")
        monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")  # the connection is the only source
        conn_string = container.server.connection_string
        extra = {"storage_type": "azureblobh", "bucket": container.name}
        secret = {"password": conn_string}
        from azurite import KEY

        secrets = [conn_string, KEY]
        stored = container.names
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLGIT_DEFAULT", connection(tmp_path / "ws-a", git_remotes, extra, **secret)
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLGIT_WORKER_B", connection(tmp_path / "ws-b", git_remotes, extra, **secret)
    )

    run = run_dag(load_dag("mlgit_ops_s3", TEST_DAGS), capfd=capfd)
    assert run.state == "success", (run.task_states, run.log_text[-3000:])
    push = run.xcom("push")
    assert push["tag"] == "ops__on-s3__1" and push["uploaded"] >= 3
    assert len(stored()) == push["uploaded"]
    got = run.xcom("checkout_on_b")
    assert got["files"] == 2 and got["downloaded"] >= 3
    assert (Path(got["path"]) / "blob.bin").read_bytes() == bytes(range(256)) * 2048
    assert "mlgit: pushed ops__on-s3__1" in run.log_text
    xcoms = json.dumps(list(run.xcoms.values()), default=str)
    config = "".join(p.read_text() for p in tmp_path.rglob(".ml-git/config.yaml"))
    for value in secrets:
        assert value not in run.log_text and value not in xcoms and value not in config


def test_test_connection_reaches_the_sftp_server_and_the_azure_container(
    sftp_bucket: Any,
    azure_container: Any,
    git_remotes: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A good secret passes; a wrong passphrase, a missing folder, a wrong account key each fail, named."""
    from mlgit_airflow import MLGitHook

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    extra, login, password = sftp_storage(sftp_bucket, encrypted_key(sftp_bucket.server, tmp_path / "k"))
    az = {"storage_type": "azureblobh", "bucket": azure_container.name}
    good_cs = azure_container.server.connection_string
    from azurite import connection_string

    wrong_cs = connection_string(azure_container.server.port, key="d3Jvbmc=" * 11)
    ws = tmp_path / "ws"
    cases = {
        "sftp ok": (connection(ws, git_remotes, extra, login=login, password=password), True, ""),
        "sftp wrong passphrase": (
            connection(ws, git_remotes, extra, login=login, password="wrong-" + password),
            False,
            "cannot be read",
        ),
        "sftp missing folder": (
            connection(
                ws, git_remotes, {**extra, "bucket": "no-such-folder"}, login=login, password=password
            ),
            False,
            "no-such-folder",
        ),
        "azure ok": (connection(ws, git_remotes, az, password=good_cs), True, ""),
        "azure wrong key": (connection(ws, git_remotes, az, password=wrong_cs), False, "refused"),
    }
    for case, (conn, ok, words) in cases.items():
        monkeypatch.setenv("AIRFLOW_CONN_MLGIT_DEFAULT", conn)
        passed, message = MLGitHook().test_connection()
        assert passed is ok and words in message, (case, message)
        assert password not in message and "AccountKey" not in message, (case, message)


def test_a_misstated_sftp_connection_is_one_clear_error(tmp_path: Path) -> None:
    from airflow.sdk import Connection
    from mlgit_airflow.hooks import MLGitConnectionError, MLGitConnectionSettings

    base = {"workspace": str(tmp_path), "storage_type": "sftph", "bucket": "objs", "endpoint_url": "h"}
    cases = {
        "needs 'endpoint_url'": {**base, "endpoint_url": ""},
        "not both": {**base, "private_key": "KEY", "private_key_path": "/k"},
        "port must be a number": {**base, "port": "twenty-two"},
    }
    for words, extra in cases.items():
        conn = Connection(conn_id="c", conn_type="mlgit", login="u", extra=json.dumps(extra))
        with pytest.raises(MLGitConnectionError, match=words):
            MLGitConnectionSettings.from_connection(conn)
    # a key file's passphrase goes as passphrase; without a key the secret is the SSH password
    with_file = Connection(
        conn_id="c",
        conn_type="mlgit",
        login="u",
        password="pw",
        extra=json.dumps({**base, "private_key_path": "/k"}),
    )
    assert MLGitConnectionSettings.from_connection(with_file).storage_credentials() == {
        "objs": {"username": "u", "passphrase": "pw"}
    }
    no_key = Connection(conn_id="c", conn_type="mlgit", login="u", password="pw", extra=json.dumps(base))
    assert MLGitConnectionSettings.from_connection(no_key).storage_credentials() == {
        "objs": {"username": "u", "password": "pw"}
    }
    assert "pw" not in repr(MLGitConnectionSettings.from_connection(no_key))
