"""Our SigV4 signer agrees with botocore's, byte for byte; a PUT's payload hash read off its CID is the
SHA-256 of the bytes; and the data plane reuses its connections (one per thread)."""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from canned import canned_server
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
    plane = HttpData(
        "http://127.0.0.1:9000", "eu-west-3", lambda: ("AKIDEXAMPLE", "s3cr3t/Key+", token), 5, 15
    )
    path = HttpData.path_of("my-bucket", key)
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


# -- the HTTP/1.1 answers our parser must read (canned.py: a loopback server of canned answers) --


def test_answers_chunked_close_delimited_and_1xx_are_read_whole() -> None:
    body = os.urandom(70_000)
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in (body[:1], body[1:65536], body[65536:]))
    url, heads = canned_server(
        [
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\nX-Trailer: t\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",  # a HEAD answer: the length, no body
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
            + body,  # no length: the body ends with the connection
        ],
        close_after={3},
    )
    plane = HttpData(url, "us-east-1", lambda: ("AK", "SK", None), 5, 5)
    assert plane.get("b", "one") == b"hello"
    assert plane.get("b", "two") == body
    plane.head("b", "three")
    assert plane.get("b", "four") == body
    assert plane.opened == 1  # one kept-alive connection served all four, then it was closed
    assert plane._all == []
    assert (
        heads[0].startswith(b"GET /b/one HTTP/1.1\r\n")
        and b"\r\nauthorization: AWS4-HMAC-SHA256 " in heads[0]
    )


def test_a_kept_alive_connection_the_server_closed_is_replaced_once() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    url, heads = canned_server([ok, ok], close_after={0})  # the server drops the connection after one answer
    plane = HttpData(url, "us-east-1", lambda: ("AK", "SK", None), 5, 5)
    assert plane.get("b", "k1") == b"ok"
    assert plane.get("b", "k2") == b"ok"  # sent on the dead connection, then once on a new one
    assert plane.opened == 2 and len(heads) == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 \xb2\xb2\xb2 OK\r\n\r\n",
    ],  # "²" is a digit to isdigit, not to int
    ids=["ssh", "status"],
)
def test_an_answer_that_is_not_http_is_unreachable_not_a_crash(answer: bytes) -> None:
    from mlgit.storage.s3_http import Unreachable

    url, _ = canned_server([answer])
    plane = HttpData(url, "us-east-1", lambda: ("AK", "SK", None), 5, 5)
    with pytest.raises(Unreachable, match="not an HTTP/1.x status line"):
        plane.get("b", "k")
    assert plane._all == []  # the connection went with the answer


@pytest.mark.parametrize("kernel", [True, False], ids=["SO_RCVTIMEO", "settimeout"])
def test_a_server_that_never_answers_is_unreachable_after_the_read_timeout(
    kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import time

    from mlgit.storage import s3_http

    monkeypatch.setattr(s3_http, "_KERNEL_TIMEOUTS", kernel and s3_http._KERNEL_TIMEOUTS)
    srv = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never reads nor answers
    try:
        plane = HttpData(
            f"http://127.0.0.1:{srv.getsockname()[1]}", "us-east-1", lambda: ("AK", "SK", None), 5, 0.3
        )
        started = time.monotonic()
        with pytest.raises(s3_http.Unreachable, match="no answer within 0.3 s"):
            plane.get("b", "k")
        assert 0.25 < time.monotonic() - started < 3
        assert plane._all == []
    finally:
        srv.close()


def test_a_push_sends_one_put_per_object_and_nothing_else_per_object(
    seaweedfs_bucket: S3Bucket, tmp_path: Path, remotes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the server is asked to do: no HEAD before a PUT (a listing tells what the bucket lacks),
    and 32 uploads in flight whatever push_threads_count says (SeaweedFS spends less CPU per PUT)."""
    import threading

    from mlgit import Repository
    from mlgit.storage import s3_http

    calls: dict[str, int] = {}
    threads: set[str] = set()
    lock = threading.Lock()
    real = s3_http.HttpData.request

    def counted(self: HttpData, op: str, *args: object, **kwargs: object) -> tuple[int, bytes]:
        with lock:
            calls[op] = calls.get(op, 0) + 1
            if op == "PutObject":
                threads.add(threading.current_thread().name)
        return real(self, op, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(s3_http.HttpData, "request", counted)
    s3_bucket = seaweedfs_bucket
    repo = Repository.init(tmp_path / "ws")
    repo.set_config("push_threads_count", 4)
    repo.remote_add("datasets", remotes["datasets"])
    repo.entity_init("datasets")
    repo.storage_add(s3_bucket.bucket, "s3h", endpoint_url=s3_bucket.endpoint)
    entity = repo.create("datasets", "many", categories=["zoo"], storage_type="s3h", bucket=s3_bucket.bucket)
    for i in range(200):
        (entity / "data" / f"{i:03d}.bin").parent.mkdir(parents=True, exist_ok=True)
        (entity / "data" / f"{i:03d}.bin").write_bytes(os.urandom(100 + i))
    repo.add("datasets", "many")
    repo.commit("datasets", "many")
    assert repo.push("datasets", "many").uploaded == 400  # a chunk and a descriptor per file
    assert calls.get("PutObject") == 400
    assert calls.get("HeadObject", 0) == 0 and calls.get("HeadBucket") == 1
    assert 1 <= calls.get("ListObjectsV2", 0) <= 2
    assert len(threads) > 4  # more workers than push_threads_count: the storage's concurrency (32)
