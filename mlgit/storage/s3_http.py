"""The ``s3h`` data plane on S3-compatible endpoints: plain HTTP/1.1 keep-alive, SigV4 signed here.

Why not an SDK: on 10,000 objects of 16 KiB, boto3 and the minio SDK spend 0.3-0.6 ms of Python per
request (event hooks, a signer that re-derives its key, header objects, pools, retries we turn off
anyway), on machines where the S3 server shares the CPU. Here a request is one canonical string,
one SHA-256 of it, one HMAC with a signing key derived once per day, and one ``http.client`` call on
a connection kept per thread. For PUT the payload's SHA-256 is the key's own CID digest (the server
checks the bytes against it; nothing is hashed twice); for GET the CID is checked by the caller.

One attempt per request (``mlgit.transfer`` is the retry layer): a connection kept alive that the
server closed in the meantime is replaced once, at once, before any answer came (connection reuse,
not a retry of a failed request). Errors are ``HttpError`` (an S3 error answer) and ``Unreachable``
(refused, dropped, timed out); ``S3Storage`` translates both. Credentials come from a callable that
returns (access key, secret key, session token): never stored here, never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import socket
import ssl
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


class _Connection(http.client.HTTPConnection):
    """Connects within ``connect_timeout``, then waits at most ``read_timeout`` for each read."""

    def __init__(self, host: str, port: int | None, connect_timeout: float, read_timeout: float) -> None:
        super().__init__(host, port, timeout=read_timeout)
        self.connect_timeout = connect_timeout

    def connect(self) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except TimeoutError as exc:
            raise _ConnectTimeout(f"no connection within {self.connect_timeout:g} s") from exc
        self.sock.settimeout(self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TLSConnection(_Connection):
    def __init__(self, host: str, port: int | None, connect_timeout: float, read_timeout: float) -> None:
        super().__init__(host, port or 443, connect_timeout, read_timeout)
        self.default_port = 443
        self._context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


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
        self._hostname = url.hostname or ""
        self._port = url.port
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
        cls = _TLSConnection if self._tls else _Connection
        conn = cls(self._hostname, self._port, self.connect_timeout, self.read_timeout)
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
            self.opened += 1
        return conn, True

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)

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
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1
        headers = self.sign(method, path, query, payload)
        if body or method == "PUT":
            headers["content-length"] = str(len(body))
        target = f"{path}?{query}" if query else path
        for _ in range(2):
            conn, fresh = self._connection()
            try:
                conn.request(method, target, body=body or None, headers=headers)
                resp = conn.getresponse()
                if bounded is not None and resp.status < 300:
                    try:  # a bucket writer may put 100 GiB under a key
                        data = read_object(resp.read, resp.getheader("content-length"), *bounded)
                    except CorruptObject:
                        self._drop(conn)  # the rest of the body is never read: the connection goes
                        raise
                else:
                    data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                if fresh:
                    raise Unreachable(f"connection dropped ({type(exc).__name__})") from exc
                continue  # the server closed a kept-alive connection meanwhile: once on a new one
            except _ConnectTimeout as exc:
                self._drop(conn)
                raise Unreachable(str(exc)) from exc
            except TimeoutError as exc:
                self._drop(conn)
                raise Unreachable(f"no answer within {self.read_timeout:g} s") from exc
            except ConnectionRefusedError as exc:
                self._drop(conn)
                raise Unreachable("connection refused") from exc
            except (OSError, http.client.HTTPException) as exc:
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
    def _path(bucket: str, key: str = "") -> str:
        return (
            f"/{quote(bucket, safe='')}/{quote(key, safe='/-_.~')}" if key else f"/{quote(bucket, safe='')}"
        )

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.request(
            "PutObject", "PUT", self._path(bucket, key), body=data, payload=payload_sha256(key, data)
        )

    def get(self, bucket: str, key: str) -> bytes:
        return self.request("GetObject", "GET", self._path(bucket, key), bounded=(key, f"s3h://{bucket}"))[1]

    def head_bucket(self, bucket: str) -> None:
        self.request("HeadBucket", "HEAD", self._path(bucket))

    def head(self, bucket: str, key: str) -> None:
        self.request("HeadObject", "HEAD", self._path(bucket, key))

    def delete(self, bucket: str, key: str) -> None:
        self.request("DeleteObject", "DELETE", self._path(bucket, key))

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
        _, data = self.request("ListObjectsV2", "GET", self._path(bucket), query=query)
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
