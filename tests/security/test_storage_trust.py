"""The storages that landed after issue 9 (sftph, azureblobh) and sampled checkout, attacked as SECURITY.md
says: whoever can write to the SFTP folder or the Azure container (plain file writes on the server, plain
SDK uploads), whoever shares the worker (a planted flag file), whoever hands a pipeline its parameters.
Every case ends in one MLGitError subclass with one clear line (exit 1 at the CLI), in bounded time,
with nothing written outside the workspace and no secret in the message."""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers import Cli, make_remotes, write
from sftpserver import SFTPBucket, keygen

import mlgit
from mlgit.cid import cid_of
from mlgit.errors import CorruptObject, InvalidSample, MLGitError, StorageAuthError, StorageError
from mlgit.storage import base
from mlgit.storage.sftp import SFTPStorage

SECRET = b"TOP SECRET: the server's own file, outside the bucket\n"


def one_line(out: str) -> str:
    out = out.strip()
    assert out.count("\n") == 0 and "Traceback" not in out and "internal error" not in out, out
    return out


def _sftp_add(b: SFTPBucket) -> str:
    s = b.server
    return (
        f"{b.name} --type=sftph --endpoint-url={s.host} --username={s.username} "
        f"--private-key={s.private_key} --port={s.port}"
    )


def _workspace(
    cli: Cli, ws: Path, remotes: dict[str, str], storage_add: str, known_hosts: Path | None
) -> Path:
    ws.mkdir()
    cli("repository init", cwd=ws)
    cli(f"repository remote datasets add {remotes['datasets']}", cwd=ws)
    cli(f"repository storage add {storage_add}", cwd=ws)
    if known_hosts is not None:  # our key, next to ML-Git's: the server's host key is pinned
        cfg = ws / ".ml-git" / "config.yaml"
        doc = yaml.safe_load(cfg.read_text())
        for settings in doc["storages"]["sftph"].values():
            settings["known-hosts"] = str(known_hosts)
        cfg.write_text(yaml.safe_dump(doc))
    cli("datasets init", cwd=ws)
    return ws


@pytest.fixture
def sftp_victim(sftp_bucket: SFTPBucket, tmp_path: Path, cli: Cli) -> tuple[Path, dict[str, Path]]:
    """An author pushed ``birds`` (6 files) to the SFTP folder; the victim's workspace has not checked it
    out yet. Returns (victim workspace, the bucket's objects by the file they hold the chunk of)."""
    remotes = make_remotes(tmp_path / "remotes")
    kh = sftp_bucket.server.known_hosts
    author = _workspace(cli, tmp_path / "author", remotes, _sftp_add(sftp_bucket), kh)
    cli(
        f"datasets create birds --categories=zoo --mutability=strict --storage-type=sftph "
        f"--bucket-name={sftp_bucket.name}",
        cwd=author,
    )
    chunks: dict[str, Path] = {}
    for i in range(6):
        data = random.Random(i).randbytes(700)
        write(author / "datasets" / "birds" / "data" / f"{i}.bin", data)
        chunks[f"{i}.bin"] = sftp_bucket.path / cid_of(data)
    cli("datasets add birds", cwd=author)
    cli("datasets commit birds", cwd=author)
    cli("datasets push birds", cwd=author)
    assert all(p.is_file() for p in chunks.values())
    victim = _workspace(cli, tmp_path / "victim", remotes, _sftp_add(sftp_bucket), kh)
    return victim, chunks


def _nothing_checked_out(victim: Path, attacked: str) -> None:
    """The attacked file is not in the workspace; what is there is whole and verified."""
    data = victim / "datasets" / "birds" / "data"
    assert not (data / attacked).exists()
    for f in data.glob("*.bin") if data.exists() else ():
        assert f.read_bytes() == random.Random(int(f.stem)).randbytes(700), f


@pytest.mark.timeout(120)
def test_sftp_object_symlinked_to_a_server_file_is_not_read(
    sftp_victim: tuple[Path, dict[str, Path]], sftp_bucket: SFTPBucket, tmp_path: Path, cli: Cli
) -> None:
    """The folder's writer replaces a chunk by a symlink to a file the login user can read on the server
    (another project's data, a key): the victim must not download it, nor keep it, nor show it."""
    victim, chunks = sftp_victim
    outside = sftp_bucket.server.root / f"secret-{sftp_bucket.name}"
    outside.write_bytes(SECRET)
    target = chunks["3.bin"]
    target.unlink()
    target.symlink_to(outside)
    res = cli("datasets checkout birds", ok=False, cwd=victim)
    out = one_line(res.output)
    assert res.exit_code == 1
    assert target.name in out and "symlink" in out and "SECRET" not in out, out
    _nothing_checked_out(victim, "3.bin")
    hits = [p for p in victim.rglob("*") if p.is_file() and SECRET in p.read_bytes()]
    assert not hits, hits


@pytest.mark.timeout(120)
def test_sftp_object_that_is_a_fifo_never_blocks(
    sftp_victim: tuple[Path, dict[str, Path]], sftp_bucket: SFTPBucket, cli: Cli
) -> None:
    """A FIFO under a key makes the server's open() block forever: the victim must refuse it, not wait."""
    victim, chunks = sftp_victim
    target = chunks["1.bin"]
    target.unlink()
    os.mkfifo(target)
    t0 = time.monotonic()
    out = one_line(cli("datasets checkout birds", ok=False, cwd=victim).output)
    assert time.monotonic() - t0 < 60
    assert target.name in out and "not a regular file" in out, out
    _nothing_checked_out(victim, "1.bin")


@pytest.mark.timeout(120)
def test_sftp_object_larger_than_any_object_is_not_read(
    sftp_victim: tuple[Path, dict[str, Path]], cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object far larger than any object can be (here the limit is lowered to 64 KiB, so a 1 MiB
    file stands for a 100 GiB one) is refused from its size, before a byte is read into memory."""
    victim, chunks = sftp_victim
    monkeypatch.setattr(base, "MAX_OBJECT", 64 * 1024)
    target = chunks["2.bin"]
    target.write_bytes(b"\0" * (1 << 20))
    out = one_line(cli("datasets checkout birds", ok=False, cwd=victim).output)
    assert target.name in out and f"at most {64 * 1024} bytes" in out and str(1 << 20) in out, out
    _nothing_checked_out(victim, "2.bin")


def test_sftp_swapped_object_is_refused_before_it_lands(
    sftp_victim: tuple[Path, dict[str, Path]], cli: Cli
) -> None:
    """Other bytes of the same size under a chunk's key: verified against the CID, never stored."""
    victim, chunks = sftp_victim
    target = chunks["4.bin"]
    target.write_bytes(b"x" * 700)
    out = one_line(cli("datasets checkout birds", ok=False, cwd=victim).output)
    assert target.name in out and "does not match its CID" in out, out
    assert not list((victim / ".ml-git").rglob(target.name))
    _nothing_checked_out(victim, "4.bin")


class _FreezableProxy:
    """A loopback TCP proxy in front of sshd that can stop forwarding the server's bytes: a server (or a
    network) that accepts a request and never answers it. The only way to cause that with a real sshd."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        with client, upstream, contextlib.suppress(OSError):
            while not self.closed.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                for s in ready:
                    if s is upstream and self.frozen.is_set():
                        continue  # swallow nothing, forward nothing: the answer never comes
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)
                if self.frozen.is_set():
                    time.sleep(0.05)

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


@pytest.fixture
def frozen_proxy(sftp_bucket: SFTPBucket) -> Iterator[_FreezableProxy]:
    proxy = _FreezableProxy(sftp_bucket.server.port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.mark.timeout(60)
def test_sftp_server_that_stops_answering_fails_the_download(
    sftp_bucket: SFTPBucket, frozen_proxy: _FreezableProxy, tmp_path: Path
) -> None:
    key = cid_of(b"stalled")
    (sftp_bucket.path / key).write_bytes(b"stalled")
    s = sftp_bucket.server
    kh = tmp_path / "known_hosts"
    kh.write_text(s.known_hosts.read_text().replace(f"]:{s.port} ", f"]:{frozen_proxy.port} "))
    settings = s.settings(port=frozen_proxy.port, **{"known-hosts": str(kh)})
    st = SFTPStorage.from_config(sftp_bucket.name, settings, read_timeout=2.0)
    try:
        st.check()
        assert st.get(key) == b"stalled"
        frozen_proxy.frozen.set()
        t0 = time.monotonic()
        with pytest.raises(
            StorageError, match=f"download {key} on sftph://{sftp_bucket.name} .* sent nothing for 2s"
        ) as err:
            st.get(key)
        assert time.monotonic() - t0 < 15
        assert "\n" not in str(err.value)
    finally:
        st.close()


def test_sftp_password_is_never_sent_to_an_unknown_host(
    sftp_bucket: SFTPBucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without known-hosts an unknown host is accepted with a warning for a key login (ML-Git's way; the
    key is not revealed to the host), but a password would be handed to whoever answers there."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.ssh/known_hosts knows the server
    s = sftp_bucket.server
    settings = {"endpoint-url": s.host, "username": s.username, "private-key": None, "port": s.port}
    password = "hunter2-do-not-leak"
    st = SFTPStorage.from_config(sftp_bucket.name, settings, {"password": password})
    with pytest.raises(StorageAuthError, match="not in known_hosts: refused .a password is only sent") as err:
        st.check()
    st.close()
    assert password not in str(err.value) and password not in caplog.text
    # a key login to the same unknown host still works, with the warning
    ok = SFTPStorage.from_config(sftp_bucket.name, {**settings, "private-key": str(s.private_key)})
    ok.check()
    ok.close()
    assert "not in known_hosts" in caplog.text


@pytest.mark.timeout(60)
def test_sftp_key_and_known_hosts_files_are_read_bounded(sftp_bucket: SFTPBucket, tmp_path: Path) -> None:
    """``private-key: /dev/zero`` or a FIFO (a cloned project's config names it) must not hang or grow
    memory; a passphrase never appears in an error."""
    s = sftp_bucket.server
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for bad in (fifo, Path("/dev/zero")):
        with pytest.raises(StorageAuthError, match=f"private-key {bad} .*expected an SSH private key file"):
            SFTPStorage.from_config(sftp_bucket.name, s.settings(**{"private-key": str(bad)}))
        st = SFTPStorage.from_config(sftp_bucket.name, s.settings(**{"known-hosts": str(bad)}))
        with pytest.raises(StorageError, match=f"known-hosts {bad} .*expected a known_hosts file"):
            st.check()
        st.close()
    locked = tmp_path / "locked"
    keygen(locked)
    os.system(f"ssh-keygen -q -p -N 'right-passphrase' -f {locked} >/dev/null")  # noqa: S605
    wrong = "wrong-passphrase-do-not-leak"
    with pytest.raises(StorageAuthError) as err:
        SFTPStorage.from_config(
            sftp_bucket.name, s.settings(**{"private-key": str(locked)}), {"passphrase": wrong}
        )
    assert wrong not in str(err.value) and "right-passphrase" not in str(err.value)
    assert "\n" not in str(err.value)


def test_sftp_port_out_of_range_is_one_error() -> None:
    for port in (70000, -1, True):
        with pytest.raises(StorageError, match=r"port must be a number, found .* \(expected 1..65535\)"):
            SFTPStorage.from_config("x", {"endpoint-url": "127.0.0.1", "port": port})


# -- Azure ---------------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_azure_blob_larger_than_any_object_is_not_read(
    azure_container: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlgit.storage.azure import AzureStorage

    c = azure_container
    monkeypatch.setattr(base, "MAX_OBJECT", 64 * 1024)  # so that 1 MiB stands for 100 GiB
    key = cid_of(b"small")
    client = c.server.service().get_container_client(c.name)  # type: ignore[attr-defined]
    client.upload_blob(key, b"\0" * (1 << 20))  # the container's writer, with the plain SDK
    st = AzureStorage.from_config(c.name, {})  # type: ignore[attr-defined]
    try:
        with pytest.raises(CorruptObject, match=f"object {key} .*at most {64 * 1024} bytes, found {1 << 20}"):
            st.get(key)
    finally:
        st.close()


# -- sampled checkout ------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "args",
    [
        "--sample-type=range --sampling=0:" + "9" * 5000,
        "--sample-type=range --sampling=0:3:" + "9" * 5000,
        "--sample-type=group --sampling=1:" + "9" * 5000 + " --seed=1",
        "--sample-type=random --sampling=1:2 --seed=" + "9" * 5000,
        "--sample-type=random --sampling=" + "9" * 17 + ":" + "9" * 18 + " --seed=1",
        "--sample-type=range --sampling=-5:3",
    ],
)
def test_sampling_parameters_that_would_exhaust_are_one_error(args: str, sampled: tuple[Path, Cli]) -> None:
    ws, cli = sampled
    res = cli(f"datasets checkout birds {args}", ok=False, cwd=ws)
    out = one_line(res.output)
    assert res.exit_code == 1 and len(out) < 400, out
    assert "--sample-type" in out, out


def test_planted_sampling_flag_folder_is_refused_by_name(sampled: tuple[Path, Cli]) -> None:
    """Another task on the worker puts a folder where checkout keeps ML-Git's ``sampling`` flag."""
    ws, cli = sampled
    flag = ws / ".ml-git" / "datasets" / "index" / "metadata" / "birds" / "sampling"
    flag.mkdir(parents=True)
    for verb in ("checkout birds --sample-type=range --sampling=0:2", "checkout birds --force"):
        out = one_line(cli(f"datasets {verb}", ok=False, cwd=ws).output)
        assert str(flag) in out and "found a folder" in out, out
        assert not (ws / "datasets" / "birds").exists()  # refused before any file was written
    flag.rmdir()
    cli("datasets checkout birds", cwd=ws)
    flag.mkdir()
    out = one_line(cli("datasets add birds", ok=False, cwd=ws).output)
    assert str(flag) in out and "found a folder" in out, out


@pytest.fixture
def sampled(tmp_path: Path, cli: Cli) -> tuple[Path, Cli]:
    """A pushed ``birds`` of 4 files in a local bucket, and a fresh workspace that has not checked it out."""
    remotes = make_remotes(tmp_path / "remotes")
    bucket = tmp_path / "bucket"
    bucket.mkdir()

    def ws(name: str) -> Path:
        w = tmp_path / name
        w.mkdir()
        cli("repository init", cwd=w)
        cli(f"repository remote datasets add {remotes['datasets']}", cwd=w)
        cli(f"repository storage add mlgit --type=local --path={bucket}", cwd=w)
        cli("datasets init", cwd=w)
        return w

    author = ws("author")
    cli(
        "datasets create birds --categories=zoo --mutability=strict --storage-type=local --bucket-name=mlgit",
        cwd=author,
    )
    for i in range(4):
        write(author / "datasets" / "birds" / f"{i}.bin", bytes([i]) * 10)
    cli("datasets add birds", cwd=author)
    cli("datasets commit birds", cwd=author)
    cli("datasets push birds", cwd=author)
    return ws("victim"), cli


def test_public_api_exports_every_error() -> None:
    import inspect

    from mlgit import errors

    classes = {n for n, c in vars(errors).items() if inspect.isclass(c) and issubclass(c, errors.MLGitError)}
    assert classes <= set(mlgit.__all__), classes - set(mlgit.__all__)
    assert all(getattr(mlgit, n) is getattr(errors, n) for n in classes)


def test_sftp_password_is_in_no_error_and_no_log(
    sftp_bucket: SFTPBucket, caplog: pytest.LogCaptureFixture
) -> None:
    """A password login the server refuses, with every logger (paramiko's too) at DEBUG."""
    caplog.set_level("DEBUG")
    s = sftp_bucket.server
    password = "hunter2-do-not-leak"
    settings = s.settings(**{"private-key": None})
    st = SFTPStorage.from_config(sftp_bucket.name, settings, {"password": password})
    with pytest.raises(StorageAuthError, match="refused the SSH login") as err:
        st.check()
    st.close()
    assert password not in str(err.value) and password not in caplog.text
    assert "\n" not in str(err.value)


def test_azure_connection_string_is_not_in_config_show(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        f"DefaultEndpointsProtocol=http;AccountName=acct;AccountKey={key};BlobEndpoint=http://127.0.0.1:1/acct",
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    cli("repository init", cwd=ws)
    cli("repository storage add blobs --type=azureblobh", cwd=ws)
    out = cli("repository config show", cwd=ws).output
    assert "azureblobh" in out and key not in out
    assert key not in (ws / ".ml-git" / "config.yaml").read_text()


# -- S3 ----------------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sdk", ["auto", "http", "boto3", "minio"])
def test_s3_object_larger_than_any_object_is_not_read(
    s3_bucket: object, monkeypatch: pytest.MonkeyPatch, sdk: str
) -> None:
    """The bucket's writer puts 1 MiB under a CID key (the limit is lowered to 64 KiB, so it stands for a
    100 GiB object): every data plane refuses it from its declared size, without reading it whole."""
    from mlgit.storage.s3 import S3Storage

    b = s3_bucket
    monkeypatch.setattr(base, "MAX_OBJECT", 64 * 1024)
    key = cid_of(b"small")
    b.server.client().put_object(Bucket=b.bucket, Key=key, Body=b"\0" * (1 << 20))  # type: ignore[attr-defined]
    try:
        st = S3Storage.from_config(b.bucket, {**b.settings(), "sdk": sdk})  # type: ignore[attr-defined]
    except MLGitError as exc:  # an SDK this install lacks
        pytest.skip(str(exc))
    try:
        with pytest.raises(CorruptObject, match=f"object {key} .*at most {64 * 1024} bytes"):
            st.get(key)
    finally:
        st.close()


@pytest.mark.parametrize(
    "sample",
    [
        {"range": 5},
        {"group": None, "seed": 1},
        {"random": "1:2", "seed": True},
        {"range": "0:3:0"},
        {"group": "1:2\n", "seed": 1},
        {"random": "٣:9", "seed": 1},  # Arabic-Indic digit three: int() reads it, ML-Git's CLI would not
        {"type": "range", "sampling": "0:" + "9" * 19},
    ],
)
def test_sampling_values_a_pipeline_passes_are_one_error(sample: dict[str, object]) -> None:
    """What an Airflow/Prefect parameter may hold (not a string, a bool, a newline, a non-ASCII digit)."""
    from mlgit.sampling import apply

    manifest = {f"{i}.bin": cid_of(bytes([i])) for i in range(10)}
    with pytest.raises(InvalidSample) as err:
        apply(sample, manifest, "cv__ds__1")
    assert "\n" not in str(err.value) and len(str(err.value)) < 400
