"""The Prefect integration stays typed and linted (by the same command as every other test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff() -> None:
    res = _run("ruff", "check", "integrations/prefect", "flows_examples", "tests/prefect")
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_strict() -> None:
    res = _run("mypy", "--strict", "integrations/prefect/mlgit_prefect")
    assert res.returncode == 0, res.stdout + res.stderr
