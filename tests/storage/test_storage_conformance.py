"""One storage contract, every backend: a folder; S3 on moto_server and on SeaweedFS (bytes moved by the
default data plane and by boto3); MinIO in Docker (pytest-docker) where an engine runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import Backend, azure_backend, local_backend, minio_docker, sftp_backend  # noqa: F401
from s3server import s3_bucket_on

from mlgit import transfer
from mlgit.cid import cid_of
from mlgit.errors import ObjectNotFound, StorageNotFound, TransferError
from mlgit.objects import HashFS
from mlgit.storage import open_storage
from mlgit.storage.s3 import S3Storage


def _s3_backend(
    name: str, endpoint: str, bucket: str, access: str, secret: str, sdk: str = "auto"
) -> Backend:
    creds = {"aws_access_key_id": access, "aws_secret_access_key": secret}
    settings = {
        "aws-credentials": {"profile": None},
        "region": "us-east-1",
        "endpoint-url": endpoint,
        "sdk": sdk,
    }
    return Backend(
        name,
        S3Storage.from_config(bucket, settings, creds),
        lambda: S3Storage.from_config(bucket + "-missing", settings, creds),
    )


@pytest.fixture(
    params=[
        pytest.param("local", id="local"),
        pytest.param("s3h", id="s3h"),
        pytest.param("s3h-boto3", id="s3h-boto3"),
        pytest.param("s3h-seaweedfs", id="s3h-seaweedfs"),
        pytest.param("s3h-seaweedfs-boto3", id="s3h-seaweedfs-boto3"),
        pytest.param("s3h-minio-docker", id="s3h-minio-docker"),
        pytest.param("sftph", id="sftph"),
        pytest.param("azureblobh", id="azureblobh"),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield local_backend(tmp_path)
        return
    if request.param in ("sftph", "azureblobh"):
        be = (
            sftp_backend(request.getfixturevalue("sftp_bucket"))
            if request.param == "sftph"
            else azure_backend(request.getfixturevalue("azure_container"))
        )
        yield be
        be.storage.close()
        return
    if request.param.startswith("s3h") and "docker" not in request.param:
        b = s3_bucket_on(request, "seaweedfs" if "seaweedfs" in request.param else "moto")
        sdk = "boto3" if request.param.endswith("-boto3") else "auto"
        be = _s3_backend(request.param, b.endpoint, b.bucket, b.access_key, b.secret_key, sdk)
        assert be.storage.sdk == ("boto3" if sdk == "boto3" else "http")  # type: ignore[attr-defined]
    else:
        endpoint, access, secret = request.getfixturevalue("minio_docker")
        from s3server import S3Server, drop_bucket, make_bucket

        server = S3Server(endpoint, access, secret, kind="external")
        name = make_bucket(server)
        request.addfinalizer(lambda: drop_bucket(server, name))
        be = _s3_backend("s3h-minio-docker", endpoint, name, access, secret)
    yield be
    be.storage.close()


def _blob(n: int = 1000) -> tuple[str, bytes]:
    data = os.urandom(n)
    return cid_of(data), data


def test_put_get_exists(backend: Backend) -> None:
    st = backend.storage
    key, data = _blob()
    assert not st.exists(key)
    st.put(key, data)
    assert st.exists(key)
    assert st.get(key) == data


def test_empty_object(backend: Backend) -> None:
    key = cid_of(b"")
    backend.storage.put(key, b"")
    assert backend.storage.get(key) == b""


def test_missing_key_is_object_not_found(backend: Backend) -> None:
    key, _ = _blob()
    with pytest.raises(ObjectNotFound, match=key):
        backend.storage.get(key)


def test_overwrite_replaces_bytes(backend: Backend) -> None:
    key, _ = _blob()
    backend.storage.put(key, b"first")
    backend.storage.put(key, b"second")
    assert backend.storage.get(key) == b"second"


def test_list_and_prefix(backend: Backend) -> None:
    keys = {_blob()[0] for _ in range(5)}
    for k in keys:
        backend.storage.put(k, b"x")
    assert set(backend.storage.list_keys()) == keys
    one = sorted(keys)[0]
    assert one in set(backend.storage.list_keys(one[:12]))
    assert set(backend.storage.list_keys("zzzz-no-such-prefix")) == set()


def test_delete_and_delete_absent(backend: Backend) -> None:
    key, data = _blob()
    backend.storage.put(key, data)
    backend.storage.delete(key)
    assert not backend.storage.exists(key)
    backend.storage.delete(key)  # absent: no error
    with pytest.raises(ObjectNotFound):
        backend.storage.get(key)


def test_large_object(backend: Backend) -> None:
    key, data = _blob(9 * 1024 * 1024 + 7)
    backend.storage.put(key, data)
    assert backend.storage.get(key) == data


@pytest.mark.parametrize("n", [pytest.param(5, id="few"), pytest.param(120, id="many")])
def test_missing_answers_a_set(backend: Backend, n: int) -> None:
    keys = [_blob(20)[0] for _ in range(n)]
    present = keys[::3]
    for k in present:
        backend.storage.put(k, b"x")
    for _ in range(10):  # unrelated objects interleaved in the bucket
        backend.storage.put(_blob(20)[0], b"y")
    assert backend.storage.missing(keys) == set(keys) - set(present)
    assert backend.storage.missing([]) == set()


def test_missing_bucket_says_how_to_create_it(backend: Backend) -> None:
    gone = backend.missing_bucket()
    with pytest.raises(StorageNotFound) as err:
        gone.check()
    assert "does not exist" in str(err.value) and "create" in str(err.value)
    key, data = _blob()
    with pytest.raises(StorageNotFound):
        gone.put(key, data)


def test_transfer_round_trip_and_corruption_detected(backend: Backend, tmp_path: Path) -> None:
    src = HashFS(tmp_path / "src")
    keys = []
    for _ in range(12):
        k, d = _blob(3000)
        src.put(k, d)
        keys.append(k)
    rep = transfer.upload(backend.storage, src, keys, threads=4)
    assert len(rep.done) == 12
    bad = sorted(keys)[5]
    backend.storage.put(bad, b"bit rot")
    dst = HashFS(tmp_path / "dst")
    with pytest.raises(TransferError) as err:
        transfer.download(backend.storage, dst, keys, threads=4)
    assert err.value.failed == [bad] and bad in str(err.value)
    assert not dst.exists(bad)
    assert all(dst.get(k) == src.get(k) for k in keys if k != bad)


def test_transfer_to_missing_bucket_is_one_error(backend: Backend, tmp_path: Path) -> None:
    src = HashFS(tmp_path / "src")
    k, d = _blob()
    src.put(k, d)
    with pytest.raises(StorageNotFound):
        transfer.upload(backend.missing_bucket(), src, [k])


def test_open_storage_by_uri(backend: Backend, tmp_path: Path) -> None:
    st = backend.storage
    if isinstance(st, S3Storage):
        settings = {
            "aws-credentials": {"profile": None},
            "region": st.region,
            "endpoint-url": st.endpoint_url,
        }
        opened = open_storage(f"s3h://{st.bucket}", {"s3h": {st.bucket: settings}}, tmp_path)
        if backend.name == "s3h-minio-docker":
            pytest.skip("open_storage takes credentials from the environment, which points at moto")
    elif backend.name in ("sftph", "azureblobh"):
        opened = open_storage(
            f"{backend.name}://{st.bucket}", {backend.name: {st.bucket: backend.settings}}, tmp_path
        )
    else:
        opened = open_storage("local://bucket", {"local": {"bucket": {"path": str(st.root)}}}, tmp_path)  # type: ignore[attr-defined]
    key, data = _blob()
    st.put(key, data)
    assert opened.get(key) == data
