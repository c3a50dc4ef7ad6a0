"""The ``storages:`` entries ML-Git writes for its SFTP and Azure storages, key for key."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def storage_settings(
    type: str,
    name: str,
    endpoint_url: str | None = None,
    username: str | None = None,
    private_key: str | None = None,
    port: int | None = None,
    known_hosts: str | None = None,
) -> dict[str, Any]:
    """``storages.<type>.<name>`` as ``ml-git repository storage add`` writes it.

    sftph: ``endpoint-url``, ``username``, ``private-key``, ``port`` (22 when not given), every key
    written even when empty, as ML-Git does; ``known-hosts`` (ours, a file) only when given. azureblobh: an empty mapping (the connection string
    comes from ``AZURE_STORAGE_CONNECTION_STRING`` or the Azure CLI's config, never from this file).
    """
    if type == "sftph":
        if port is not None and not (0 < int(port) < 65536):
            raise ConfigError(f"storage sftph://{name}: --port must be 1..65535, found {port}")
        settings: dict[str, Any] = {
            "endpoint-url": endpoint_url or None,
            "username": username or None,
            "private-key": private_key or None,
            "port": int(port) if port is not None else 22,
        }
        if known_hosts:
            settings["known-hosts"] = str(known_hosts)
        return settings
    if type == "azureblobh":
        return {}
    raise ConfigError(f"storage {type}://{name}: no ML-Git settings for type {type!r}")
