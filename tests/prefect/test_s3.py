"""The how-to flows against a real S3 server on loopback, keys only from the credentials block."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mlgit_prefect import MLGitCredentials, MLGitRepository
from prefect_reads import (
    DS_TAG,
    LB_TAG,
    MD_TAG,
    as_text,
    asset_events,
    flow_run_artifacts,
    flow_run_logs,
    howto,
)

pytest.importorskip("s3server", reason="needs tests/s3server.py (the loopback S3 fixtures)")


@pytest.fixture
def s3_block(
    prefect_api: str, s3_bucket: Any, tmp_path: Path, remotes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """A saved block on the loopback bucket; the environment holds no AWS keys, only the block does."""
    assert len(s3_bucket.secret_key) >= 8
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "no-aws-credentials"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    keys = f"s3-keys-{uuid.uuid4().hex[:8]}"
    MLGitCredentials(aws_access_key_id=s3_bucket.access_key, aws_secret_access_key=s3_bucket.secret_key).save(
        keys
    )
    name = f"s3-repo-{uuid.uuid4().hex[:8]}"
    MLGitRepository(
        workspace=str(tmp_path / "workspace"),
        datasets_remote=remotes["datasets"],
        labels_remote=remotes["labels"],
        models_remote=remotes["models"],
        storage_type="s3h",
        bucket=s3_bucket.bucket,
        endpoint_url=s3_bucket.endpoint,
        region=s3_bucket.region,
        credentials=MLGitCredentials.load(keys),
    ).save(name)
    return name


def test_the_howto_flows_on_s3_with_keys_from_the_block(
    examples: Callable[[str], ModuleType], sample: Path, s3_block: str, s3_bucket: Any, tmp_path: Path
) -> None:
    runs = howto(examples, sample, s3_block)
    dataset, labels, model = (runs[k][0] for k in ("dataset", "labels", "model"))
    assert (dataset["tag"], labels["tag"], model["tag"]) == (DS_TAG, LB_TAG, MD_TAG)
    assert model["dataset"]["tag"] == DS_TAG and model["labels"]["tag"] == LB_TAG
    assert model["metrics"] == {"accuracy": 1.0, "recall": 1.0}

    listed = s3_bucket.client().list_objects_v2(Bucket=s3_bucket.bucket).get("Contents", [])
    keys = {o["Key"] for o in listed}
    assert len(keys) == dataset["uploaded"] + labels["uploaded"] + model["uploaded"]
    assert all(k.startswith("zdj7W") for k in keys)

    # another worker downloads the model through the same block (and its keys)
    other = MLGitRepository.load(s3_block).model_copy(update={"workspace": str(tmp_path / "elsewhere")})
    got = other.get_repository().checkout("models", "imagenet-model")
    assert got.downloaded >= 2 and (Path(got.path) / "data" / "model.json").is_file()

    secret = s3_bucket.secret_key
    for result, run_id in runs.values():
        assert secret not in as_text(result)
        assert secret not in "\n".join(flow_run_logs(run_id))
        assert secret not in as_text([a.data for a in flow_run_artifacts(run_id)])
    events = asset_events("mlgit://models/imagenet-model", runs["model"][1])
    assert events[0].payload["tag"] == MD_TAG and secret not in as_text([e.model_dump() for e in events])
