"""The operators against the loopback S3 server, keys only from the Airflow connection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow_dagrun import load_dag, run_dag
from airflow_helpers import TEST_DAGS

s3server = pytest.importorskip(
    "s3server", reason="the S3 test server fixture (tests/s3server.py) is not there"
)


def s3_connection(workspace: Path, remotes: dict[str, str], bucket: Any) -> str:
    extra = {
        "workspace": str(workspace),
        "bucket": bucket.bucket,
        "endpoint_url": bucket.endpoint,
        "region": bucket.region,
    }
    extra.update({f"{et}_remote": url for et, url in remotes.items()})
    return json.dumps(
        {"conn_type": "mlgit", "login": bucket.access_key, "password": bucket.secret_key, "extra": extra}
    )


def test_s3_push_and_checkout_with_connection_keys_and_the_secret_in_no_log(
    airflow_db: Path,
    s3_bucket: Any,
    git_remotes: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert len(s3_bucket.secret_key) >= 8  # Airflow does not mask shorter secrets
    # no other source of keys: the environment and AWS files are emptied
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty-aws"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AIRFLOW_CONN_MLGIT_DEFAULT", s3_connection(tmp_path / "ws-a", git_remotes, s3_bucket))
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLGIT_WORKER_B", s3_connection(tmp_path / "ws-b", git_remotes, s3_bucket)
    )

    run = run_dag(load_dag("mlgit_ops_s3", TEST_DAGS), capfd=capfd)
    assert run.state == "success", run.task_states
    tag = "ops__on-s3__1"
    push = run.xcom("push")
    assert push["tag"] == tag and push["uploaded"] >= 3
    keys = {o["Key"] for o in s3_bucket.client().list_objects_v2(Bucket=s3_bucket.bucket).get("Contents", [])}
    assert len(keys) == push["uploaded"] and all(k.startswith("zdj7W") for k in keys)
    got = run.xcom("checkout_on_b")
    assert got["tag"] == tag and got["files"] == 2 and got["downloaded"] >= 3
    assert (Path(got["path"]) / "blob.bin").read_bytes() == bytes(range(256)) * 2048
    # the task logs are really captured, and the secret is in none of them, nor in any XCom
    assert "mlgit: pushed ops__on-s3__1" in run.log_text
    assert s3_bucket.secret_key not in run.log_text
    assert s3_bucket.secret_key not in json.dumps(list(run.xcoms.values()))


def test_test_connection_calls_the_s3_service(
    s3_bucket: Any, git_remotes: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong secret, a missing bucket and a dead endpoint each fail the test, naming what failed."""
    from mlgit_airflow import MLGitHook

    good = json.loads(s3_connection(tmp_path / "ws", git_remotes, s3_bucket))
    cases = {
        "ok": good,
        "wrong secret": {**good, "password": "wrong-" + s3_bucket.secret_key},
        "missing bucket": {**good, "extra": {**good["extra"], "bucket": "no-such-bucket-x"}},
        "dead endpoint": {**good, "extra": {**good["extra"], "endpoint_url": "http://127.0.0.1:9"}},
    }
    results = {}
    for case, conn in cases.items():
        monkeypatch.setenv("AIRFLOW_CONN_MLGIT_S3PROBE", json.dumps(conn))
        if case == "wrong secret":  # moto accepts any key unless told to check: then it knows none
            with s3server.moto_authentication(s3_bucket.server):
                results[case] = MLGitHook(mlgit_conn_id="mlgit_s3probe").test_connection()
        else:
            results[case] = MLGitHook(mlgit_conn_id="mlgit_s3probe").test_connection()
    assert results["ok"][0], results["ok"][1]
    for case in ("wrong secret", "missing bucket", "dead endpoint"):
        assert not results[case][0], case
    assert "no-such-bucket-x" in results["missing bucket"][1]
    assert "127.0.0.1:9" in results["dead endpoint"][1]
    assert s3_bucket.secret_key not in " ".join(m for _, m in results.values())
