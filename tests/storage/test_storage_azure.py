"""azureblobh on Azurite (loopback): ML-Git's credentials lookup, the how-to flow, and the faults a user
meets (service down, wrong key, missing container, no connection string)."""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import pytest
from azurite import KEY, AzureContainer, connection_string
from helpers import Cli
from howto_flow import howto_flow, one_line, pushable

from mlgit.cid import cid_of
from mlgit.errors import StorageAuthError, StorageError
from mlgit.storage import azure as az
from mlgit.storage.azure import AzureStorage


def test_howto_flow_on_azure(azure_container: AzureContainer, tmp_path: Path, cli: Cli) -> None:
    """ML-Git's config (``azureblobh: {CONTAINER: {}}``) and its AZURE_STORAGE_CONNECTION_STRING."""
    c = azure_container
    howto_flow(cli, tmp_path, "azureblobh", c.name, f"{c.name} --type=azureblobh", c.names)


def test_connection_string_from_the_azure_cli_config(
    azure_container: AzureContainer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    conf = tmp_path / "azure-config"
    conf.mkdir(exist_ok=True)
    (conf / "config").write_text(
        f'[storage]\nconnection_string = "{azure_container.server.connection_string}"\n'
    )
    st = AzureStorage.from_config(azure_container.name, {})
    st.put(cid_of(b"x"), b"x")
    assert azure_container.names() == {cid_of(b"x")}
    st.close()
    # as `az configure` writes it (INI, unquoted): read too
    (conf / "config").write_text(
        f"[storage]\nconnection_string = {azure_container.server.connection_string}\n"
    )
    AzureStorage.from_config(azure_container.name, {}).check()
    (conf / "config").unlink()
    with pytest.raises(StorageAuthError, match="no Azure connection string for azureblobh://") as err:
        AzureStorage.from_config(azure_container.name, {})
    assert "AZURE_STORAGE_CONNECTION_STRING" in str(err.value) and str(conf / "config") in str(err.value)


def test_connection_string_passed_by_code_wins(
    azure_container: AzureContainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        "AccountName=x;AccountKey=bm9uZQ==;BlobEndpoint=http://127.0.0.1:9/x",
    )
    st = AzureStorage.from_config(
        azure_container.name, {}, {"connection_string": azure_container.server.connection_string}
    )
    st.check()
    st.close()
    with pytest.raises(StorageAuthError, match="not a valid Azure connection string"):
        AzureStorage.from_config(azure_container.name, {}, {"connection_string": "nonsense"})


def test_service_down_is_one_line_and_loses_nothing(
    azure_container: AzureContainer, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3server import free_port

    c = azure_container
    ws = pushable(cli, tmp_path, "azureblobh", c.name, f"{c.name} --type=azureblobh")
    down = free_port()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(down))
    out = one_line(cli("datasets push birds", ok=False, cwd=ws).output)
    assert f"60 of 60 objects not transferred to azureblobh://{c.name}" in out and "cannot reach" in out, out
    assert f"127.0.0.1:{down}" in out and KEY not in out
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", c.server.connection_string)
    cli("datasets push birds", cwd=ws)
    assert len(c.names()) == 60


def test_a_silent_endpoint_is_one_attempt_bounded_by_the_read_timeout() -> None:
    """A port that takes connections and never answers (a hung service): the SDK does not retry under
    mlgit.transfer, so one call fails after about one read timeout (its default retries took 45s+)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accepted: the kernel completes the handshake, nobody answers
        port = silent.getsockname()[1]
        st = AzureStorage("c", connection_string=connection_string(port), read_timeout=0.5)
        start = time.monotonic()
        with pytest.raises(StorageError, match=f"cannot reach .*127.0.0.1:{port}") as err:
            st.check()
        took = time.monotonic() - start
        st.close()
    assert took < 3, f"{took:.1f}s: the SDK retried under the transfer layer"
    assert KEY not in str(err.value)


def test_wrong_key_and_missing_container_are_one_line(
    azure_container: AzureContainer, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = azure_container
    ws = pushable(cli, tmp_path, "azureblobh", c.name, f"{c.name} --type=azureblobh")
    wrong = base64.b64encode(b"w" * 64).decode()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(c.server.port, key=wrong))
    out = one_line(cli("datasets push birds", ok=False, cwd=ws).output)
    assert "refused $AZURE_STORAGE_CONNECTION_STRING" in out and c.name in out, out
    assert wrong not in out and KEY not in out
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", c.server.connection_string)
    c.server.service().delete_container(c.name)
    out = one_line(cli("datasets push birds", ok=False, cwd=ws).output)
    assert f"container {c.name} does not exist" in out and "az storage container create" in out, out


def test_missing_lists_once_then_heads_past_the_budget(
    azure_container: AzureContainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container much larger than the keys asked: the listing stops early, HEADs answer the rest."""
    st = AzureStorage(azure_container.name, connection_string=azure_container.server.connection_string)
    try:
        keys = sorted(cid_of(str(i).encode()) for i in range(80))
        present = set(keys[::2])
        for k in present:
            st.put(k, b"x")
        st._known.clear()
        monkeypatch.setattr(AzureStorage, "page_size", 10)
        monkeypatch.setattr(az, "LIST_PER_WANTED", 0)  # stop after the first page
        heads: list[str] = []
        real = AzureStorage.exists
        monkeypatch.setattr(AzureStorage, "exists", lambda self, k: heads.append(k) or real(self, k))
        assert st.missing(keys) == set(keys) - present
        assert 0 < len(heads) < len(keys)  # the first page answered some keys without a HEAD
    finally:
        st.close()


def test_keys_that_are_not_cids_never_reach_the_service(azure_container: AzureContainer) -> None:
    from mlgit.errors import StorageError

    st = AzureStorage(azure_container.name, connection_string=azure_container.server.connection_string)
    try:
        for bad in ("../other/x", "a/b", ".hidden", ""):
            with pytest.raises(StorageError, match="invalid object key"):
                st.put(bad, b"x")
            with pytest.raises(StorageError, match="invalid object key"):
                st.get(bad)
        assert azure_container.names() == set()
    finally:
        st.close()
