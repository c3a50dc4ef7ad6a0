"""The core stays headless and the README's code compiles. ruff and mypy are steps of .ci/run of their own."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def test_ci_runs_lint_then_the_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    command = "python3 -m uv run --frozen --all-extras pytest"
    assert command in readme
    script = (ROOT / ".ci" / "run").read_text()
    lines = [
        line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "set -euo pipefail" in lines
    assert lines[-1] == command  # the last step: its exit code is the script's
    steps = [line for line in lines if line.startswith("run ")]
    assert [s.split()[1] for s in steps] == ["ruff", "ruff", "mypy", "mypy"]
    assert not any("|| true" in line or "set +e" in line for line in lines)


def test_test_and_helper_module_names_are_unique() -> None:
    """Test folders are not packages: two modules of one name (or one named like an example's helper,
    e.g. flows_examples/common.py) make the second import the first's module in a full run."""
    seen: dict[str, Path] = {}
    roots = [ROOT / "tests", ROOT / "flows_examples", ROOT / "dags_examples"]
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        if path.name in ("conftest.py", "__init__.py") or (path.parent / "__init__.py").exists():
            continue
        assert path.name not in seen, f"{path.relative_to(ROOT)} and {seen[path.name].relative_to(ROOT)}"
        seen[path.name] = path
