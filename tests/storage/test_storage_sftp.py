"""sftph on a real OpenSSH server (loopback, keys of the test's own): ML-Git's config keys, the how-to
flow, and the faults a user meets (server down, wrong key, missing folder, unknown or changed host)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import Cli
from howto_flow import howto_flow, one_line, pushable
from sftpserver import SFTPBucket, keygen

from mlgit.cid import cid_of
from mlgit.errors import StorageAuthError, StorageError, StorageNotFound
from mlgit.storage.sftp import SFTPStorage


def _add(b: SFTPBucket, key: Path | None = None, port: int | None = None) -> str:
    s = b.server
    return (
        f"{b.name} --type=sftph --endpoint-url={s.host} --username={s.username} "
        f"--private-key={key or s.private_key} --port={port or s.port}"
    )


def test_storage_add_writes_mlgit_keys(sftp_bucket: SFTPBucket, tmp_path: Path, cli: Cli) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    cli("repository init", cwd=ws)
    cli(_add(sftp_bucket).join(["repository storage add ", ""]), cwd=ws)
    cli("repository storage add other --type=sftph --endpoint-url=example.org --username=me", cwd=ws)
    cli("repository storage add blobs --type=azureblobh", cwd=ws)
    storages = yaml.safe_load((ws / ".ml-git" / "config.yaml").read_text())["storages"]
    s = sftp_bucket.server
    assert storages["sftph"][sftp_bucket.name] == {
        "endpoint-url": s.host,
        "username": s.username,
        "private-key": str(s.private_key),
        "port": s.port,
    }
    # ML-Git writes every key, the port 22 when not given
    assert storages["sftph"]["other"] == {
        "endpoint-url": "example.org",
        "username": "me",
        "private-key": None,
        "port": 22,
    }
    assert storages["azureblobh"] == {"blobs": {}}
    out = cli("repository storage add x --type=sftph --port=70000", ok=False, cwd=ws).output
    assert "--port must be 1..65535" in out


def test_howto_flow_on_sftp(sftp_bucket: SFTPBucket, tmp_path: Path, cli: Cli) -> None:
    """ML-Git's config as it writes it (no known-hosts): the unknown host is accepted with a warning."""
    howto_flow(
        cli,
        tmp_path,
        "sftph",
        sftp_bucket.name,
        _add(sftp_bucket),
        lambda: {p.name for p in sftp_bucket.path.iterdir()},
    )
    assert not [p for p in sftp_bucket.path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_server_down_is_one_line_and_loses_nothing(sftp_bucket: SFTPBucket, tmp_path: Path, cli: Cli) -> None:
    from s3server import free_port

    ws = pushable(cli, tmp_path, "sftph", sftp_bucket.name, _add(sftp_bucket))
    down = free_port()
    cli(f"repository storage add {_add(sftp_bucket, port=down)}", cwd=ws)
    out = one_line(cli("datasets push birds", ok=False, cwd=ws).output)
    assert f"60 of 60 objects not transferred to sftph://{sftp_bucket.name}" in out and "cannot reach" in out
    assert f"127.0.0.1:{down}" in out
    cli(f"repository storage add {_add(sftp_bucket)}", cwd=ws)
    cli("datasets push birds", cwd=ws)
    assert len(list(sftp_bucket.path.iterdir())) == 60


def test_wrong_key_is_refused_in_one_line(sftp_bucket: SFTPBucket, tmp_path: Path, cli: Cli) -> None:
    ws = pushable(cli, tmp_path, "sftph", sftp_bucket.name, _add(sftp_bucket))
    wrong = keygen(tmp_path / "not-authorized")
    cli(f"repository storage add {_add(sftp_bucket, key=wrong)}", cwd=ws)
    out = one_line(cli("datasets push birds", ok=False, cwd=ws).output)
    assert "refused the SSH login" in out and sftp_bucket.name in out, out
    assert not list(sftp_bucket.path.iterdir())
    missing_key = tmp_path / "no-such-key"
    cli(f"repository storage add {_add(sftp_bucket, key=missing_key)}", cwd=ws)
    out = one_line(cli("datasets push birds", ok=False, cwd=ws).output)
    assert f"private-key {missing_key}" in out and "does not exist" in out


def test_missing_folder_says_how_to_create_it(sftp_bucket: SFTPBucket, tmp_path: Path, cli: Cli) -> None:
    ws = pushable(cli, tmp_path, "sftph", sftp_bucket.name, _add(sftp_bucket))
    sftp_bucket.path.rmdir()
    out = one_line(cli("datasets push birds", ok=False, cwd=ws).output)
    assert f"folder {sftp_bucket.name} does not exist" in out and "mkdir -p" in out, out


def test_known_hosts_refuses_unknown_and_changed_host_keys(sftp_bucket: SFTPBucket, tmp_path: Path) -> None:
    settings = sftp_bucket.server.settings()
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    with pytest.raises(StorageAuthError, match="not in known-hosts"):
        SFTPStorage.from_config(sftp_bucket.name, {**settings, "known-hosts": str(empty)}).check()
    other = keygen(tmp_path / "other_host")
    typ, blob = (tmp_path / "other_host.pub").read_text().split()[:2]
    changed = tmp_path / "known_hosts_changed"
    changed.write_text(f"[{settings['endpoint-url']}]:{settings['port']} {typ} {blob}\n")
    assert other.exists()
    with pytest.raises(StorageAuthError, match="host key of .* changed"):
        SFTPStorage.from_config(sftp_bucket.name, {**settings, "known-hosts": str(changed)}).check()
    ok = SFTPStorage.from_config(sftp_bucket.name, settings)
    ok.check()
    ok.close()


def test_keys_that_are_not_cids_never_reach_the_server(sftp_bucket: SFTPBucket) -> None:
    st = SFTPStorage.from_config(sftp_bucket.name, sftp_bucket.server.settings())
    try:
        for bad in ("../escape", "a/b", ".hidden", ""):
            with pytest.raises(StorageError, match="invalid object key"):
                st.put(bad, b"x")
        assert not (sftp_bucket.server.root / "escape").exists()
        # an object written under a temp name and renamed: a reader never sees half an object
        key = cid_of(b"whole")
        st.put(key, b"whole")
        assert (sftp_bucket.path / key).read_bytes() == b"whole"
        assert [p.name for p in sftp_bucket.path.iterdir()] == [key]
    finally:
        st.close()


def test_credentials_passed_by_code(sftp_bucket: SFTPBucket) -> None:
    """What the integrations pass: the key's text in memory, no key file in the config."""
    s = sftp_bucket.server
    settings = {"endpoint-url": s.host, "username": s.username, "private-key": None, "port": s.port}
    st = SFTPStorage.from_config(sftp_bucket.name, settings, {"private_key": s.private_key.read_text()})
    try:
        st.check()
        key = cid_of(b"abc")
        st.put(key, b"abc")
        assert st.get(key) == b"abc"
    finally:
        st.close()
    with pytest.raises(StorageNotFound):
        SFTPStorage.from_config("nope", settings, {"private_key": s.private_key.read_text()}).check()


def test_incomplete_config_is_one_clear_error(tmp_path: Path) -> None:
    """What `storage add NAME --type=sftph` alone writes (every key null but the port)."""
    with pytest.raises(StorageError, match="has no endpoint-url .* --type=sftph --endpoint-url=HOST"):
        SFTPStorage.from_config(
            "x", {"endpoint-url": None, "username": None, "private-key": None, "port": 22}
        )
    with pytest.raises(StorageError, match="port must be a number, found 'ssh'"):
        SFTPStorage.from_config("x", {"endpoint-url": "h", "port": "ssh"})
    garbage = tmp_path / "not-a-key"
    garbage.write_text("hello\n")
    with pytest.raises(StorageAuthError, match=f"private-key {garbage} of sftph://x .* cannot be read"):
        SFTPStorage.from_config("x", {"endpoint-url": "h", "private-key": str(garbage), "port": 22})
