"""A loopback socket server that answers canned bytes: the HTTP/1.1 answers our parsers must read (S3
servers send chunked, close-delimited and 1xx answers, or drop connections, only in corner cases we
cannot cause). Used by test_s3_http.py (``HttpData``) and test_s3_stream.py (``s3_stream``)."""

from __future__ import annotations

import socket
import threading


def canned_server(answers: list[bytes], close_after: set[int] | None = None) -> tuple[str, list[bytes]]:
    """``http://127.0.0.1:PORT`` of a thread that answers each request with the next canned answer
    (closing the connection after the answers whose index is in ``close_after``; an empty answer
    there drops the connection without answering); the requests' heads are collected. One connection
    at a time: the next is accepted once the client or the server closed the current one (a client
    that resets it is one that closed it)."""
    close_after = close_after or set()
    srv = socket.create_server(("127.0.0.1", 0))
    heads: list[bytes] = []

    def serve() -> None:
        i = 0
        while i < len(answers):
            conn, _ = srv.accept()
            with conn:
                buf = b""
                try:
                    while i < len(answers):
                        while b"\r\n\r\n" not in buf:
                            data = conn.recv(65536)
                            if not data:
                                break
                            buf += data
                        if b"\r\n\r\n" not in buf:
                            break
                        head, _, buf = buf.partition(b"\r\n\r\n")
                        length = next(
                            (
                                int(v)
                                for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
                                if k.strip().lower() == b"content-length"
                            ),
                            0,
                        )
                        while len(buf) < length:
                            data = conn.recv(65536)
                            if not data:
                                break
                            buf += data
                        buf = buf[length:]
                        heads.append(head)
                        conn.sendall(answers[i])
                        i += 1
                        if i - 1 in close_after:
                            break
                except ConnectionError:
                    pass  # the client reset the connection: on to the next one
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}", heads
