"""s3_stream: many GETs in flight from one thread. Every key comes back once, with its bytes or why not
(``HttpError``, ``Unreachable``, ``Unstreamable``), on real SeaweedFS and on loopback servers that
answer what S3 servers send only in corner cases (canned.py): dropped kept-alive connections, chunked,
close-delimited and interim answers, too large, not HTTP, silence, refusal."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import struct
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from canned import canned_server
from s3server import S3Bucket, free_port

from mlgit.storage.base import MAX_OBJECT
from mlgit.storage.s3_http import HttpData, HttpError, Unreachable
from mlgit.storage.s3_stream import Body, Unstreamable, stream

#: a hang is a failure of its own (the whole file takes seconds)
pytestmark = pytest.mark.timeout(120)

Result = Body | Exception


def plane(url: str, read_timeout: float = 5.0) -> HttpData:
    return HttpData(url, "us-east-1", lambda: ("AK", "SK", None), 5, read_timeout)


def ok(body: bytes, *headers: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n%bContent-Length: %d\r\n\r\n%b" % (
        b"".join(h + b"\r\n" for h in headers),
        len(body),
        body,
    )


def each_once(results: list[tuple[str, Result]], keys: list[str]) -> dict[str, Result]:
    """The results by key, after checking that every key came back exactly once."""
    counts = Counter(key for key, _ in results)
    assert counts == Counter(keys), "every key once"
    return dict(results)


def targets(heads: list[bytes]) -> list[str]:
    return [head.split(b" ")[1].decode() for head in heads]


def fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


# -- on SeaweedFS (it keeps connections alive) ----------------------------------------------------------


def test_every_object_comes_back_once_with_its_bytes_on_kept_alive_connections(
    seaweedfs_bucket: S3Bucket,
) -> None:
    b = seaweedfs_bucket
    rng = random.Random(20261127)
    sizes = [0, 1, 65535, 65536, 65537, 300 * 1024] + [rng.randrange(300 * 1024 + 1) for _ in range(494)]
    objects = {f"obj/{i:04d}": rng.randbytes(n) for i, n in enumerate(sizes)}
    putter = HttpData(b.endpoint, b.region, lambda: (b.access_key, b.secret_key, None), 5, 15)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: putter.put(b.bucket, *kv), objects.items()))
    putter.close()
    missing = "obj/missing"
    keys = list(objects)
    keys.insert(250, missing)

    for width in (8, 1):
        http = HttpData(b.endpoint, b.region, lambda: (b.access_key, b.secret_key, None), 5, 15)
        got = each_once(list(stream(http, b.bucket, keys, width)), keys)
        error = got.pop(missing)
        assert isinstance(error, HttpError) and error.status == 404, error
        wrong = [k for k, body in got.items() if not isinstance(body, Body) or bytes(body) != objects[k]]
        assert wrong == [], f"width {width}: {len(wrong)} keys without their bytes, first {wrong[:3]}"
        assert http.opened == width  # kept alive and reused, through the 404 too
        assert http.calls == {"GetObject": len(keys)}  # one request per key, no re-sends
        http.close()


def test_closing_the_stream_early_closes_every_socket(seaweedfs_bucket: S3Bucket) -> None:
    b = seaweedfs_bucket
    putter = HttpData(b.endpoint, b.region, lambda: (b.access_key, b.secret_key, None), 5, 15)
    keys = [f"k{i}" for i in range(40)]
    for key in keys:
        putter.put(b.bucket, key, os.urandom(100_000))
    putter.close()
    http = HttpData(b.endpoint, b.region, lambda: (b.access_key, b.secret_key, None), 5, 15)

    before = fds()
    for _ in stream(http, b.bucket, keys, 8):  # the generator goes with the loop (CPython: at once)
        assert len(fds() - before) >= 8  # 8 connections (and the selector) open meanwhile
        break
    assert fds() - before == set()

    results = stream(http, b.bucket, keys, 8)
    next(results)
    assert len(fds() - before) >= 8
    results.close()  # type: ignore[attr-defined]
    assert fds() - before == set()
    assert http.opened == 16


# -- kept-alive connections the server closes ---------------------------------------------------------


def test_a_kept_alive_connection_closed_after_an_answer_is_replaced_once() -> None:
    url, heads = canned_server([ok(b"one"), ok(b"two"), ok(b"three")], close_after={0})
    http = plane(url)
    assert list(stream(http, "b", ["k1", "k2", "k3"], 1)) == [
        ("k1", b"one"),
        ("k2", b"two"),
        ("k3", b"three"),
    ]
    assert http.opened == 2  # k2 went on the dropped connection, then on a new one that served k3 too
    assert http.calls == {"GetObject": 4}
    assert targets(heads) == ["/b/k1", "/b/k2", "/b/k3"]


def test_a_key_dropped_twice_is_unreachable_and_the_stream_goes_on() -> None:
    # k2: on the connection closed after k1, then on a new one the server drops without answering
    url, heads = canned_server([ok(b"one"), b"", ok(b"three")], close_after={0, 1})
    http = plane(url)
    started = time.monotonic()
    results = list(stream(http, "b", ["k1", "k2", "k3"], 1))
    assert time.monotonic() - started < 2
    assert [key for key, _ in results] == ["k1", "k2", "k3"]
    assert results[0][1] == b"one" and results[2][1] == b"three"
    error = results[1][1]
    assert isinstance(error, Unreachable) and "closed the connection before answering" in str(error)
    assert http.opened == 3 and http.calls == {"GetObject": 4}  # k2 re-sent once, not again
    assert targets(heads) == ["/b/k1", "/b/k2", "/b/k3"]


def test_connection_close_answers_get_a_new_connection_each() -> None:
    # the server would go on reading the connection: the client closes it, as the answer said
    answers = [
        ok(b"zero", b"Connection: close"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none",  # HTTP/1.0 without keep-alive: closes
        ok(b"two", b"Connection: close"),
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nthree",  # kept
        ok(b"four"),
    ]
    url, heads = canned_server(answers)
    http = plane(url)
    keys = ["k0", "k1", "k2", "k3", "k4"]
    assert list(stream(http, "b", keys, 1)) == list(
        zip(keys, [b"zero", b"one", b"two", b"three", b"four"], strict=True)
    )
    assert http.opened == 4  # k3's HTTP/1.0 keep-alive connection served k4 too
    assert http.calls == {"GetObject": 5}  # no request went on a closed connection
    assert targets(heads) == [f"/b/{k}" for k in keys]


# -- answers the stream does not read: Unstreamable, the stream goes on ------------------------------


def test_chunked_close_delimited_and_interim_answers_are_unstreamable() -> None:
    body = os.urandom(70_000)
    chunked = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    answers = [
        ok(b"a"),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
        ok(b"b"),
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body,  # no length: ends with the connection
        ok(b"c"),
        b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"late"),
        ok(b"d"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ok(b"e"),
    ]
    url, heads = canned_server(answers, close_after={3})
    http = plane(url)
    keys = [f"k{i}" for i in range(len(answers))]
    results = list(stream(http, "b", keys, 1))
    assert [key for key, _ in results] == keys
    got = dict(results)
    for key, why in (("k1", "content-length"), ("k3", "content-length"), ("k5", "interim answer (100)")):
        assert isinstance(got[key], Unstreamable) and why in str(got[key]), (key, got[key])
    assert isinstance(got["k7"], Unstreamable)  # a length and chunked: not a plain content-length
    assert [got[k] for k in ("k0", "k2", "k4", "k6", "k8")] == [b"a", b"b", b"c", b"d", b"e"]
    assert http.opened == 5  # each unread answer took its connection with it
    assert targets(heads) == [f"/b/{k}" for k in keys]


@pytest.mark.parametrize("size", [MAX_OBJECT + 1, 10**15])
def test_an_answer_larger_than_max_object_is_unstreamable_and_never_allocated(size: int) -> None:
    # the server sends the head alone: a client that waited for the body would hang until the timeout
    url, _ = canned_server([b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size, ok(b"after")])
    http = plane(url, read_timeout=5)
    tracemalloc.start()
    try:
        started = time.monotonic()
        results = list(stream(http, "b", ["big", "next"], 1))
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert results[0][0] == "big" and isinstance(results[0][1], Unstreamable)
    assert f"{size} bytes, more than {MAX_OBJECT}" in str(results[0][1])
    assert results[1] == ("next", b"after")
    assert elapsed < 2
    assert peak < 8 * 1024 * 1024  # far from the answer's size: nothing was allocated for its body


def test_a_declared_size_is_not_allocated_before_its_bytes_come() -> None:
    """A bucket writer can declare MAX_OBJECT for every key at no cost: memory follows the bytes received,
    on both planes (32 requests in flight would otherwise hold 8 GiB before a byte of body came)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % MAX_OBJECT
    url, _ = canned_server([head + b"x" * 1000, head + b"y" * 1000], close_after={0, 1})
    http = plane(url, read_timeout=5)
    tracemalloc.start()
    try:
        results = list(stream(http, "b", ["declared"], 1))
        with pytest.raises(Unreachable, match=f"connection closed after 1000 of {MAX_OBJECT} body bytes"):
            http.get("b", "declared-too")  # the thread plane
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(results[0][1], Unreachable), results
    assert f"connection closed after 1000 of {MAX_OBJECT} body bytes" in str(results[0][1])
    assert peak < 8 * 1024 * 1024


def test_bodies_larger_than_the_preallocated_size_arrive_whole() -> None:
    from mlgit.storage.s3_http import PREALLOCATE

    big = [os.urandom(PREALLOCATE + 1), os.urandom(3 * PREALLOCATE + 12345)]
    url, _ = canned_server([ok(big[0]), ok(big[1]), ok(big[1])])
    http = plane(url)
    assert dict(stream(http, "b", ["a", "b"], 1)) == {"a": big[0], "b": big[1]}
    assert http.get("b", "c") == big[1]


# -- servers that do not answer, or not HTTP ------------------------------------------------------------


def test_a_server_that_never_answers_times_every_key_out_together() -> None:
    srv = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never reads nor answers
    try:
        http = plane(f"http://127.0.0.1:{srv.getsockname()[1]}", read_timeout=0.3)
        keys = [f"k{i}" for i in range(10)]
        started = time.monotonic()
        got = each_once(list(stream(http, "b", keys, 10)), keys)
        elapsed = time.monotonic() - started
    finally:
        srv.close()
    for key, error in got.items():
        assert isinstance(error, Unreachable) and str(error) == "no answer within 0.3 s", (key, error)
    assert 0.3 <= elapsed < 2  # together (~0.5 s: the timeouts are looked at every 0.25 s), not 10 x 0.3 s
    assert http.opened == 10


def test_a_connection_never_accepted_is_unreachable_after_the_connect_timeout() -> None:
    with open("/proc/sys/net/ipv4/tcp_abort_on_overflow") as f:
        if f.read().strip() != "0":
            pytest.skip("this kernel refuses connections past a full backlog: nothing hangs")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)  # a backlog of one connection, never accepted: the SYNs past it get no answer
    port = srv.getsockname()[1]
    fill = [socket.socket() for _ in range(3)]
    try:
        for sock in fill:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        http = HttpData(f"http://127.0.0.1:{port}", "us-east-1", lambda: ("AK", "SK", None), 0.3, 5)
        keys = [f"k{i}" for i in range(4)]
        started = time.monotonic()
        got = each_once(list(stream(http, "b", keys, 4)), keys)
        elapsed = time.monotonic() - started
    finally:
        for sock in [srv, *fill]:
            sock.close()
    for key, error in got.items():
        assert isinstance(error, Unreachable) and str(error) == "no connection within 0.3 s", (key, error)
    assert 0.3 <= elapsed < 2


def test_a_refused_connection_is_unreachable_for_every_key_at_once() -> None:
    http = plane(f"http://127.0.0.1:{free_port()}")
    keys = [f"k{i}" for i in range(6)]
    started = time.monotonic()
    got = each_once(list(stream(http, "b", keys, 3)), keys)
    assert time.monotonic() - started < 2  # not the connect timeout (5 s)
    for key, error in got.items():
        assert isinstance(error, Unreachable) and "refused" in str(error).lower(), (key, error)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        pytest.param(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x status line", id="ssh"),
        pytest.param(b"HTTP/1.1 \xb2\xb2\xb2 OK\r\nContent-Length: 0\r\n\r\n", "status line", id="status"),
        pytest.param(ok(b"ok") + b"EXTRA", "more than the answer's content-length", id="more-than-length"),
        pytest.param(  # the bound is looked at between reads (as HttpData): 64-128 KiB of head may pass
            b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 200_000 + b"\r\nContent-Length: 0\r\n\r\n",
            "answer headers longer than 64 KiB",
            id="long-head",
        ),
    ],
)
def test_an_answer_that_is_not_http_as_we_speak_it_is_unreachable_not_a_crash(
    answer: bytes, why: str
) -> None:
    url, _ = canned_server([answer, ok(b"next")])
    http = plane(url)
    results = list(stream(http, "b", ["bad", "next"], 1))
    assert results[0][0] == "bad" and isinstance(results[0][1], Unreachable), results[0]
    assert why in str(results[0][1])
    assert results[1] == ("next", b"next")  # on a new connection: the bad one went
    assert http.opened == 2


def test_bytes_past_a_long_body_spoil_the_next_answer_on_that_connection_not_its_bytes() -> None:
    # the body spans several reads, so the extra bytes stay in the socket, before the next answer
    body = os.urandom(200_000)
    url, _ = canned_server([ok(body) + b"EXTRA", ok(b"two"), ok(b"three")])
    http = plane(url)
    results = list(stream(http, "b", ["one", "two", "three"], 1))
    assert results[0] == ("one", body)
    assert results[1][0] == "two" and isinstance(results[1][1], Unreachable), results[1]
    assert "not an HTTP/1.x status line: 'EXTRAHTTP/1.1 200 OK'" in str(results[1][1])
    assert results[2] == ("three", b"three")


def test_a_body_cut_short_is_unreachable_and_the_stream_goes_on() -> None:
    url, _ = canned_server([ok(os.urandom(100_000))[:60_000], ok(b"next")], close_after={0})
    http = plane(url)
    results = list(stream(http, "b", ["cut", "next"], 1))
    assert results[0][0] == "cut" and isinstance(results[0][1], Unreachable), results[0]
    assert "connection closed after" in str(results[0][1]) and "of 100000 body bytes" in str(results[0][1])
    assert results[1] == ("next", b"next")
    assert http.calls == {"GetObject": 2}  # a connection dropped inside an answer: not re-sent


def test_a_content_length_that_is_not_a_number_is_not_a_crash() -> None:
    # "²" is a digit to str.isdigit, not to int()
    url, _ = canned_server([b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", ok(b"next")])
    results = list(stream(plane(url), "b", ["bad", "next"], 1))
    assert results[0][0] == "bad" and isinstance(results[0][1], Unreachable | Unstreamable), results[0]
    assert results[1] == ("next", b"next")


# -- the timeouts measure the server, not the caller --------------------------------------------------


@contextlib.contextmanager
def _path_server(delay: dict[str, float]) -> Iterator[str]:
    """A loopback server that answers each GET, on each connection (a thread each), with its target
    as the body, ``delay[target]`` seconds late."""
    srv = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(ConnectionError):  # a client that resets: done
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                target = head.split(b" ")[1]
                time.sleep(delay.get(target.decode(), 0))
                conn.sendall(ok(target))

    def accept() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        srv.close()


def test_answers_that_came_while_the_caller_was_busy_are_not_timed_out() -> None:
    # k0 answers at once, k1..k3 0.1 s later: while the caller holds k0 for longer than the read timeout
    with _path_server({f"/b/k{i}": 0.1 for i in (1, 2, 3)}) as url:
        http = plane(url, read_timeout=0.3)
        keys = [f"k{i}" for i in range(4)]
        got: list[tuple[str, Result]] = []
        for key, body in stream(http, "b", keys, 4):
            got.append((key, body))
            if len(got) == 1:
                time.sleep(0.6)  # the caller writes a file, slowly
        assert each_once(got, keys) == {k: f"/b/{k}".encode() for k in keys}


def test_a_kept_alive_connection_reset_while_the_caller_held_a_result_is_replaced() -> None:
    # the server resets (RST, not FIN) the connection after k1's answer: sending k2 on it fails at once
    srv = socket.create_server(("127.0.0.1", 0))
    served: list[bytes] = []

    def serve() -> None:
        for reset in (True, False):
            conn, _ = srv.accept()
            with conn, contextlib.suppress(ConnectionError):
                while data := conn.recv(65536):
                    served.append(data.split(b" ")[1])
                    conn.sendall(ok(data.split(b" ")[1]))
                    if reset:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        break
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    http = plane(f"http://127.0.0.1:{srv.getsockname()[1]}")
    got = []
    for key, body in stream(http, "b", ["k1", "k2", "k3"], 1):
        got.append((key, body))
        time.sleep(0.2)  # the reset comes meanwhile
    assert got == [("k1", b"/b/k1"), ("k2", b"/b/k2"), ("k3", b"/b/k3")]
    assert http.opened == 2 and served == [b"/b/k1", b"/b/k2", b"/b/k3"]
