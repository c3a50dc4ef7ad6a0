"""The core stays typed, linted and headless (run by the same command as every other test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff() -> None:
    res = _run("ruff", "check", "mlgit", "tests", "integrations", "bench", "dags_examples", "flows_examples")
    assert res.returncode == 0, res.stdout + res.stderr
    res = _run("ruff", "format", "--check", "mlgit")
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy() -> None:
    res = _run("mypy", "mlgit")
    assert res.returncode == 0, res.stdout + res.stderr


def test_core_imports_no_orchestrator_and_prints_nothing() -> None:
    for path in (ROOT / "mlgit").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (airflow|prefect)\b", text, re.M), path
        if path.name not in ("cli.py",):
            assert not re.search(r"^\s*print\(", text, re.M), path


def test_readme_code_blocks_compile() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 3
    for block in blocks:
        compile(block, "README.md", "exec")
