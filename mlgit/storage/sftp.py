"""``sftph://FOLDER``: a folder on an SSH server used as a bucket, over SFTP (paramiko).

ML-Git's keys (``storages.sftph.FOLDER``): ``endpoint-url`` (the host), ``username``, ``private-key``
(a key file's path), ``port``. The folder is relative to the login folder, as ML-Git has it. One key
of ours, optional: ``known-hosts`` (a file): when set, a server whose host key is not in it is refused;
when unset, the system's and the user's known_hosts are loaded, a changed key is refused and an unknown
host is accepted with a warning (ML-Git accepted any host silently). Whatever the server is, every
download is verified against its CID by the transfer layer.

Connections come from a small pool (at most 8, opened one at a time): paramiko's SFTP
client serializes its requests, so parallel transfers need parallel connections. Uploads go to a
temporary name and are renamed over the key (``posix-rename``): never visible half-written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue
import socket
import stat
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import paramiko

from ..errors import (
    CorruptObject,
    MLGitError,
    ObjectNotFound,
    StorageAuthError,
    StorageError,
    StorageNotFound,
)
from ..safety import read_regular
from . import base
from .base import Storage, timeout_settings

log = logging.getLogger(__name__)

#: seconds to open a connection (TCP + SSH handshake), and to wait for an answer (one attempt)
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
#: at most this many keys are asked one ``stat`` each; more are answered by one listing
STAT_AT_MOST = 32
_TMP = ".tmp-"
#: a private key or known_hosts file larger than this is not one (never read a FIFO or /dev/zero)
KEY_FILE_MAX = 1 << 20


def _load_key(private_key: str | None, key_data: str | None, passphrase: str | None, where: str) -> Any:
    """The private key from a file (ML-Git's ``private-key``) or from text passed by code."""
    if not private_key and not key_data:
        return None
    try:
        if key_data:
            return _key_from_text(key_data, passphrase)
        path = Path(os.path.expanduser(str(private_key)))
        text = read_regular(path, KEY_FILE_MAX, lambda found: _not_a_key_file(private_key, where, found))
        return _key_from_text(text.decode("utf-8", "replace"), passphrase)
    except FileNotFoundError:
        raise StorageAuthError(
            f"private-key {private_key} of {where} does not exist (expected an SSH private key file)"
        ) from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        src = "the private key passed by code" if key_data else f"private-key {private_key}"
        raise StorageAuthError(f"{src} of {where} cannot be read: {exc}") from exc


def _not_a_key_file(path: Any, where: str, found: str) -> StorageAuthError:
    return StorageAuthError(
        f"private-key {path} of {where}: expected an SSH private key file (a regular file of at most "
        f"{KEY_FILE_MAX} bytes), found {found}"
    )


def _key_from_text(text: str, passphrase: str | None) -> Any:
    errors = []
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):  # never quotes the key
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.SSHException as exc:
            errors.append(f"{cls.__name__}: {exc}")
    raise paramiko.SSHException("; ".join(errors))


class _Warn(paramiko.MissingHostKeyPolicy):
    def __init__(self, password: bool) -> None:
        self.password = password

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        if self.password:
            # a password is a secret the host receives: never send it to a host nobody vouched for
            raise paramiko.SSHException(f"Server {hostname!r} not found in known_hosts (password login)")
        log.warning(
            "SFTP host %s is not in known_hosts (key %s %s); accepted. Set known-hosts in the storage's "
            "config to refuse unknown hosts",
            hostname,
            key.get_name(),
            key.fingerprint if hasattr(key, "fingerprint") else "",
        )


class SFTPStorage(Storage):
    """A folder on an SSH server. Keys are CIDs, flat in the folder."""

    scheme = "sftph"

    def __init__(
        self,
        bucket: str,
        *,
        host: str,
        port: int = 22,
        username: str | None = None,
        private_key: str | None = None,
        credentials: Mapping[str, Any] | None = None,
        known_hosts: str | None = None,
        max_connections: int = 8,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.bucket = bucket.strip("/")
        if not host:
            raise StorageError(
                f"storage sftph://{bucket} has no endpoint-url (the SSH host) in .ml-git/config.yaml; "
                f"add it with: ml-git repository storage add {bucket} --type=sftph --endpoint-url=HOST "
                f"--username=USER --private-key=KEYFILE"
            )
        self.host = str(host)
        creds = credentials or {}
        self.username = str(creds.get("username") or username or "") or None
        try:
            self.port = int(port or 22)
            if isinstance(port, bool) or not 0 < self.port < 65536:
                raise ValueError(port)
        except (TypeError, ValueError):
            raise StorageError(
                f"storage sftph://{self.bucket} at {self.host}: port must be a number, "
                f"found {str(port)[:40]!r} (expected 1..65535)"
            ) from None
        self._password = creds.get("password") or None
        self._pkey = _load_key(
            private_key, creds.get("private_key"), creds.get("passphrase") or None, self.where()
        )
        self.known_hosts = known_hosts
        self.max_connections = max(1, int(max_connections))
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: queue.LifoQueue[tuple[paramiko.SSHClient, paramiko.SFTPClient]] = queue.LifoQueue()
        self._all: list[paramiko.SSHClient] = []
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._checked = False

    @classmethod
    def from_config(
        cls,
        bucket: str,
        settings: Mapping[str, Any],
        credentials: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> SFTPStorage:
        """Build from ``storages.sftph.FOLDER`` of ``.ml-git/config.yaml`` (ML-Git's keys)."""
        pool = options.pop("max_pool_connections", None)
        if pool is not None:
            options.setdefault("max_connections", min(8, int(pool)))
        return cls(
            bucket,
            host=str(settings.get("endpoint-url") or ""),
            port=settings.get("port") or 22,
            username=settings.get("username") or None,
            private_key=settings.get("private-key") or None,
            credentials=credentials,
            known_hosts=settings.get("known-hosts") or None,
            **{**timeout_settings(settings, f"sftph://{bucket}", CONNECT_TIMEOUT, READ_TIMEOUT), **options},
        )

    def where(self) -> str:
        return f"sftph://{self.bucket} at {self._endpoint()}"

    def _endpoint(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{user}{self.host}:{self.port}"

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
        client = paramiko.SSHClient()
        if self.known_hosts:
            path = os.path.expanduser(self.known_hosts)
            try:
                read_regular(
                    path, KEY_FILE_MAX, lambda found: OSError(f"expected a known_hosts file, found {found}")
                )
                client.load_host_keys(path)
            except OSError as exc:
                raise StorageError(f"known-hosts {self.known_hosts} of {self.where()}: {exc}") from exc
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            with contextlib.suppress(OSError):
                client.load_system_host_keys()
            client.set_missing_host_key_policy(_Warn(self._password is not None))
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.username,
                pkey=self._pkey,
                password=self._password,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                allow_agent=self._pkey is None and self._password is None,
                look_for_keys=self._pkey is None and self._password is None,
            )
            sftp = client.open_sftp()
            # a server that stops answering mid-transfer fails the transfer, it never hangs it
            sftp.get_channel().settimeout(self.read_timeout)
            return client, sftp
        except BaseException:
            client.close()
            raise

    @contextlib.contextmanager
    def _sftp(self, action: str, key: str | None = None) -> Iterator[paramiko.SFTPClient]:
        """A pooled connection, with every paramiko/socket error translated once, here."""
        self._slots.acquire()
        conn = None
        broken = False
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                # one handshake at a time: sshd drops connections beyond MaxStartups (10) unauthenticated ones
                with self._connect_lock, self._boundary("connect to", None):
                    conn = self._connect()
                with self._lock:
                    self._all.append(conn[0])
            try:
                with self._boundary(action, key):
                    yield conn[1]
            except StorageError as exc:
                broken = not isinstance(exc, (ObjectNotFound, StorageNotFound))
                raise
        finally:
            if conn is not None:
                if broken:
                    conn[0].close()
                else:
                    self._idle.put(conn)
            self._slots.release()

    @contextlib.contextmanager
    def _boundary(self, action: str, key: str | None) -> Iterator[None]:
        try:
            yield
        except MLGitError:
            raise
        except paramiko.BadHostKeyException as exc:
            raise StorageAuthError(
                f"the host key of {self._endpoint()} changed ({exc.key.get_name()}, expected the one in "
                f"known_hosts): refused; if the server's key really changed, update known_hosts"
            ) from exc
        except paramiko.AuthenticationException as exc:
            key_src = "the key passed by code or private-key" if self._pkey is not None else "no private-key"
            raise StorageAuthError(
                f"{self._endpoint()} refused the SSH login of {self.username or 'the current user'} with "
                f"{key_src} for {self.where()} ({exc}); check username and private-key in .ml-git/config.yaml"
            ) from exc
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            raise StorageError(
                f"cannot reach {self._endpoint()} for {self.where()} (connection refused); "
                f"is the SSH server up and endpoint-url/port right?"
            ) from exc
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                where = f"known-hosts {self.known_hosts}" if self.known_hosts else "known_hosts"
                why = "" if self.known_hosts else " (a password is only sent to a known host)"
                raise StorageAuthError(
                    f"the SSH host {self._endpoint()} is not in {where}: refused{why} "
                    f"(add its key: ssh-keyscan -p {self.port} {self.host} >> {self.known_hosts or '~/.ssh/known_hosts'})"
                ) from exc
            raise StorageError(f"{action} {key or ''} on {self.where()} failed: SSH: {exc}") from exc
        except FileNotFoundError as exc:
            if key is None:
                raise StorageNotFound(self._no_folder_message()) from exc
            raise ObjectNotFound(f"object {key} not found in {self.where()}") from exc
        except PermissionError as exc:
            raise StorageAuthError(
                f"{self._endpoint()} denied {action} {key or ''} in folder {self.bucket} of {self.where()} "
                f"(permission denied for {self.username or 'the login user'})"
            ) from exc
        except TimeoutError as exc:
            if action == "connect to":
                raise StorageError(
                    f"cannot reach {self._endpoint()} for {self.where()} (no answer within "
                    f"{self.connect_timeout:g}s); is the SSH server up and endpoint-url/port right?"
                ) from exc
            raise StorageError(
                f"{action} {key or ''} on {self.where()} failed: the server sent nothing for "
                f"{self.read_timeout:g}s (a stalled server or network)"
            ) from exc
        except (ConnectionError, socket.gaierror, EOFError) as exc:
            raise StorageError(
                f"cannot reach {self._endpoint()} for {self.where()} ({type(exc).__name__}: {exc}); "
                f"is the SSH server up and endpoint-url/port right?"
            ) from exc
        except OSError as exc:
            raise StorageError(
                f"{action} {key or ''} on {self.where()} failed: {type(exc).__name__}: {exc}"
            ) from exc

    def _no_folder_message(self) -> str:
        return (
            f"folder {self.bucket} does not exist at {self._endpoint()} (relative to the login folder of "
            f"{self.username or 'the user'}); create it (ssh -p {self.port} {self._endpoint().rsplit(':', 1)[0]} "
            f"mkdir -p {self.bucket}) or fix storages.sftph in .ml-git/config.yaml"
        )

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{self.safe_key(key)}"

    # -- the contract ------------------------------------------------------------------------

    def check(self) -> None:
        if self._checked:
            return
        with self._sftp("open folder") as sftp:
            mode = sftp.stat(self.bucket).st_mode
        if mode is None or not stat.S_ISDIR(mode):
            raise StorageNotFound(
                f"{self.bucket} at {self._endpoint()} is not a folder; {self._no_folder_message()}"
            )
        self._checked = True

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = f"{self.bucket}/{_TMP}{uuid.uuid4().hex}"
        with self._sftp("upload", None) as sftp:
            try:
                with sftp.open(tmp, "wb") as fh:
                    fh.set_pipelined(True)
                    fh.write(data)
                sftp.posix_rename(tmp, path)
            except BaseException:
                with contextlib.suppress(Exception):
                    sftp.remove(tmp)
                raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            with self._sftp("download", key) as sftp:
                return self._read_bounded(sftp, path, key)
        except ObjectNotFound:
            self._checked = False
            self.check()  # a missing folder says so, not "object not found"
            raise

    def _read_bounded(self, sftp: paramiko.SFTPClient, path: str, key: str) -> bytes:
        """The object's bytes: a regular file (not a symlink, FIFO or device the folder's writer planted)
        of at most ``base.MAX_OBJECT`` bytes, whatever size the server declared."""
        limit = base.MAX_OBJECT

        def refuse(found: str) -> CorruptObject:
            return CorruptObject(
                f"object {key} in {self.where()}: expected a regular file of at most {limit} bytes, "
                f"found {found}; not read"
            )

        st = sftp.lstat(path)
        if st.st_mode is None or not stat.S_ISREG(st.st_mode):
            kind = (
                "a symlink" if st.st_mode is not None and stat.S_ISLNK(st.st_mode) else "not a regular file"
            )
            raise refuse(kind)
        size = st.st_size or 0
        if size > limit:
            raise refuse(f"{size} bytes")
        with sftp.open(path, "rb") as fh:
            if size:
                fh.prefetch(size)
            data = bytes(fh.read(limit + 1))
        if len(data) > limit:
            raise refuse(f"more than {limit} bytes")
        return data

    def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            with self._sftp("look up", key) as sftp:
                sftp.stat(path)
        except ObjectNotFound:
            return False
        return True

    def _names(self) -> list[str]:
        with self._sftp("list", None) as sftp:
            return [n for n in sftp.listdir(self.bucket) if not n.startswith(".")]

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        yield from sorted(n for n in self._names() if n.startswith(prefix))

    def missing(self, keys: Iterable[str]) -> set[str]:
        wanted = set(keys)
        if not wanted:
            return set()
        if len(wanted) > STAT_AT_MOST:
            return wanted - set(self._names())
        return {k for k in wanted if not self.exists(k)}

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(ObjectNotFound):
            with self._sftp("delete", key) as sftp:
                sftp.remove(path)

    def close(self) -> None:
        with self._lock:
            clients, self._all = self._all, []
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        while True:
            try:
                self._idle.get_nowait()
            except queue.Empty:
                break


__all__ = ["SFTPStorage"]
