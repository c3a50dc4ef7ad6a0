"""A flow on an SFTP server (real sshd) and on Azure Blob (Azurite), the storage secret only in the
credentials block (an encrypted SSH key and its passphrase; a connection string), in no log or result."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlgit_prefect import MLGitCredentials, MLGitRepository
from mlgit_prefect.tasks import mlgit_add, mlgit_checkout, mlgit_commit, mlgit_create, mlgit_push
from prefect import flow
from prefect_reads import as_text, flow_run_artifacts, flow_run_logs, run

PASSPHRASE = "correct-horse-battery"


@flow
def version_it(repository: str) -> dict[str, Any]:
    entity = mlgit_create(repository, "datasets", "remote-ds", "ops")
    (Path(entity["path"]) / "blob.bin").write_bytes(bytes(range(256)) * 2048)
    (Path(entity["path"]) / "small.txt").write_text("small\n")
    mlgit_add(repository, "datasets", "remote-ds")
    mlgit_commit(repository, "datasets", "remote-ds")
    return mlgit_push(repository, "datasets", "remote-ds")


@flow
def check_it_out(repository: str) -> dict[str, Any]:
    return mlgit_checkout(repository, "datasets", "remote-ds")


@pytest.mark.parametrize("kind", ["sftph", "azureblobh"])
def test_push_and_checkout_elsewhere_with_the_secret_in_no_log_or_result(
    kind: str,
    request: pytest.FixtureRequest,
    prefect_api: str,
    remotes: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if kind == "sftph":
        bucket = request.getfixturevalue("sftp_bucket")
        s = bucket.server
        key = tmp_path / "keys" / "user_key"
        key.parent.mkdir()
        shutil.copy(s.private_key, key)
        key.chmod(0o600)
        subprocess.run(["ssh-keygen", "-q", "-p", "-N", PASSPHRASE, "-f", str(key)], check=True)
        key_text = key.read_text()
        creds = MLGitCredentials(private_key=key_text, passphrase=PASSPHRASE)
        storage: dict[str, Any] = {
            "storage_type": "sftph",
            "bucket": bucket.name,
            "endpoint_url": s.host,
            "username": s.username,
            "port": s.port,
            "known_hosts": str(s.known_hosts),
        }
        secrets = [PASSPHRASE, *[ln for ln in key_text.splitlines()[1:-1] if len(ln) > 8]]

        def stored() -> set[str]:
            return {p.name for p in bucket.path.iterdir() if p.is_file()}
    else:
        from azurite import KEY

        container = request.getfixturevalue("azure_container")
        monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")  # the block is the only source
        creds = MLGitCredentials(connection_string=container.server.connection_string)
        storage = {"storage_type": "azureblobh", "bucket": container.name}
        secrets = [container.server.connection_string, KEY]
        stored = container.names
    keys = f"keys-{uuid.uuid4().hex[:8]}"
    creds.save(keys)
    name = f"repo-{uuid.uuid4().hex[:8]}"
    block = MLGitRepository(
        workspace=str(tmp_path / "ws-a"),
        datasets_remote=remotes["datasets"],
        credentials=MLGitCredentials.load(keys),
        **storage,
    )
    block.save(name)
    other = f"{name}-b"
    block.model_copy(update={"workspace": str(tmp_path / "ws-b")}).save(other)

    pushed, push_run = run(version_it, repository=name)
    assert pushed["uploaded"] >= 3 and len(stored()) == pushed["uploaded"]
    got, checkout_run = run(check_it_out, repository=other)
    assert got["files"] == 2 and got["downloaded"] >= 3
    assert (Path(got["path"]) / "blob.bin").read_bytes() == bytes(range(256)) * 2048

    config = "".join(p.read_text() for p in tmp_path.rglob(".ml-git/config.yaml"))
    texts = [as_text([pushed, got]), config]
    for run_id in (push_run, checkout_run):
        texts += flow_run_logs(run_id)
        texts.append(as_text([a.data for a in flow_run_artifacts(run_id)]))
    assert any("remote-ds" in t for t in texts[2:])  # the logs are really read
    for value in secrets:
        assert all(value not in t for t in texts)
    assert all(value not in repr(MLGitRepository.load(name)) for value in secrets)
