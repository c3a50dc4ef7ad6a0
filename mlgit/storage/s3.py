"""``s3h://BUCKET``: AWS S3 and every S3-compatible server (MinIO, SeaweedFS, Ceph) through ``endpoint-url``.

Which client moves the requests (``sdk``): on an ``endpoint-url``, our own HTTP data plane
(``s3_http``: a third of a plain SDK loop's CPU per request); on AWS itself, boto3 (one client per
storage, shared by the transfer pool, built on first use); ``minio`` keeps the minio SDK for
PUT/GET. Each request is ONE attempt, bounded by a connect and a read timeout: the retries
(timeouts, resets, 5xx, throttling) happen in one layer above, ``mlgit.transfer.retry`` (see its
docstring for counts, backoff and deadline). Errors are translated once, in ``_boundary``, into
``mlgit.errors``. Credentials (keys passed by code, an AWS profile, or the default chain) stay in
botocore's session or a closure: never an attribute of this object, never in a message."""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import botocore.exceptions as bexc

from ..errors import (
    MLGitError,
    ObjectNotFound,
    StorageAuthError,
    StorageError,
    StorageNotFound,
    StorageUnreachable,
)
from . import s3_http, s3_stream
from .base import Storage, existing, read_object, timeout_settings

if TYPE_CHECKING:
    import botocore.session

log = logging.getLogger(__name__)
#: which client moves the bytes: auto (http on an endpoint-url, boto3 on AWS), http, minio, boto3
SDKS = ("auto", "http", "minio", "boto3")

#: error codes that mean "these credentials are refused"
_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidSecurity",
        "Forbidden",
        "403",
    }
)
_NO_BUCKET_CODES = frozenset({"NoSuchBucket"})
_NO_KEY_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
#: connection-level faults: the endpoint is down, unreachable, or does not answer
_UNREACHABLE = (
    bexc.EndpointConnectionError,
    bexc.ConnectTimeoutError,
    bexc.ReadTimeoutError,
    bexc.ConnectionClosedError,
    bexc.ConnectionError,
    bexc.HTTPClientError,
)

#: seconds to open a connection, and to wait for the next byte of an answer (one attempt)
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0

#: at most this many keys are asked one HEAD each; more are answered by listing
HEAD_AT_MOST = 32
#: keys per listing segment run in parallel by ``missing``
SEGMENT = 2000
#: requests (uploads, downloads) kept in flight on an S3-compatible endpoint (our HTTP data plane), whatever
#: ``push_threads_count`` says when that is less: measured on SeaweedFS with 10,000 small objects,
#: 32 requests in flight cost the server less CPU per PUT than 10 or 16 (it batches its internal
#: hops), and the push took less wall time. ``concurrency: N`` in the storage's config sets it.
CONCURRENCY = 32


class S3Storage(Storage):
    """A bucket on S3 or an S3-compatible server. Keys are CIDs, flat at the bucket's root."""

    scheme = "s3h"
    #: keys per ListObjectsV2 page (S3's maximum); tests lower it to exercise seeking
    page_size = 1000
    #: wanted keys per listing segment; segments are listed in parallel
    segment = SEGMENT
    #: a full page that answers fewer wanted keys than this hands the rest to HEAD requests
    sparse_below = 8

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        credentials: Mapping[str, Any] | None = None,
        max_pool_connections: int = 64,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        sdk: str = "auto",
        concurrency: int | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        self.region = region or "us-east-1"
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._source = (
            "keys passed by code"
            if credentials
            else (f"AWS profile {profile!r}" if profile else "the AWS credential chain")
        )
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._checked = False
        self._data: Any = None  # the minio SDK's data plane, where it serves
        self._http: s3_http.HttpData | None = None  # our own, where it serves
        self._data_errors: tuple[type[BaseException], ...] = ()
        self._data_unreachable: tuple[type[BaseException], ...] = ()
        self._client_obj: Any = None
        self._pool = max_pool_connections
        if sdk not in SDKS:
            raise StorageError(f"storage {self.where()}: sdk must be one of {', '.join(SDKS)}, found {sdk!r}")
        if concurrency is not None and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 256
        ):
            raise StorageError(f"storage {self.where()}: concurrency must be 1..256, found {concurrency!r}")
        self._concurrency = concurrency
        if credentials:
            key_id, secret = credentials.get("aws_access_key_id"), credentials.get("aws_secret_access_key")
            if not key_id or not secret:
                raise StorageAuthError(
                    f"credentials passed for {self.where()} need aws_access_key_id and aws_secret_access_key"
                )
        # the keys stay in closures, never in an attribute (vars() and reprs never show them)
        self._make_session = lambda: self._session(profile, credentials)
        self._code_credentials = (lambda: credentials) if credentials else None
        # keys passed by code, or keys in the environment the chain would take as they are, need no botocore
        # on the http data plane; a profile or the rest of the chain is resolved now, so that a missing
        # profile is reported here
        env_keys = (
            environment_keys()
            if not credentials
            and not profile
            and sdk in ("auto", "http")
            and s3_http.usable(self.endpoint_url)
            else None
        )
        self._session_obj: botocore.session.Session | None = (
            None
            if (credentials or env_keys) and sdk in ("auto", "http")
            else self._session(profile, credentials)
        )
        if sdk in ("auto", "http"):
            self._use_http(sdk, env_keys)
        elif sdk == "minio":
            self._use_minio(sdk, max_pool_connections)
        if self._http is None and self._session_obj is None:
            self._session_obj = self._session(profile, credentials)
        if self._http is None:
            _ = self._client  # the bucket-level plane: built now, as it is used at once

    @property
    def _client(self) -> Any:
        """The boto3 client: built on first use (the http data plane on an endpoint never needs it)."""
        if self._client_obj is None:
            from botocore.config import Config

            config = Config(
                region_name=self.region,
                max_pool_connections=self._pool,
                retries={"mode": "standard", "total_max_attempts": 1},  # mlgit.transfer retries
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                tcp_keepalive=True,
                # S3-compatible servers (MinIO, moto) are addressed by path; AWS picks for itself
                s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                # CIDs verify every download; skip botocore's extra CRCs, which some S3-compatible servers reject
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            with self._lock:
                if self._client_obj is None:
                    if self._session_obj is None:
                        self._session_obj = self._make_session()
                    with self._boundary("connect to"):
                        self._client_obj = self._session_obj.create_client(
                            "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config
                        )
        return self._client_obj

    @classmethod
    def from_config(
        cls,
        bucket: str,
        settings: Mapping[str, Any],
        credentials: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> S3Storage:
        """Build from ``storages.s3h.BUCKET`` of ``.ml-git/config.yaml`` (ML-Git's keys).

        Optional keys of ours: ``sdk: auto|http|minio|boto3`` (auto: our own HTTP data plane on an
        ``endpoint-url`` it can address, boto3 on AWS; minio: the minio SDK for PUT/GET),
        ``concurrency: N``, the requests our HTTP data plane keeps in flight (default ``CONCURRENCY``),
        and ``connect-timeout`` / ``read-timeout``: seconds of one attempt (defaults ``CONNECT_TIMEOUT``,
        ``READ_TIMEOUT``; ``mlgit.transfer`` retries and bounds the whole call).
        """
        aws = settings.get("aws-credentials") or {}
        profile = aws.get("profile") if isinstance(aws, Mapping) else None
        timeouts = timeout_settings(settings, f"s3h://{bucket}", CONNECT_TIMEOUT, READ_TIMEOUT)
        return cls(
            bucket,
            endpoint_url=settings.get("endpoint-url") or None,
            region=settings.get("region") or None,
            profile=str(profile) if profile else None,
            credentials=credentials,
            sdk=str(settings.get("sdk") or "auto"),
            concurrency=settings.get("concurrency"),
            **{**timeouts, **options},
        )

    def _use_http(self, sdk: str, env_keys: tuple[str, str, str | None] | None = None) -> None:
        """Every request through ``s3_http`` on S3-compatible endpoints it can address (measured fastest);
        ``env_keys``: the environment's keys, taken as botocore's chain would take them (``environment_keys``)."""
        if not s3_http.usable(self.endpoint_url):
            if sdk == "http":
                raise StorageError(
                    f"storage {self.where()}: sdk http needs an endpoint-url http(s)://host:port (and no proxy)"
                )
            return
        creds: s3_http.Credentials
        if self._code_credentials:
            c = self._code_credentials() or {}
            frozen = (
                str(c["aws_access_key_id"]),
                str(c["aws_secret_access_key"]),
                c.get("aws_session_token"),
            )
            creds = lambda: frozen  # noqa: E731 - the keys live in this closure only
        elif env_keys is not None:
            creds = lambda: env_keys  # noqa: E731 - the keys live in this closure only
        else:
            assert self._session_obj is not None
            chain = self._session_obj.get_credentials()
            if chain is None:
                return  # boto3 will report the missing credentials, with the message of the error table

            def creds() -> tuple[str, str, str | None]:
                f = chain.get_frozen_credentials()  # refreshable credentials stay fresh
                return f.access_key, f.secret_key, f.token or None

        self._http = s3_http.HttpData(
            str(self.endpoint_url), self.region, creds, self.connect_timeout, self.read_timeout
        )
        self.concurrency = self._concurrency or CONCURRENCY
        self._data_errors = (s3_http.HttpError, s3_http.Unreachable)
        self._data_fields = _http_error_fields
        self._data_unreachable = (s3_http.Unreachable,)

    def _use_minio(self, sdk: str, pool: int) -> None:
        """PUT/GET through the minio SDK on S3-compatible endpoints it can address."""
        try:
            from . import s3_minio
        except ImportError:
            raise StorageError(f"storage {self.where()}: sdk minio needs: pip install minio") from None
        if not s3_minio.usable(self.endpoint_url):
            raise StorageError(
                f"storage {self.where()}: the minio SDK needs an endpoint-url http(s)://host:port"
            )
        assert self._session_obj is not None
        creds = self._session_obj.get_credentials()
        if creds is None:
            return  # boto3 will report the missing credentials, with the message of the error table
        self._data = s3_minio.MinioData(
            str(self.endpoint_url), self.region, creds, pool, self.connect_timeout, self.read_timeout
        )
        self._data_errors = s3_minio.ERRORS
        self._data_fields = s3_minio.error_fields
        self._data_unreachable = s3_minio.UNREACHABLE

    @property
    def sdk(self) -> str:
        """Which client moves the objects' bytes: ``http`` (ours), ``minio`` or ``boto3``."""
        return "http" if self._http is not None else ("minio" if self._data is not None else "boto3")

    # -- credentials -------------------------------------------------------------------------

    def _session(
        self, profile: str | None, credentials: Mapping[str, Any] | None
    ) -> botocore.session.Session:
        """A botocore session (boto3's own costs a second more of imports, for nothing we use)."""
        import botocore.session

        session = botocore.session.Session(profile=None if credentials else profile)
        session.set_config_variable("region", self.region)
        if credentials:
            key_id = credentials.get("aws_access_key_id")
            secret = credentials.get("aws_secret_access_key")
            if not key_id or not secret:
                raise StorageAuthError(
                    f"credentials passed for {self.where()} need aws_access_key_id and aws_secret_access_key"
                )
            session.set_credentials(str(key_id), str(secret), credentials.get("aws_session_token") or None)
            return session
        if profile:
            try:
                session.get_credentials()  # a missing profile is found here
                return session
            except bexc.ProfileNotFound:
                fallback = botocore.session.Session()
                fallback.set_config_variable("region", self.region)
                if fallback.get_credentials() is None:
                    raise StorageAuthError(
                        f"AWS profile {profile!r} (aws-credentials.profile of {self.where()}) is not in the AWS "
                        f"config or credentials file, and no credentials are in the environment; "
                        f"create it with: aws configure --profile {profile}"
                    ) from None
                level = logging.DEBUG if profile == "default" else logging.WARNING
                log.log(
                    level,
                    "AWS profile %r not found; %s uses the default credential chain",
                    profile,
                    self.where(),
                )
                self._source = "the AWS credential chain"
                return fallback
        return session

    # -- the one error boundary --------------------------------------------------------------

    def _endpoint(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"

    def where(self) -> str:
        return f"s3h://{self.bucket} at {self._endpoint()}"

    def _translate(self, exc: BaseException, action: str, key: str | None) -> MLGitError:
        """The error table: boto3's and minio's errors to ``mlgit.errors``, once, for every call."""
        if isinstance(exc, bexc.ClientError):
            err = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            return self._by_code(str(err.get("Code", "")), status, str(err.get("Message") or ""), action, key)
        if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
            return StorageAuthError(
                f"no usable AWS credentials for {self.where()}: set aws-credentials.profile in .ml-git/config.yaml, "
                f"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass credentials"
            )
        if isinstance(exc, _UNREACHABLE) or (self._data_errors and isinstance(exc, self._data_unreachable)):
            return StorageUnreachable(
                f"cannot reach {self._endpoint()} for bucket {self.bucket}: {self._why_unreachable(exc)}; "
                f"is the server up and endpoint-url right?"
            )
        if self._data_errors and isinstance(exc, self._data_errors):
            return self._by_code(*self._data_fields(exc), action, key)
        return StorageError(f"{action} {key or ''} on {self.where()} failed: {type(exc).__name__}: {exc}")

    def _why_unreachable(self, exc: BaseException) -> str:
        if isinstance(exc, s3_http.Unreachable):
            return str(exc)
        cause = (getattr(exc, "kwargs", None) or {}).get("error")  # botocore keeps the socket's error there
        text = f"{type(exc).__name__} {exc} {cause!r}".lower()
        if "read timed out" in text or "readtimeout" in text:
            return f"no answer within {self.read_timeout:g} s"
        if "connecttimeout" in text or "connect timeout" in text:
            return f"no connection within {self.connect_timeout:g} s"
        if "refused" in text:
            return "connection refused"
        if "reset" in text or "aborted" in text or "closed" in text or "remotedisconnected" in text:
            return "connection dropped"
        return type(exc).__name__

    def _by_code(self, code: str, status: int, message: str, action: str, key: str | None) -> MLGitError:
        where = self.where()
        if code in _AUTH_CODES or status == 403:
            return StorageAuthError(
                f"{self._endpoint()} refused {self._source} for bucket {self.bucket} ({code or status}); "
                f"check the keys or profile configured for {where}"
            )
        if code in _NO_BUCKET_CODES or (status == 404 and key is None):
            return StorageNotFound(self._no_bucket_message())
        if key is not None and (code in _NO_KEY_CODES or status == 404):
            return ObjectNotFound(f"object {key} not found in {where}")
        what = " ".join(x for x in (action, key) if x)
        return StorageError(f"{what} on {where} failed: {code or status} {message or ''}".rstrip())

    def _no_bucket_message(self) -> str:
        hint = f" --endpoint-url {self.endpoint_url}" if self.endpoint_url else ""
        return (
            f"bucket {self.bucket} does not exist at {self._endpoint()}; create it "
            f"(aws s3 mb s3://{self.bucket}{hint}, or mc mb ALIAS/{self.bucket} on MinIO) "
            f"or fix storages.s3h in .ml-git/config.yaml"
        )

    @contextlib.contextmanager
    def _boundary(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except (bexc.BotoCoreError, bexc.ClientError, *self._data_errors) as exc:
            raise self._translate(exc, action, key) from exc

    # -- the contract ------------------------------------------------------------------------

    def check(self) -> None:
        if self._checked:
            return
        with self._boundary("open bucket"):
            if self._http is not None:
                self._http.head_bucket(self.bucket)
            else:
                self._client.head_bucket(Bucket=self.bucket)
        self._checked = True

    def put(self, key: str, data: bytes) -> None:
        with self._boundary("upload", key):
            if self._http is not None:
                self._http.put(self.bucket, key, data)
            elif self._data is not None:
                self._data.put(self.bucket, key, data)
            else:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        with self._lock:
            self._known.add(key)

    def get(self, key: str) -> bytes:
        with self._boundary("download", key):
            if self._http is not None:
                return self._http.get(self.bucket, key)
            if self._data is not None:
                return bytes(self._data.get(self.bucket, key))
            obj = self._client.get_object(Bucket=self.bucket, Key=key)
            body = obj["Body"]
            try:  # bounded: a bucket writer may put 100 GiB under a key
                data = read_object(body.read, obj.get("ContentLength"), key, self.where())
            finally:
                body.close()
        return data

    @property
    def streams(self) -> bool:
        return self._http is not None

    def stream(
        self, keys: Iterable[str]
    ) -> Generator[tuple[str, bytes | bytearray | MLGitError], None, None]:
        """Many GETs in flight from this one thread (``s3_stream``), where our HTTP plane serves."""
        if self._http is None:
            yield from super().stream(keys)
            return
        for key, got in s3_stream.stream(self._http, self.bucket, keys, self.concurrency):
            yield key, self._translate(got, "download", key) if isinstance(got, Exception) else got

    def exists(self, key: str) -> bool:
        try:
            with self._boundary("look up", key):
                if self._http is not None:
                    self._http.head(self.bucket, key)
                else:
                    self._client.head_object(Bucket=self.bucket, Key=key)
        except ObjectNotFound:
            return False
        return True

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        if self._http is not None:
            token: str | None = ""
            while token is not None:
                with self._boundary("list"):
                    keys, token = self._http.list_page(
                        self.bucket, prefix, token=token, max_keys=self.page_size
                    )
                yield from keys
            return
        paginator = self._client.get_paginator("list_objects_v2")
        with self._boundary("list"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", ()):
                    yield str(obj["Key"])

    def delete(self, key: str) -> None:
        with self._boundary("delete", key):
            if self._http is not None:
                self._http.delete(self.bucket, key)
            else:
                self._client.delete_object(Bucket=self.bucket, Key=key)
        with self._lock:
            self._known.discard(key)

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys not in the bucket: a few by HEAD, many by listing from each unanswered key on.

        ``ListObjectsV2`` is sorted, so one page starting just before the first unanswered key
        answers every wanted key up to its last entry: a thousand keys per request where the
        bucket is dense with ours. Where a page answers fewer than ``sparse_below`` of them (a huge
        bucket, a few keys), HEADs are cheaper and answer the rest. Segments run in parallel.
        """
        with self._lock:
            wanted = sorted(set(keys) - self._known)
        if not wanted:
            return set()
        unanswered = wanted
        present: set[str] = set()
        if len(wanted) > HEAD_AT_MOST:
            segments = [wanted[i : i + self.segment] for i in range(0, len(wanted), self.segment)]
            with ThreadPoolExecutor(
                max_workers=min(8, len(segments)), thread_name_prefix="mlgit-list"
            ) as pool:
                answers = list(pool.map(self._list_segment, segments))
            present = set().union(*(found for found, _ in answers))
            unanswered = [k for _, rest in answers for k in rest]
        present.update(existing(self.exists, unanswered))
        with self._lock:
            self._known.update(present)
        return set(wanted) - present

    def _list_segment(self, wanted: list[str]) -> tuple[set[str], list[str]]:
        """(the sorted ``wanted`` keys the bucket holds, the keys left for HEAD), by seeking listings."""
        found: set[str] = set()
        i = 0
        start = wanted[0][:-1]  # a proper prefix sorts just before the key: the page starts at wanted[0]
        while True:
            with self._boundary("list"):
                if self._http is not None:
                    listed, token = self._http.list_page(
                        self.bucket, start_after=start, max_keys=self.page_size
                    )
                    truncated = token is not None
                else:
                    page = self._client.list_objects_v2(
                        Bucket=self.bucket, StartAfter=start, MaxKeys=self.page_size
                    )
                    listed = [str(o["Key"]) for o in page.get("Contents", ())]
                    truncated = bool(page.get("IsTruncated"))
            found.update(listed)
            if not listed or not truncated:
                return found.intersection(wanted), []  # the listing reached the bucket's end
            before, i = i, bisect.bisect_right(wanted, listed[-1], lo=i)
            if i >= len(wanted):
                return found.intersection(wanted), []
            if i - before < self.sparse_below:
                return found.intersection(wanted[:i]), wanted[i:]  # sparse: HEADs are cheaper
            start = max(listed[-1], wanted[i][:-1])  # strictly grows: the loop ends

    def close(self) -> None:
        if self._client_obj is not None:
            with contextlib.suppress(Exception):
                self._client_obj.close()
        if self._http is not None:
            self._http.close()
        if self._data is not None:
            with contextlib.suppress(Exception):
                self._data.close()


#: variables that make botocore's chain do more than read the environment's keys: a profile named by the
#: environment (looked up in the config files: a missing one is an error there), keys that expire (refreshed)
_NOT_PLAIN_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CREDENTIAL_EXPIRATION")


def environment_keys() -> tuple[str, str, str | None] | None:
    """(access key, secret key, session token) from the environment when botocore's default chain (a
    session with no profile) would return exactly these, from its first provider (``EnvProvider``):
    both keys set, no profile named by the environment, no expiry; else None (botocore decides).
    Building a botocore session (its imports, the config files, the chain) costs ~0.07 s of CPU per
    process, which a checkout of a few files pays in full."""
    env = os.environ
    access, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if not access or not secret or any(env.get(name) for name in _NOT_PLAIN_ENV):
        return None
    # botocore's EnvProvider.TOKENS order: the first one set wins
    token = env.get("AWS_SECURITY_TOKEN") or env.get("AWS_SESSION_TOKEN") or None
    return access, secret, token


def _http_error_fields(exc: BaseException) -> tuple[str, int, str]:
    """(code, HTTP status, message) of an ``s3_http`` error, as boto3's ``ClientError`` gives them."""
    if isinstance(exc, s3_http.HttpError):
        return exc.code, exc.status, exc.message
    return "", 0, str(exc)


__all__ = ["SDKS", "S3Storage"]
