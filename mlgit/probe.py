"""Reaching a workspace's remotes and storage without changing anything (a connection test)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import MetadataError, MLGitError
from .storage import open_storage


def check_remote(entity_type: str, url: str, timeout: float = 30) -> None:
    """``git ls-remote``: the metadata remote answers and lets us read; ``MetadataError`` otherwise."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        proc = subprocess.run(
            ["git", "ls-remote", "--heads", url], capture_output=True, text=True, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise MetadataError(f"{entity_type} metadata remote {url}: no answer within {timeout:g}s") from None
    if proc.returncode != 0:
        raise MetadataError(
            f"{entity_type} metadata remote {url}: cannot read it ({' '.join(proc.stderr.split())[:300]})"
        )


def check_storage(
    uri: str,
    storages: Mapping[str, Any],
    credentials: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> None:
    """Open the storage and ask it whether the bucket/folder is there with these keys (S3: HeadBucket)."""
    storage = open_storage(uri, storages, root or Path.cwd(), credentials)
    try:
        storage.check()
    finally:
        storage.close()


def check_all(
    remotes: Mapping[str, str],
    storage_uri: str | None,
    storages: Mapping[str, Any],
    credentials: Mapping[str, str] | None = None,
) -> list[str]:
    """Every problem found, one line each (empty: all reachable)."""
    problems = []
    for et, url in remotes.items():
        try:
            check_remote(et, url)
        except MLGitError as err:
            problems.append(str(err))
    if storage_uri:
        try:
            check_storage(storage_uri, storages, credentials)
        except MLGitError as err:
            problems.append(f"{type(err).__name__}: {err}")
    return problems
