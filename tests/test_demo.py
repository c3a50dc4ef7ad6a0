"""The README's first command: the demo runs on a fresh machine (no git identity) and prints lineage."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Cli


def test_demo_versions_dataset_labels_model_and_prints_lineage(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    out = cli("demo", cwd=tmp_path).output
    assert "pushed datasets vision__demo__birds__1  (50 files, 204800 bytes, 100 objects uploaded)" in out
    assert "  models vision__demo__birdnet__1 (" in out
    assert "  |-- datasets vision__demo__birds__1 (" in out
    assert "  `-- labels vision__demo__birds-boxes__1 (" in out
    assert "vision__demo__birdnet__1: accuracy=0.91, f1=0.88" in out
    # a second run finds every version already there: nothing duplicated
    again = cli("demo", cwd=tmp_path).output
    assert "vision__demo__birds__1  (50 files, 204800 bytes, 0 objects uploaded)" in again
    assert "birds__2" not in again
    ws = tmp_path / "mlgit-demo" / "workspace"
    assert "datasets vision__demo__birds__1" in cli("models lineage birdnet", cwd=ws).output
