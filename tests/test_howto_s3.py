"""The how-to's flow on an S3 bucket (moto_server and SeaweedFS on loopback, or MLGIT_TEST_S3_ENDPOINT),
and what ML-Git 2.9.9 pushed to S3 read back from each of them."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import FIXTURE, Cli, make_remotes, serve_fixture, write, write_howto_v1
from s3server import (
    S3Bucket,
    drop_bucket,
    free_port,
    moto_authentication,
    on_each_s3_server,
    s3_bucket_on,
    s3_settings,
)

from mlgit import Repository
from mlgit.errors import StorageAuthError

EXPECTED = yaml.safe_load((FIXTURE / "expected.yaml").read_text())


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".spec") and p.name != "README.md"
    }


def _workspace(cli: Cli, ws: Path, remotes: dict[str, str], kind: str, bucket: str, where: str) -> None:
    ws.mkdir()
    cli("repository init", cwd=ws)
    for et in ("datasets", "labels", "models"):
        cli(f"repository remote {et} add {remotes[et]}", cwd=ws)
    if kind == "s3h":
        cli(f"repository storage add {bucket} --credentials=mlgit --endpoint-url={where}", cwd=ws)
    else:
        cli(f"repository storage add {bucket} --type=local --path={where}", cwd=ws)
    for et in ("datasets", "labels", "models"):
        cli(f"{et} init", cwd=ws)


@pytest.mark.parametrize(
    ("kind", "server"),
    [
        pytest.param("s3h", "moto", id="s3h-moto"),
        pytest.param("s3h", "seaweedfs", id="s3h-seaweedfs"),
        pytest.param("local", None, id="local"),
    ],
)
def test_howto_flow_on_each_storage(
    kind: str, server: str | None, tmp_path: Path, cli: Cli, request: pytest.FixtureRequest
) -> None:
    remotes = make_remotes(tmp_path / "remotes")
    if kind == "s3h":
        assert server is not None
        b: S3Bucket = s3_bucket_on(request, server)
        bucket, where = b.bucket, b.endpoint
    else:
        bucket, where = "mlgit-datasets", str(tmp_path / "bucket")
    ws = tmp_path / "mlgit-project"
    _workspace(cli, ws, remotes, kind, bucket, where)
    if kind == "s3h":
        shown = cli("repository config show", cwd=ws).output
        assert f"'endpoint-url': '{where}'" in shown and "'profile': 'mlgit'" in shown

    cli(
        'datasets create imagenet8 --categories="computer-vision, images" --mutability=strict '
        f"--storage-type={kind} --bucket-name={bucket} --entity-dir=folderA/folderB",
        cwd=ws,
    )
    entity = ws / "datasets" / "folderA" / "folderB" / "imagenet8"
    write_howto_v1(entity)
    cli("datasets add imagenet8", cwd=ws)
    cli("datasets commit imagenet8", cwd=ws)
    out = cli("datasets push imagenet8", cwd=ws).output
    v1 = _tree(entity)
    if kind == "s3h":
        listed = {o["Key"] for o in b.client().list_objects_v2(Bucket=bucket).get("Contents", ())}
        # big: 3 chunks + descriptor; 20 small: chunk + descriptor each; empty: a descriptor alone; duplicates: one pair
        assert len(listed) == (3 + 1) + 20 * 2 + 1 + 2
        assert all(key.startswith("zdj7W") for key in listed), out

    write(entity / "data" / "val" / "new.bin", b"new data\n")
    cli("datasets add imagenet8 --bumpversion", cwd=ws)
    cli("datasets commit imagenet8", cwd=ws)
    cli("datasets push imagenet8", cwd=ws)
    v2 = _tree(entity)

    ws2 = tmp_path / "your-mlgit-repository"
    _workspace(cli, ws2, remotes, kind, bucket, where)
    cli("datasets checkout computer-vision__images__imagenet8__1", cwd=ws2)
    entity2 = ws2 / "datasets" / "folderA" / "folderB" / "imagenet8"
    assert _tree(entity2) == v1
    cli("datasets checkout imagenet8", cwd=ws2)
    assert _tree(entity2) == v2
    assert Repository(ws2).fsck("datasets").total == 0


@on_each_s3_server
def test_api_with_credentials_passed_by_code(
    s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remotes: dict[str, str]
) -> None:
    """What the Airflow hook and the Prefect block do: keys in memory, none in the environment."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    creds = {s3_bucket.bucket: s3_bucket.credentials()}

    def workspace(path: Path) -> Repository:
        repo = Repository.init(path, storage_credentials=creds)
        repo.remote_add("datasets", remotes["datasets"])
        repo.entity_init("datasets")
        repo.storage_add(s3_bucket.bucket, "s3h", endpoint_url=s3_bucket.endpoint)
        return repo

    repo = workspace(tmp_path / "a")
    entity = repo.create("datasets", "birds", categories=["zoo"], storage_type="s3h", bucket=s3_bucket.bucket)
    write(entity / "data" / "x.bin", random.Random(1).randbytes(300_000))
    repo.add("datasets", "birds")
    repo.commit("datasets", "birds")
    phases: list[tuple[str, int, int]] = []
    pushed = repo.push("datasets", "birds", progress=lambda *a: phases.append(a))
    assert pushed.uploaded == 3 and phases[-1][1] == phases[-1][2]
    assert repo.push("datasets", "birds").uploaded == 0
    assert s3_bucket.secret_key not in (tmp_path / "a" / ".ml-git" / "config.yaml").read_text()

    other = workspace(tmp_path / "b")
    out = other.checkout("datasets", "birds")
    assert (Path(out.path) / "data" / "x.bin").read_bytes() == (entity / "data" / "x.bin").read_bytes()

    # the same workspace without the keys is refused, naming bucket and endpoint, never a secret
    bare = Repository(tmp_path / "b")
    (Path(out.path) / "data" / "x.bin").unlink()
    for store in list((tmp_path / "b" / ".ml-git" / "datasets").rglob("hashfs")):
        shutil.rmtree(store)
    with pytest.raises(StorageAuthError) as err:
        bare.checkout("datasets", "birds", force=True)
    assert s3_bucket.bucket in str(err.value) and s3_bucket.secret_key not in str(err.value)


@on_each_s3_server
def test_mlgit_299_bucket_on_s3_checks_out_byte_for_byte(
    s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = s3_bucket.server
    name = EXPECTED["bucket"]  # the specs say s3h://mlgit-fixture
    client = server.client()
    try:
        client.create_bucket(Bucket=name)
    except client.exceptions.BucketAlreadyOwnedByYou:  # a real server, left over from a run
        pass
    try:
        for obj in (FIXTURE / "bucket").iterdir():
            client.put_object(Bucket=name, Key=obj.name, Body=obj.read_bytes())
        remotes = serve_fixture(tmp_path / "remotes")
        repo = Repository.init(tmp_path / "ws")
        for et, url in remotes.items():
            repo.remote_add(et, url)
            repo.entity_init(et)
        # ML-Git's own config for this bucket, with our server's endpoint
        repo.set_config("storages", {"s3h": {name: s3_settings(server.endpoint, profile=None)}})
        for tag, files in EXPECTED["tags"].items():
            et = {"birds": "datasets", "birds-boxes": "labels", "birdnet": "models"}[tag.split("__")[2]]
            result = repo.checkout(et, tag)
            assert _tree(Path(result.path)) == files, tag
        assert (
            repo.lineage("models", "vision__wildlife__birdnet__1").root.dataset.tag
            == "vision__wildlife__birds__2"
        )
        assert (
            repo.metrics("models", "birdnet")["vision__wildlife__birdnet__1"]
            == EXPECTED["metrics"]["vision__wildlife__birdnet__1"]
        )
    finally:
        if not server.moto:
            drop_bucket(server, name)


def _pushable(cli: Cli, tmp_path: Path, b: S3Bucket) -> Path:
    ws = tmp_path / "ws"
    _workspace(cli, ws, make_remotes(tmp_path / "remotes"), "s3h", b.bucket, b.endpoint)
    cli(
        f"datasets create birds --categories=zoo --mutability=strict --storage-type=s3h --bucket-name={b.bucket}",
        cwd=ws,
    )
    for i in range(30):
        write(ws / "datasets" / "birds" / "data" / f"{i}.bin", random.Random(i).randbytes(500))
    cli("datasets add birds", cwd=ws)
    cli("datasets commit birds", cwd=ws)
    return ws


@on_each_s3_server
def test_cli_push_to_a_down_endpoint_is_one_line_and_loses_nothing(
    s3_bucket: S3Bucket, tmp_path: Path, cli: Cli
) -> None:
    ws = _pushable(cli, tmp_path, s3_bucket)
    down = f"http://127.0.0.1:{free_port()}"
    cli(f"repository storage add {s3_bucket.bucket} --credentials=mlgit --endpoint-url={down}", cwd=ws)
    out = cli("datasets push birds", ok=False, cwd=ws).output.strip()
    assert out.count("\n") == 0 and "Traceback" not in out, out
    assert (
        f"60 of 60 objects not transferred to s3h://{s3_bucket.bucket} at {down}" in out
        and "cannot reach" in out
    )
    # nothing lost: with the endpoint back, the same push sends everything, then the tag
    cli(
        f"repository storage add {s3_bucket.bucket} --credentials=mlgit --endpoint-url={s3_bucket.endpoint}",
        cwd=ws,
    )
    cli("datasets push birds", cwd=ws)
    listed = s3_bucket.client().list_objects_v2(Bucket=s3_bucket.bucket).get("KeyCount")
    assert listed == 60


@on_each_s3_server
def test_cli_wrong_keys_and_missing_bucket_are_one_line(
    s3_bucket: S3Bucket, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _pushable(cli, tmp_path, s3_bucket)
    wrong = tmp_path / "wrong-credentials"
    wrong.write_text(
        f"[mlgit]\naws_access_key_id = AKIAWRONGWRONGWRONG1\naws_secret_access_key = {s3_bucket.secret_key}x\n"
    )
    right = os.environ["AWS_SHARED_CREDENTIALS_FILE"]
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(wrong))
    with moto_authentication(s3_bucket.server):  # moto accepts any key unless told to check
        out = cli("datasets push birds", ok=False, cwd=ws).output.strip()
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", right)
    assert out.count("\n") == 0 and s3_bucket.bucket in out and s3_bucket.endpoint in out, out
    assert s3_bucket.secret_key not in out and "AWS profile 'mlgit'" in out
    s3_bucket.client().delete_bucket(Bucket=s3_bucket.bucket)
    out = cli("datasets push birds", ok=False, cwd=ws).output.strip()
    assert out.count("\n") == 0 and "does not exist" in out and "aws s3 mb" in out, out
