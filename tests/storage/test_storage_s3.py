"""s3h specifics against the loopback S3 servers (moto; SeaweedFS where marked): credentials, faults,
request counts, every data plane."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from s3server import S3Bucket, free_port, moto_authentication, on_each_s3_server

from mlgit import transfer
from mlgit.cid import cid_of
from mlgit.errors import StorageAuthError, StorageError, StorageNotFound, TransferError
from mlgit.objects import HashFS
from mlgit.storage.s3 import S3Storage


def _blob(n: int = 100) -> tuple[str, bytes]:
    data = os.urandom(n)
    return cid_of(data), data


def _count_calls(st: S3Storage) -> dict[str, int]:
    """Count the real requests the storage sends, by operation (our data plane's count, or botocore's
    own event hooks)."""
    if st._http is not None:
        st._http.calls.clear()
        return st._http.calls
    calls: dict[str, int] = {}

    def hook(model: Any, **_: Any) -> None:
        calls[model.name] = calls.get(model.name, 0) + 1

    st._client.meta.events.register("before-call.s3", hook)
    return calls


def test_profile_from_config(s3_bucket: S3Bucket) -> None:
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings(profile="mlgit"))
    key, data = _blob()
    st.put(key, data)
    assert s3_bucket.client().get_object(Bucket=s3_bucket.bucket, Key=key)["Body"].read() == data


def test_credentials_passed_by_code_need_no_environment(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings(profile=None), s3_bucket.credentials())
    st.check()
    assert st.missing([_blob()[0]])
    assert s3_bucket.secret_key not in repr(vars(st))


def test_unknown_profile_falls_back_to_environment(s3_bucket: S3Bucket) -> None:
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings(profile="no-such-profile"))
    st.check()


def test_unknown_profile_without_any_credentials_is_an_auth_error(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(StorageAuthError, match="aws configure --profile no-such-profile"):
        S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings(profile="no-such-profile"))


def test_no_credentials_at_all(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings(profile=None))
    with pytest.raises(StorageAuthError, match=f"no usable AWS credentials for s3h://{s3_bucket.bucket}"):
        st.check()


@pytest.mark.parametrize("sdk", ["http", "minio", "boto3"])
@on_each_s3_server
def test_wrong_credentials_name_bucket_and_endpoint_never_the_secret(
    s3_bucket: S3Bucket, tmp_path: Path, sdk: str
) -> None:
    secret = "wrong-secret-Zq8v3XbT5s"
    creds = {"aws_access_key_id": "AKIAWRONGWRONGWRONG1", "aws_secret_access_key": secret}
    st = S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(profile=None), "sdk": sdk}, creds)
    src = HashFS(tmp_path / "src")
    key, data = _blob()
    src.put(key, data)
    with moto_authentication(s3_bucket.server):
        for action in (st.check, lambda: st.get(key), lambda: st.put(key, data)):
            with pytest.raises(StorageAuthError) as err:
                action()
            msg = str(err.value)
            assert s3_bucket.bucket in msg and s3_bucket.endpoint in msg and secret not in msg
            assert "keys passed by code" in msg
        st._checked = False
        with pytest.raises(StorageAuthError):
            transfer.upload(st, src, [key])


@pytest.mark.timeout(120)  # bounded: a fixed number of attempts (asserted below), never a retry loop
@pytest.mark.parametrize("sdk", ["http", "minio", "boto3"])
def test_endpoint_down_is_one_error_in_bounded_time(s3_bucket: S3Bucket, tmp_path: Path, sdk: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = {**s3_bucket.settings(), "endpoint-url": endpoint, "sdk": sdk}
    st = S3Storage.from_config(s3_bucket.bucket, settings)
    src = HashFS(tmp_path / "src")
    keys = []
    for _ in range(50):
        k, d = _blob()
        src.put(k, d)
        keys.append(k)
    with pytest.raises(TransferError) as err:
        transfer.upload(st, src, keys, threads=8)
    msg = str(err.value)
    assert f"50 of 50 objects not transferred to s3h://{s3_bucket.bucket} at {endpoint}" in msg
    assert (
        "cannot reach" in msg
        and "connection refused" in msg
        and f"gave up after {transfer.ATTEMPTS} attempts" in msg
    )
    assert sorted(err.value.failed) == sorted(keys)
    with pytest.raises(StorageError, match="cannot reach"):
        st.get(keys[0])


@pytest.mark.parametrize("sdk", ["http", "minio", "boto3"])
@on_each_s3_server
def test_missing_bucket_named_with_endpoint(s3_bucket: S3Bucket, sdk: str) -> None:
    st = S3Storage.from_config("no-such-bucket-here", {**s3_bucket.settings(), "sdk": sdk})
    with pytest.raises(StorageNotFound) as err:
        st.check()
    assert f"--endpoint-url {s3_bucket.endpoint}" in str(err.value)
    with pytest.raises(StorageNotFound, match="does not exist"):
        st.get(_blob()[0])


def test_many_keys_answered_by_listing_not_one_head_each(s3_bucket: S3Bucket) -> None:
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings())
    keys = sorted(_blob(10)[0] for _ in range(300))
    present = set(keys[::2])
    client = s3_bucket.client()
    for k in present:
        client.put_object(Bucket=s3_bucket.bucket, Key=k, Body=b"x")
    calls = _count_calls(st)
    assert st.missing(keys) == set(keys) - present
    assert calls == {"ListObjectsV2": 1}
    calls.clear()
    assert st.missing(present) == set()
    assert calls == {}, "keys listed once are remembered"


def test_seeking_listing_with_small_pages_and_segments(s3_bucket: S3Bucket) -> None:
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings())
    st.page_size, st.segment, st.sparse_below = 7, 40, 0
    client = s3_bucket.client()
    everything = sorted(_blob(10)[0] for _ in range(200))
    for k in everything[::2]:
        client.put_object(Bucket=s3_bucket.bucket, Key=k, Body=b"x")
    wanted = everything[:150]
    calls = _count_calls(st)
    assert st.missing(wanted) == {k for k in wanted if k not in set(everything[::2])}
    assert 0 < calls["ListObjectsV2"] <= 75 // 7 + 2 * 4 + 4 and "HeadObject" not in calls


def test_sparse_keys_in_a_big_bucket_switch_to_head(s3_bucket: S3Bucket) -> None:
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings())
    st.page_size = 20  # ~2 of our 40 keys per page among 300 others: under sparse_below (8)
    client = s3_bucket.client()
    for _ in range(300):  # other entities' objects
        client.put_object(Bucket=s3_bucket.bucket, Key=_blob(10)[0], Body=b"o")
    ours = sorted(_blob(10)[0] for _ in range(40))
    for k in ours[:10]:
        client.put_object(Bucket=s3_bucket.bucket, Key=k, Body=b"x")
    calls = _count_calls(st)
    assert st.missing(ours) == set(ours[10:])
    assert calls["ListObjectsV2"] <= 3 and 0 < calls["HeadObject"] < 40


def test_few_keys_use_head(s3_bucket: S3Bucket) -> None:
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings())
    keys = [_blob()[0] for _ in range(3)]
    st.put(keys[0], b"x")
    st._known.clear()
    calls = _count_calls(st)
    assert st.missing(keys) == set(keys[1:])
    assert calls == {"HeadObject": 3}


@pytest.mark.parametrize(
    "writer,reader",
    [("minio", "boto3"), ("boto3", "minio"), ("http", "boto3"), ("boto3", "http"), ("http", "minio")],
)
@on_each_s3_server
def test_minio_sdk_and_boto3_read_each_other(s3_bucket: S3Bucket, writer: str, reader: str) -> None:
    w = S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "sdk": writer})
    r = S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "sdk": reader})
    assert (w.sdk, r.sdk) == (writer, reader)
    key, data = _blob(300_000)
    w.put(key, data)
    assert r.get(key) == data
    # and the plain SDKs agree with both
    assert s3_bucket.client().get_object(Bucket=s3_bucket.bucket, Key=key)["Body"].read() == data


def test_plain_minio_client_reads_what_we_wrote(s3_bucket: S3Bucket) -> None:
    from urllib.parse import urlparse

    from minio import Minio

    url = urlparse(s3_bucket.endpoint)
    mc = Minio(
        url.netloc,
        s3_bucket.access_key,
        s3_bucket.secret_key,
        secure=url.scheme == "https",
        region=s3_bucket.region,
    )
    st = S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "sdk": "boto3"})
    by_minio_key, by_minio = _blob(300_000)
    mc.put_object(s3_bucket.bucket, by_minio_key, io.BytesIO(by_minio), len(by_minio))
    assert st.get(by_minio_key) == by_minio
    by_boto_key, by_boto = _blob(300_000)
    st.put(by_boto_key, by_boto)
    resp = mc.get_object(s3_bucket.bucket, by_boto_key)
    try:
        assert resp.read() == by_boto
    finally:
        resp.close()
        resp.release_conn()


def test_sdk_choice(s3_bucket: S3Bucket) -> None:
    assert S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings()).sdk == "http"
    assert S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "sdk": "minio"}).sdk == "minio"
    assert S3Storage("b", region="eu-west-1").sdk == "boto3"  # AWS itself: boto3
    with pytest.raises(StorageError, match="sdk must be one of auto, http, minio, boto3"):
        S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "sdk": "curl"})


def test_concurrency_of_the_http_plane_is_a_setting(s3_bucket: S3Bucket) -> None:
    assert S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings()).concurrency == 32
    assert (
        S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "concurrency": 12}).concurrency == 12
    )
    # the SDK planes keep push_threads_count as it is
    assert S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "sdk": "boto3"}).concurrency == 0
    for bad in (0, 1000, "many", True):
        with pytest.raises(StorageError, match="concurrency must be 1..256"):
            S3Storage.from_config(s3_bucket.bucket, {**s3_bucket.settings(), "concurrency": bad})
