"""Many GETs in flight from ONE thread: non-blocking connections driven by one ``selectors`` loop.

Why: a checkout of 5,000 small files is 10,000 GETs (ML-Git's format: a descriptor and a chunk per
file). With a thread per request in flight, each request cost ~70 futex calls (the GIL handed
between 32 threads at every socket and file call) and the client spent more CPU than the S3 server.
Here one thread keeps ``width`` requests in flight on as many kept-alive connections: a request is
one ``send`` of its signed head, an answer one or two ``recv_into``; nothing waits on a lock.

``stream`` yields ``(key, body)`` as answers complete (in any order), or ``(key, error)`` where one
fails: ``HttpError`` (an S3 error answer), ``Unreachable`` (refused, dropped, silent past the
connect or read timeout), ``Unstreamable`` (an answer this loop does not read: chunked, no length,
an interim answer, past ``MAX_OBJECT``; the caller fetches that key through ``HttpData``, which
does). One attempt per key, as ``HttpData.request``: a kept-alive connection the server closed
before answering is replaced, once, at once. HTTPS: each connection's TLS handshake runs on the loop
too (non-blocking), with the certificate checks of ``HttpData``'s own connections.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import ssl
import time
from collections import deque
from collections.abc import Iterable, Iterator

from .base import MAX_OBJECT
from .s3_http import PREALLOCATE, HttpData, HttpError, Unreachable, _error, _Protocol, parse_head

Body = bytes | bytearray
_HEAD_MAX = 65536
#: seconds between two looks for requests past their timeout
_TICK = 0.25
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Unstreamable(Exception):
    """An answer the stream does not read (chunked, no length, too large): fetch this key the other way."""


class _Dropped(Exception):
    """A kept-alive connection closed before any byte of its answer."""


class _Slot:
    """One connection of the stream and the request it carries (``state`` empty: none)."""

    __slots__ = (
        "body",
        "buf",
        "closes",
        "got",
        "key",
        "mask",
        "out",
        "reused",
        "since",
        "size",
        "sock",
        "state",
        "status",
    )

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.mask = 0  # the events the selector watches for
        self.reused = False  # an answer came on this connection before
        self.key = ""
        self.state = ""  # connect, handshake, send, head, body
        self.since = 0.0  # when the request last made progress
        self.out = memoryview(b"")  # what is left to send of the request
        self.buf = b""  # answer bytes read, not yet consumed
        self.body: bytearray | None = None
        self.got = 0
        self.size = 0  # the body's declared length
        self.status = 0
        self.closes = False


class _Loop:
    def __init__(self, http: HttpData, bucket: str, width: int) -> None:
        self.http, self.bucket = http, bucket
        self.sel = selectors.DefaultSelector()
        self.slots = [_Slot() for _ in range(width)]
        self.rbuf = bytearray(_HEAD_MAX)
        self.rview = memoryview(self.rbuf)
        self.addr: tuple[int, tuple[str, int]] | None = None
        self.tls = http.tls_context()

    # -- connections ------------------------------------------------------------------------------

    def _address(self) -> tuple[int, tuple[str, int]]:
        if self.addr is None:  # resolved once per stream (connect_ex would resolve a name per connection)
            info = socket.getaddrinfo(self.http.hostname, self.http.port, type=socket.SOCK_STREAM)
            family, _, _, _, sockaddr = info[0]
            self.addr = (family, (str(sockaddr[0]), int(sockaddr[1])))
        return self.addr

    def watch(self, slot: _Slot, mask: int) -> None:
        assert slot.sock is not None
        if slot.mask != mask:
            if slot.mask:
                self.sel.modify(slot.sock, mask, slot)
            else:
                self.sel.register(slot.sock, mask, slot)
            slot.mask = mask

    def close(self, slot: _Slot) -> None:
        sock, slot.sock = slot.sock, None
        if sock is not None:
            if slot.mask:
                self.sel.unregister(sock)
            sock.close()
        slot.mask, slot.reused, slot.buf = 0, False, b""

    def start(self, slot: _Slot, key: str) -> None:
        """Send ``key``'s GET on ``slot`` (a new connection when it has none)."""
        slot.key, slot.body, slot.got, slot.status, slot.closes = key, None, 0, 0, False
        head = memoryview(self.http.head_of("GetObject", "GET", self.http.path_of(self.bucket, key)))
        slot.out, slot.since = head, time.monotonic()
        if slot.sock is not None:
            slot.state = "send"
            try:
                self.send(slot)
                return
            except (BrokenPipeError, ConnectionResetError):  # reset meanwhile: a new connection, at once
                self.close(slot)
                slot.out = head
        family, addr = self._address()
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = sock.connect_ex(addr)
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
        except BaseException:
            sock.close()
            raise
        self.http.count_opened()
        slot.sock, slot.state = sock, "connect"
        self.watch(slot, _WRITE)

    def send(self, slot: _Slot) -> None:
        assert slot.sock is not None
        try:
            while slot.out:
                slot.out = slot.out[slot.sock.send(slot.out) :]
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
            self.watch(slot, _WRITE)
            return
        except ssl.SSLWantReadError:  # TLS needs the server's bytes first
            self.watch(slot, _READ)
            return
        slot.state = "head"
        self.watch(slot, _READ)

    def handshake(self, slot: _Slot) -> None:
        assert isinstance(slot.sock, ssl.SSLSocket)
        try:
            slot.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.watch(slot, _READ)
            return
        except ssl.SSLWantWriteError:
            self.watch(slot, _WRITE)
            return
        slot.state = "send"
        self.send(slot)

    # -- answers ----------------------------------------------------------------------------------

    def step(self, slot: _Slot) -> Body | None:
        """Progress on ``slot``'s request: its body once the answer is complete; raises on a failed one."""
        assert slot.sock is not None
        if slot.state == "connect":
            err = slot.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            if self.tls is None:
                slot.state = "send"
                self.send(slot)
                return None
            self.sel.unregister(slot.sock)  # the TLS socket takes over the descriptor
            slot.mask = 0
            slot.sock = self.tls.wrap_socket(
                slot.sock, server_hostname=self.http.hostname, do_handshake_on_connect=False
            )
            slot.state = "handshake"
        if slot.state == "handshake":
            self.handshake(slot)
            return None
        if slot.state == "send":
            self.send(slot)
            return None
        if slot.state == "body":
            assert slot.body is not None
            if len(slot.body) == slot.size:  # allocated whole: read into its place
                k = slot.sock.recv_into(memoryview(slot.body)[slot.got :])
            else:  # a large body grows as its bytes come (the size declared cost the server nothing)
                k = slot.sock.recv_into(self.rbuf, min(_HEAD_MAX, slot.size - len(slot.body)))
                slot.body += self.rview[:k]
            if not k:
                raise Unreachable(f"connection closed after {len(slot.body)} of {slot.size} body bytes")
            slot.got += k
            if slot.got < slot.size:
                return None
            body, slot.body = slot.body, None
            return self.done(slot, body)
        n = slot.sock.recv_into(self.rbuf)
        if not n:
            if slot.reused and not slot.buf:
                raise _Dropped
            raise Unreachable("the server closed the connection before answering")
        buf = slot.buf + self.rview[:n] if slot.buf else bytes(self.rview[:n])
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > _HEAD_MAX:
                raise Unreachable("answer headers longer than 64 KiB")
            slot.buf = buf
            return None
        slot.status, headers, slot.closes = parse_head(buf[:end])
        slot.reused, slot.buf = True, b""
        if slot.status < 200:
            raise Unstreamable(f"an interim answer ({slot.status})")
        length = headers.get("content-length", "")
        if (
            not (length.isascii() and length.isdigit())
            or "chunked" in headers.get("transfer-encoding", "").lower()
        ):
            raise Unstreamable(f"an answer without a plain content-length (status {slot.status})")
        size = int(length)
        if size > MAX_OBJECT:
            raise Unstreamable(f"an answer of {size} bytes, more than {MAX_OBJECT}")
        rest = buf[end + 4 :]
        if len(rest) > size:
            raise Unreachable("the server sent more than the answer's content-length")
        if len(rest) == size:
            return self.done(slot, rest)
        if size <= PREALLOCATE:
            body = bytearray(size)
            body[: len(rest)] = rest
        else:
            body = bytearray(rest)
        slot.body, slot.got, slot.size, slot.state = body, len(rest), size, "body"
        return None

    def done(self, slot: _Slot, body: Body) -> Body:
        slot.state = ""
        if slot.closes:
            self.close(slot)
        if slot.status >= 300:
            raise _error(slot.status, bytes(body))
        return body

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, keys: Iterable[str]) -> Iterator[tuple[str, Body | Exception]]:
        todo = deque(keys)
        retried: set[str] = set()
        idle = list(self.slots)
        busy: set[_Slot] = set()
        next_tick = time.monotonic() + _TICK

        def fail(slot: _Slot, exc: Exception, keep: bool = False) -> tuple[str, Exception]:
            slot.state = ""
            if not keep:
                self.close(slot)
            busy.discard(slot)
            idle.append(slot)
            return slot.key, exc

        while todo or busy:
            while idle and todo:
                slot = idle.pop()
                busy.add(slot)
                try:
                    self.start(slot, todo.popleft())
                except OSError as exc:
                    yield fail(slot, Unreachable(f"{type(exc).__name__}: {exc}"))
            if not busy:
                break
            for sk, _ in self.sel.select(max(0.0, next_tick - time.monotonic())):
                slot = sk.data
                if not slot.state:  # an idle kept-alive connection the server closed: gone
                    self.close(slot)
                    continue
                try:
                    body = self.step(slot)
                    while body is None and slot.state in ("head", "body") and self.pending(slot):
                        body = self.step(slot)  # TLS: bytes already decrypted wake no selector
                except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                except (_Dropped, BrokenPipeError, ConnectionResetError, ssl.SSLEOFError) as exc:
                    if slot.reused and not slot.buf and not slot.status and slot.key not in retried:
                        retried.add(slot.key)  # closed meanwhile: once, at once, on a new connection
                        self.close(slot)
                        try:
                            self.start(slot, slot.key)
                        except OSError as err:
                            yield fail(slot, Unreachable(f"{type(err).__name__}: {err}"))
                        continue
                    yield fail(slot, Unreachable(f"connection dropped ({type(exc).__name__})"))
                    continue
                except HttpError as exc:
                    yield fail(slot, exc, keep=True)  # the error answer was read whole
                    continue
                except (Unreachable, Unstreamable) as exc:
                    yield fail(slot, exc)
                    continue
                except _Protocol as exc:  # not HTTP/1.x (another service on the port): as HttpData says
                    yield fail(slot, Unreachable(str(exc)))
                    continue
                except OSError as exc:
                    why = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
                    yield fail(slot, Unreachable(f"{type(exc).__name__}: {why}"))
                    continue
                if body is None:
                    slot.since = time.monotonic()
                    continue
                busy.discard(slot)
                idle.append(slot)
                yield slot.key, body
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + _TICK
                late = [slot for slot in busy if now - slot.since >= self.limit(slot)]
                # what came while the caller held a result is not late: it is read on the next turn
                ready = {sk.data for sk, _ in self.sel.select(0)} if late else set()
                for slot in late:
                    if slot not in ready:
                        what = "connection" if slot.state == "connect" else "answer"
                        yield fail(slot, Unreachable(f"no {what} within {self.limit(slot):g} s"))

    @staticmethod
    def pending(slot: _Slot) -> bool:
        return isinstance(slot.sock, ssl.SSLSocket) and slot.sock.pending() > 0

    def limit(self, slot: _Slot) -> float:
        """Seconds ``slot``'s request may go without progress."""
        return self.http.connect_timeout if slot.state == "connect" else self.http.read_timeout

    def shut(self) -> None:
        for slot in self.slots:
            self.close(slot)
        self.sel.close()


def stream(
    http: HttpData, bucket: str, keys: Iterable[str], width: int
) -> Iterator[tuple[str, Body | Exception]]:
    """Each key's object, or why not, as answers complete; ``width`` requests in flight."""
    todo = list(keys)
    loop = _Loop(http, bucket, max(1, min(width, len(todo))))
    try:
        yield from loop.run(todo)
    finally:
        loop.shut()


__all__ = ["Body", "Unstreamable", "stream"]
