"""The reliability suite: a fast subset in CI; the long trials are marked ``slow``.

Run everything (about 15 minutes on 2 cores)::

    python3 -m uv run --frozen --all-extras pytest tests/reliability --run-slow -q
    # or: MLGIT_SLOW=1 python3 -m uv run --frozen --all-extras pytest tests/reliability -q
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the long reliability trials (marked slow); or set MLGIT_SLOW=1",
    )


def run_slow(config: pytest.Config) -> bool:
    return bool(config.getoption("--run-slow", default=False)) or os.environ.get("MLGIT_SLOW", "") not in (
        "",
        "0",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if run_slow(config):
        return
    skip = pytest.mark.skip(reason="long trial: run with --run-slow or MLGIT_SLOW=1")
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if "slow" in item.keywords and str(item.path).startswith(here):
            item.add_marker(skip)
