"""The ``s3h`` data plane on S3-compatible endpoints: plain HTTP/1.1 keep-alive, SigV4 signed here.

Why not an SDK: on 10,000 objects of 16 KiB, boto3 and the minio SDK spend 0.3-0.6 ms of Python per
request (event hooks, a signer that re-derives its key, header objects, pools, retries we turn off
anyway), on machines where the S3 server shares the CPU. Here a request is one canonical string,
one SHA-256 of it, one HMAC with a signing key derived once per day, one ``sendall`` of the request
and a minimal HTTP/1.1 answer parser, on a connection kept per thread. For PUT the payload's SHA-256
is the key's own CID digest (a server that checks it refuses altered bytes; nothing is hashed
twice); for GET the CID is checked by the caller.

One attempt per request (``mlgit.transfer`` is the retry layer): a connection kept alive that the
server closed in the meantime is replaced once, at once, before any answer came (connection reuse,
not a retry of a failed request). Errors are ``HttpError`` (an S3 error answer) and ``Unreachable``
(refused, dropped, timed out); ``S3Storage`` translates both. Credentials come from a callable that
returns (access key, secret key, session token): never stored here, never logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from urllib.parse import quote, urlparse
from xml.etree import ElementTree

from ..cid import _ALPHABET, is_cid
from ..errors import CorruptObject
from .base import read_object

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_B58 = {c: i for i, c in enumerate(_ALPHABET)}
Credentials = Callable[[], tuple[str, str, str | None]]


class HttpError(Exception):
    """An S3 error answer: HTTP status, S3 error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code} {message}".strip())
        self.status, self.code, self.message = status, code, message


class Unreachable(Exception):
    """No answer: the connection was refused, dropped, or the server was silent too long."""


class _ConnectTimeout(OSError):
    """No connection within the connect timeout."""


#: plain-HTTP reads and writes bounded by the kernel (SO_RCVTIMEO/SO_SNDTIMEO, a struct timeval of two
#: longs): Linux; elsewhere, and with TLS, Python's own timeout
_KERNEL_TIMEOUTS = sys.platform == "linux"

#: bodies up to this size are allocated whole when their head arrives; larger ones grow as their bytes come
#: (a bucket writer can declare MAX_OBJECT for every key at no cost: 32 requests in flight would be 8 GiB)
PREALLOCATE = 1 << 20

#: the end of every request's head: bodies as they are (no compression asked for), then the blank line
_FIXED = "accept-encoding: identity\r\n\r\n"


def usable(endpoint_url: str | None) -> bool:
    """An ``http(s)://host[:port]`` endpoint (path-style addressing) that no proxy setting applies to."""
    if not endpoint_url:
        return False
    url = urlparse(endpoint_url)
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
        return False
    proxies = urllib.request.getproxies()
    return not proxies.get(url.scheme) or urllib.request.proxy_bypass(url.hostname)  # type: ignore[no-any-return]


def payload_sha256(key: str, data: bytes) -> str:
    """The hex SHA-256 of ``data``: read off the key when it is a CID of those bytes (no hashing)."""
    if is_cid(key):
        n = 0
        for ch in key[1:]:
            n = n * 58 + _B58[ch]
        return n.to_bytes(36, "big")[4:].hex()  # CIDv1 prefix (4 bytes), then the sha2-256 digest
    return hashlib.sha256(data).hexdigest()


class _Dropped(ConnectionError):
    """The server closed the connection before any byte of its answer (a kept-alive connection it
    dropped meanwhile, or a server that went away)."""


class _Response:
    """A status, its headers and a body read on demand: what ``request`` needs of an HTTP answer."""

    __slots__ = ("_conn", "_left", "_mode", "headers", "status", "will_close")

    def __init__(self, conn: _Connection, status: int, headers: dict[str, str], head: bool) -> None:
        self._conn, self.status, self.headers = conn, status, headers
        version_close = headers.get("connection", "").lower() == "close"
        self.will_close = version_close
        length = headers.get("content-length")
        if head or status in (204, 304):
            self._mode, self._left = "length", 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._mode, self._left = "chunked", -1
        elif length is not None:
            try:
                self._left = int(length)
            except ValueError:
                raise _Protocol(f"bad content-length {length[:40]!r}") from None
            if self._left < 0:
                raise _Protocol(f"bad content-length {length[:40]!r}")
            self._mode = "length"
        else:
            self._mode, self._left, self.will_close = "close", -1, True

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def read(self, amt: int | None = None) -> bytes:
        """The body (at most ``amt`` bytes of it: the rest is left unread and the connection must go)."""
        cap = (1 << 62) if amt is None else amt
        if self._mode == "length":
            n = min(self._left, cap)
            data = self._conn.read_exact(n)
            self._left -= n
            return data
        if self._mode == "chunked":
            return self._conn.read_chunked(cap)
        return self._conn.read_until_close(cap)


class _Protocol(Exception):
    """An answer that is not HTTP/1.x as we speak it."""


def parse_head(block: bytes) -> tuple[int, dict[str, str], bool]:
    """The status, the headers (names lower-cased) and whether the server closes the connection after
    this answer, of an answer's head (up to, not including, the blank line)."""
    lines = block.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1.") or len(rest) < 3 or not (rest[:3].isascii() and rest[:3].isdigit()):
        raise _Protocol(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    closes = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
    return int(rest[:3]), headers, closes


class _Connection:
    """One HTTP/1.1 connection kept alive: a request is one ``sendall`` of its head and body, the
    answer is parsed here (``http.client`` parses headers with the email package: on 10,000 small
    objects that was the largest CPU cost left on the client). Connects within ``connect_timeout``,
    then waits at most ``read_timeout`` for each read."""

    def __init__(
        self, host: str, port: int, connect_timeout: float, read_timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        self.host, self.port = host, port
        self.connect_timeout, self.timeout = connect_timeout, read_timeout
        self._tls = tls
        self.sock: socket.socket | None = None
        self._buf = b""  # bytes read past what was consumed
        self._rbuf = bytearray(65536)

    def connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except TimeoutError as exc:
            raise _ConnectTimeout(f"no connection within {self.connect_timeout:g} s") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is None and _KERNEL_TIMEOUTS:
                # a blocking socket whose reads and writes the kernel bounds: one syscall per recv/send
                # (with settimeout, Python polls before each one: two GIL hand-offs per call, not one)
                sock.settimeout(None)
                seconds, micros = int(self.timeout), int(self.timeout % 1 * 1_000_000)
                timeval = struct.pack("ll", seconds, micros or (0 if seconds else 1))  # 0, 0: no bound at all
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
            else:
                sock.settimeout(self.timeout)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock, self._buf = sock, b""

    def close(self) -> None:
        sock, self.sock, self._buf = self.sock, None, b""
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def exchange(self, head: bytes, body: bytes, head_only: bool) -> _Response:
        """Send one request, read the answer's status and headers (1xx answers skipped)."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        if len(body) <= 65536:
            self.sock.sendall(head + body)  # one segment for a small object
        else:  # no copy of a large body (per-thread copies of 256 KiB chunks grow the heap)
            self.sock.sendall(head)
            self.sock.sendall(body)
        first = True
        while True:
            block = self._read_head(first)
            first = False
            status, headers, closes = parse_head(block)
            if 100 <= status < 200:
                continue
            resp = _Response(self, status, headers, head_only)
            resp.will_close = resp.will_close or closes
            return resp

    def _recv(self) -> bytes:
        """What the socket has, through one buffer kept per connection (``recv(n)`` would allocate
        ``n`` bytes per call, for answers of a few hundred bytes)."""
        assert self.sock is not None
        n = self.sock.recv_into(self._rbuf)
        return bytes(self._rbuf[:n])

    def _read_head(self, first: bool) -> bytes:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            if len(buf) > 65536:
                raise _Protocol("answer headers longer than 64 KiB")
            data = self._recv()
            if not data:
                if first and not buf:
                    raise _Dropped("the server closed the connection before answering")
                raise _Protocol("connection closed inside the answer's headers")
            start = max(0, len(buf) - 3)
            buf += data
            end = buf.find(b"\r\n\r\n", start)
        self._buf = buf[end + 4 :]
        return buf[:end]

    def read_exact(self, n: int) -> bytes:
        buf = self._buf
        if len(buf) >= n:
            self._buf = buf[n:]
            return buf[:n]
        assert self.sock is not None
        if n > PREALLOCATE:  # a size the server declares costs it nothing: memory follows the bytes that come
            return self._read_growing(n)
        out = bytearray(n)
        out[: len(buf)] = buf
        view, got = memoryview(out), len(buf)
        self._buf = b""
        while got < n:
            k = self.sock.recv_into(view[got:])
            if not k:
                raise _Protocol(f"connection closed after {got} of {n} body bytes")
            got += k
        return out  # type: ignore[return-value]  # a bytearray: a body of 256 KiB is not copied again

    def _read_growing(self, n: int) -> bytes:
        assert self.sock is not None
        out = bytearray(self._buf)
        self._buf = b""
        view = memoryview(self._rbuf)
        while len(out) < n:
            k = self.sock.recv_into(self._rbuf, min(len(self._rbuf), n - len(out)))
            if not k:
                raise _Protocol(f"connection closed after {len(out)} of {n} body bytes")
            out += view[:k]
        return out  # type: ignore[return-value]  # a bytearray, as read_exact's

    def _line(self) -> bytes:
        buf = self._buf
        end = buf.find(b"\r\n")
        while end < 0:
            if len(buf) > 65536:
                raise _Protocol("chunk header longer than 64 KiB")
            data = self._recv()
            if not data:
                raise _Protocol("connection closed inside a chunked body")
            start = max(0, len(buf) - 1)
            buf += data
            end = buf.find(b"\r\n", start)
        self._buf = buf[end + 2 :]
        return buf[:end]

    def read_chunked(self, cap: int) -> bytes:
        out = bytearray()
        while True:
            line = self._line()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _Protocol(f"bad chunk size {line[:40]!r}") from None
            if size == 0:
                while self._line():  # trailers, up to the empty line
                    pass
                return bytes(out)
            if len(out) + size > cap:  # one byte past the cap: the caller refuses it and drops the connection
                out += self.read_exact(cap + 1 - len(out))
                return bytes(out)
            out += self.read_exact(size)
            if self.read_exact(2) != b"\r\n":
                raise _Protocol("chunk not followed by CRLF")

    def read_until_close(self, cap: int) -> bytes:
        out = bytearray(self._buf)
        self._buf = b""
        while len(out) <= cap:
            data = self._recv()
            if not data:
                break
            out += data
        return bytes(out[: cap + 1] if len(out) > cap else out)


class HttpData:
    """Whole-object PUT/GET, HEAD, DELETE and listing pages on one endpoint, a connection per thread."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Credentials,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        url = urlparse(endpoint_url)
        self._tls = url.scheme == "https"
        self.hostname = url.hostname or ""
        self.port = url.port or (443 if self._tls else 80)
        self.host = url.netloc  # the Host header, as signed
        self.region = region
        self._credentials = credentials
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._local = threading.local()
        self._all: list[_Connection] = []
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], bytes] = {}
        #: requests sent, by S3 operation, and connections opened (tests count them)
        self.calls: dict[str, int] = {}
        self.opened = 0

    # -- signing (AWS Signature Version 4, header form) -------------------------------------------

    def _signing_key(self, secret: str, day: str) -> bytes:
        key = self._keys.get((secret, day))
        if key is None:
            key = ("AWS4" + secret).encode()
            for part in (day, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day): key}  # one day, one secret: the rest can go
        return key

    def sign(
        self, method: str, path: str, query: str, payload: str, now: float | None = None
    ) -> dict[str, str]:
        """The headers of a signed request (``path`` and ``query`` already URI-encoded, query sorted)."""
        access, secret, token = self._credentials()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        day = stamp[:8]
        headers = {"host": self.host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
        if token:
            headers["x-amz-security-token"] = token
        names = sorted(headers)
        signed = ";".join(names)
        canonical = "\n".join(
            (method, path, query, *(f"{n}:{headers[n]}" for n in names), "", signed, payload)
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(secret, day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, Signature={signature}"
        )
        return headers

    # -- connections ----------------------------------------------------------------------------

    def _connection(self) -> tuple[_Connection, bool]:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, False
        tls = self.tls_context()
        conn = _Connection(self.hostname, self.port, self.connect_timeout, self.read_timeout, tls)
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        self.count_opened()
        return conn, True

    def count_opened(self) -> None:
        with self._lock:
            self.opened += 1

    def tls_context(self) -> ssl.SSLContext | None:
        """A new client TLS context (the system's CAs, host names checked) on an ``https`` endpoint."""
        return ssl.create_default_context() if self._tls else None

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)

    def head_of(
        self, op: str, method: str, path: str, query: str = "", body: bytes = b"", payload: str = EMPTY_SHA256
    ) -> bytes:
        """The signed head of one request (counted in ``calls``), ready to send before ``body``."""
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1
        headers = self.sign(method, path, query, payload)
        if body or method == "PUT":
            headers["content-length"] = str(len(body))
        target = f"{path}?{query}" if query else path
        return "".join(
            (f"{method} {target} HTTP/1.1\r\n", *(f"{k}: {v}\r\n" for k, v in headers.items()), _FIXED)
        ).encode("latin-1")

    def request(
        self,
        op: str,
        method: str,
        path: str,
        query: str = "",
        body: bytes = b"",
        payload: str = EMPTY_SHA256,
        bounded: tuple[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """(status, body) of one signed request; ``HttpError`` for an S3 error, ``Unreachable`` for none.
        ``bounded`` (key, where): an object's body, refused (``CorruptObject``) past ``MAX_OBJECT``."""
        head = self.head_of(op, method, path, query, body, payload)
        for _ in range(2):
            conn, fresh = self._connection()
            try:
                resp = conn.exchange(head, body, method == "HEAD")
                if bounded is not None and resp.status < 300:
                    try:  # a bucket writer may put 100 GiB under a key
                        data = read_object(resp.read, resp.getheader("content-length"), *bounded)
                    except CorruptObject:
                        self._drop(conn)  # the rest of the body is never read: the connection goes
                        raise
                else:
                    data = resp.read()
            except (_Dropped, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                if fresh:
                    raise Unreachable(f"connection dropped ({type(exc).__name__})") from exc
                continue  # the server closed a kept-alive connection meanwhile: once on a new one
            except _ConnectTimeout as exc:
                self._drop(conn)
                raise Unreachable(str(exc)) from exc
            except (TimeoutError, BlockingIOError) as exc:  # BlockingIOError: SO_RCVTIMEO/SO_SNDTIMEO ran out
                self._drop(conn)
                raise Unreachable(f"no answer within {self.read_timeout:g} s") from exc
            except ConnectionRefusedError as exc:
                self._drop(conn)
                raise Unreachable("connection refused") from exc
            except (OSError, _Protocol) as exc:
                self._drop(conn)
                raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
            if resp.will_close:
                self._drop(conn)
            if resp.status >= 300:
                raise _error(resp.status, data)
            return resp.status, data
        raise Unreachable("connection dropped twice")  # pragma: no cover - the loop returns or raises

    # -- the operations S3Storage needs --------------------------------------------------------------

    @staticmethod
    def path_of(bucket: str, key: str = "") -> str:
        return (
            f"/{quote(bucket, safe='')}/{quote(key, safe='/-_.~')}" if key else f"/{quote(bucket, safe='')}"
        )

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.request(
            "PutObject", "PUT", self.path_of(bucket, key), body=data, payload=payload_sha256(key, data)
        )

    def get(self, bucket: str, key: str) -> bytes:
        return self.request("GetObject", "GET", self.path_of(bucket, key), bounded=(key, f"s3h://{bucket}"))[
            1
        ]

    def head_bucket(self, bucket: str) -> None:
        self.request("HeadBucket", "HEAD", self.path_of(bucket))

    def head(self, bucket: str, key: str) -> None:
        self.request("HeadObject", "HEAD", self.path_of(bucket, key))

    def delete(self, bucket: str, key: str) -> None:
        self.request("DeleteObject", "DELETE", self.path_of(bucket, key))

    def list_page(
        self, bucket: str, prefix: str = "", start_after: str = "", token: str = "", max_keys: int = 1000
    ) -> tuple[list[str], str | None]:
        """One ListObjectsV2 page: (keys, the continuation token when more follow)."""
        params = {"list-type": "2", "max-keys": str(max_keys)}
        if prefix:
            params["prefix"] = prefix
        if start_after:
            params["start-after"] = start_after
        if token:
            params["continuation-token"] = token
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
        )
        _, data = self.request("ListObjectsV2", "GET", self.path_of(bucket), query=query)
        root = ElementTree.fromstring(data)
        keys = [el.text or "" for el in root.iter(f"{_NS}Key")]
        truncated = (root.findtext(f"{_NS}IsTruncated") or "").lower() == "true"
        return keys, (root.findtext(f"{_NS}NextContinuationToken") or "") if truncated else None

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


def _error(status: int, data: bytes) -> HttpError:
    code = message = ""
    if data:
        try:
            root = ElementTree.fromstring(data)
            code, message = root.findtext("Code") or "", root.findtext("Message") or ""
        except ElementTree.ParseError:
            message = data[:200].decode("utf-8", "replace")
    return HttpError(status, code or str(status), message)


__all__ = ["HttpData", "HttpError", "Unreachable", "payload_sha256", "usable"]
