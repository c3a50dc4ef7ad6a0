"""The data plane of ``s3h`` on the ``minio`` SDK: object PUT and GET only.

Measured on moto_server (bench/README.md): for 16 KiB and 256 KiB objects on 10 threads the minio
SDK moves 25-60% more objects per second than boto3, whose per-request cost (event hooks, signing,
parsing) dominates small requests. ``S3Storage`` keeps boto3 for everything else (bucket checks,
listings, error table) and hands PUT/GET here for S3-compatible endpoints. Credentials come from the
boto3 session (keys, profile or chain, refreshed as botocore refreshes them), never stored here.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlparse

import urllib3
from minio import Minio
from minio.credentials import Credentials, Provider
from minio.error import InvalidResponseError, S3Error, ServerError

from .base import read_object

#: faults of the connection itself: the endpoint is down, unreachable or silent
UNREACHABLE: tuple[type[BaseException], ...] = (
    urllib3.exceptions.MaxRetryError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.NewConnectionError,
)
#: every error this module lets through
ERRORS: tuple[type[BaseException], ...] = (S3Error, ServerError, InvalidResponseError, *UNREACHABLE)


class _BotoCredentials(Provider):
    """minio's view of a botocore credentials object (so refreshable credentials stay fresh)."""

    def __init__(self, creds: Any) -> None:
        self._creds = creds

    def retrieve(self) -> Credentials:
        frozen = self._creds.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)


def usable(endpoint_url: str | None) -> bool:
    """The minio SDK takes ``host[:port]`` endpoints only (no path, no AWS's regional names)."""
    if not endpoint_url:
        return False
    url = urlparse(endpoint_url)
    return url.scheme in ("http", "https") and bool(url.netloc) and url.path in ("", "/")


class MinioData:
    """PUT and GET of whole objects through one pooled minio client: one attempt per request
    (``mlgit.transfer`` retries), bounded by the connect and read timeouts."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        boto_credentials: Any,
        max_pool_connections: int,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        url = urlparse(endpoint_url)
        http = urllib3.PoolManager(
            maxsize=max_pool_connections,
            block=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=False,  # one attempt: no hidden retries, no "Retrying" warnings
        )
        self._client = Minio(
            url.netloc,
            secure=url.scheme == "https",
            region=region,
            http_client=http,
            credentials=_BotoCredentials(boto_credentials),
        )
        self._http = http

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._client.put_object(bucket, key, io.BytesIO(data), len(data))

    def get(self, bucket: str, key: str) -> bytes:
        resp = self._client.get_object(bucket, key)
        try:  # bounded: a bucket writer may put 100 GiB under a key
            return read_object(resp.read, resp.headers.get("content-length"), key, f"s3h://{bucket}")
        finally:
            resp.close()
            resp.release_conn()

    def close(self) -> None:
        self._http.clear()


def error_fields(exc: BaseException) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a minio error, as boto3's ``ClientError`` would give them."""
    if isinstance(exc, S3Error):
        return str(exc.code or ""), int(getattr(exc.response, "status", 0) or 0), str(exc.message or "")
    if isinstance(exc, ServerError):
        return "", int(exc.status_code), str(exc)
    if isinstance(exc, InvalidResponseError):
        return "", 0, str(exc)
    return "", 0, str(exc)


__all__ = ["ERRORS", "UNREACHABLE", "MinioData", "error_fields", "usable"]
