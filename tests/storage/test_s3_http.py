"""Our SigV4 signer agrees with botocore's, byte for byte; a PUT's payload hash read off its CID is the
SHA-256 of the bytes; and the data plane reuses its connections (one per thread)."""

from __future__ import annotations

import datetime
import hashlib
import os

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from s3server import S3Bucket

from mlgit.cid import cid_of
from mlgit.storage.s3 import S3Storage
from mlgit.storage.s3_http import EMPTY_SHA256, HttpData, payload_sha256

NOW = datetime.datetime(2026, 11, 27, 10, 11, 12, tzinfo=datetime.UTC)


@pytest.mark.parametrize("token", [None, "session-token/+="])
@pytest.mark.parametrize(
    ("method", "key", "query", "body"),
    [
        pytest.param("GET", cid_of(b"x"), "", b"", id="get"),
        pytest.param("PUT", cid_of(b"chunk bytes"), "", b"chunk bytes", id="put-cid"),
        pytest.param("PUT", "not a cid/with space", "", b"other", id="put-other-key"),
        pytest.param("HEAD", "", "", b"", id="head-bucket"),
        pytest.param("GET", "", "list-type=2&max-keys=1000&start-after=zdj7W", b"", id="list"),
    ],
)
def test_signature_matches_botocore(
    monkeypatch: pytest.MonkeyPatch, method: str, key: str, query: str, body: bytes, token: str | None
) -> None:
    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    plane = HttpData("http://127.0.0.1:9000", "eu-west-3", lambda: ("AKIDEXAMPLE", "s3cr3t/Key+", token), 5, 15)
    path = HttpData._path("my-bucket", key)
    payload = payload_sha256(key, body) if method == "PUT" else EMPTY_SHA256
    ours = plane.sign(method, path, query, payload, now=NOW.timestamp())

    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers={"X-Amz-Content-SHA256": payload})
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "s3cr3t/Key+", token), "s3", "eu-west-3").add_auth(req)
    assert ours["x-amz-date"] == req.headers["X-Amz-Date"]
    assert ours["x-amz-content-sha256"] == req.headers["X-Amz-Content-SHA256"]
    assert ours["authorization"] == req.headers["Authorization"]


def test_payload_hash_of_a_cid_is_the_sha256_of_its_bytes() -> None:
    for data in (b"", b"a", os.urandom(256 * 1024)):
        assert payload_sha256(cid_of(data), data) == hashlib.sha256(data).hexdigest()
    assert payload_sha256("plain-key", b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_connections_are_kept_and_reused(seaweedfs_bucket: S3Bucket) -> None:
    """On a server that keeps connections alive (moto closes each one: nothing to reuse there)."""
    s3_bucket = seaweedfs_bucket
    st = S3Storage.from_config(s3_bucket.bucket, s3_bucket.settings(), s3_bucket.credentials())
    assert st._http is not None
    keys = []
    for _ in range(30):
        data = os.urandom(1000)
        st.put(cid_of(data), data)
        keys.append(cid_of(data))
    assert all(st.get(k) for k in keys)
    assert st._http.opened == 1 and len(st._http._all) == 1  # one thread, one connection, 60 requests
    st.close()
    assert st._http._all == []
