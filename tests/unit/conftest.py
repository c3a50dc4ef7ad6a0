"""Unit tests of the core, one file per module: no server, no subprocess but git on tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "mlgit-2.9.9"


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def mlgit_written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """tag -> {path in the metadata tree: bytes} for every version ML-Git 2.9.9 wrote (the bundles)."""
    out: dict[str, dict[str, bytes]] = {}
    base = tmp_path_factory.mktemp("mlgit-bundles")
    for et in ("datasets", "labels", "models"):
        repo = base / et
        _git("clone", "-q", str(FIXTURE / f"{et}.bundle"), str(repo))
        for tag in _git("tag", cwd=repo).split():
            files = {}
            for path in _git("ls-tree", "-r", "--name-only", tag, cwd=repo).split():
                files[path] = subprocess.run(
                    ["git", "show", f"{tag}:{path}"], cwd=repo, check=True, capture_output=True
                ).stdout
            out[tag] = files
    return out
