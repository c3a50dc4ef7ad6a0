"""The blocks: registration, a save/load round trip with the keys kept secret, the config they write."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml
from mlgit_prefect import BlockNotFound, MLGitCredentials, MLGitRepository, mlgit_fsck
from prefect import flow, get_client
from prefect_reads import ACCESS_KEY, SECRET


def test_the_collection_entry_point_names_the_package() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="prefect.collections")}
    assert found.get("mlgit_prefect") == "mlgit_prefect"


def test_prefect_block_register_registers_both_blocks(prefect_api: str) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "mlgit_prefect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MLGit Repository" in done.stdout and "MLGit Credentials" in done.stdout
    with get_client(sync_client=True) as client:
        repo_type = client.read_block_type_by_slug("mlgit-repository")
        creds_type = client.read_block_type_by_slug("mlgit-credentials")
    assert repo_type.name == "MLGit Repository" and creds_type.name == "MLGit Credentials"


def test_saved_blocks_keep_the_secret_masked_and_load_it_back(credentials_name: str, tmp_path: Path) -> None:
    MLGitRepository(
        workspace=str(tmp_path / "ws"),
        bucket="b",
        endpoint_url="http://127.0.0.1:9",
        credentials=MLGitCredentials.load(credentials_name),
    ).save("masked-repo")
    with get_client(sync_client=True) as client:
        doc = client.read_block_document_by_name("masked-repo", "mlgit-repository", include_secrets=False)
    assert SECRET not in repr(doc.data) and SECRET not in str(doc.model_dump())
    loaded = MLGitRepository.load("masked-repo")
    assert loaded.credentials is not None
    assert loaded.credentials.storage_credentials() == {
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET,
    }
    assert SECRET not in repr(loaded) and SECRET not in loaded.model_dump_json()


def test_the_repository_block_configures_the_workspace_as_the_howto_does(
    tmp_path: Path, remotes: dict[str, str]
) -> None:
    block = MLGitRepository(
        workspace=str(tmp_path / "ws"),
        datasets_remote=remotes["datasets"],
        models_remote=remotes["models"],
        bucket="mlgit-datasets",
        buckets={"models": "mlgit-models"},
        endpoint_url="http://127.0.0.1:9000",
        aws_profile="mlgit",
    )
    repo = block.get_repository()
    again = block.get_repository()  # idempotent: a second task on the same worker
    config = yaml.safe_load((tmp_path / "ws" / ".ml-git" / "config.yaml").read_text())
    assert config["datasets"] == {"git": remotes["datasets"]} and config["models"] == {
        "git": remotes["models"]
    }
    assert config["labels"] == {"git": ""}
    assert config["storages"]["s3h"] == {
        bucket: {
            "aws-credentials": {"profile": "mlgit"},
            "region": "us-east-1",
            "endpoint-url": "http://127.0.0.1:9000",
        }
        for bucket in ("mlgit-datasets", "mlgit-models")
    }
    assert (tmp_path / "ws" / ".ml-git" / "datasets" / "metadata" / ".git").is_dir()
    assert not (tmp_path / "ws" / ".ml-git" / "labels" / "metadata").exists()
    assert repo.root == again.root == (tmp_path / "ws").resolve()
    assert block.bucket_for("model") == "mlgit-models" and block.bucket_for("labels") == "mlgit-datasets"


def test_a_local_storage_without_a_folder_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="storage_type local needs storage_path"):
        MLGitRepository(workspace=str(tmp_path / "ws"), storage_type="local", bucket="b").get_repository()


def test_a_missing_block_fails_the_task_with_one_clear_message(prefect_api: str) -> None:
    @flow
    def check() -> dict[str, object]:
        return mlgit_fsck("no-such-block", "datasets")

    state = check(return_state=True)
    assert state.is_failed()
    with pytest.raises(BlockNotFound) as info:
        state.result()
    message = str(info.value)
    assert "no MLGitRepository block named 'no-such-block'" in message and ".save('no-such-block')" in message
