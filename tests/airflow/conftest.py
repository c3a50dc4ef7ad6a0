"""Airflow test harness: a temporary SQLite AIRFLOW_HOME, migrated once per session (a copy of the template),
connections given as AIRFLOW_CONN_* JSON, git identity from the environment (never $HOME).

The environment is set when this module is imported, which pytest does before any test module of
this folder imports Airflow: Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import EXAMPLES, ROOT, TEST_DAGS, connection_json  # noqa: F401 - re-exported
from helpers import copy_sqlite


def _prepare_airflow_env() -> Path:
    if "airflow" in sys.modules:
        pytest.exit(
            "airflow was imported before tests/airflow/conftest.py could point AIRFLOW_HOME at a "
            "temporary folder; run tests/airflow in its own pytest process",
            returncode=3,
        )
    home = Path(tempfile.mkdtemp(prefix="mlgit-airflow-home-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    bundles = [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path), "refresh_interval": 0},
        }
        for name, path in (("mlgit-examples", EXAMPLES), ("mlgit-tests", TEST_DAGS))
    ]
    gitconfig = home / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = master\n")
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(home / "openlineage.jsonl"), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "mlgit-tests",
            "GIT_AUTHOR_NAME": "mlgit tests",
            "GIT_AUTHOR_EMAIL": "tests@mlgit.invalid",
            "GIT_COMMITTER_NAME": "mlgit tests",
            "GIT_COMMITTER_EMAIL": "tests@mlgit.invalid",
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    for key in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
        del os.environ[key]
    return home


AIRFLOW_HOME = _prepare_airflow_env()


@pytest.fixture(scope="session")
def airflow_db(airflow_template_db: Path) -> Path:
    """The temporary metadata database, migrated: a copy of the session's template (tests/conftest.py)."""
    copy_sqlite(airflow_template_db, AIRFLOW_HOME / "airflow.db")
    return AIRFLOW_HOME


@pytest.fixture
def openlineage_events() -> Callable[[], list[dict[str, Any]]]:
    """The OpenLineage events the file transport wrote since the test started."""
    path = AIRFLOW_HOME / "openlineage.jsonl"
    start = path.stat().st_size if path.exists() else 0

    def read() -> list[dict[str, Any]]:
        if not path.exists():
            return []
        with path.open() as fh:
            fh.seek(start)
            return [json.loads(line) for line in fh if line.strip()]

    return read


@pytest.fixture
def git_remotes(tmp_path: Path) -> dict[str, str]:
    """One bare metadata repository per entity type, as a team would have on its git server."""
    remotes = {}
    for entity_type in ("datasets", "labels", "models"):
        path = tmp_path / "remotes" / f"{entity_type}.git"
        subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True)
        remotes[entity_type] = str(path)
    return remotes


@pytest.fixture
def local_storage(tmp_path: Path) -> dict[str, Any]:
    bucket_dir = tmp_path / "bucket"
    bucket_dir.mkdir()
    return {"storage_type": "local", "bucket": "mlgit-local", "storage_path": str(bucket_dir)}


@pytest.fixture
def mlgit_conn(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    git_remotes: dict[str, str],
    local_storage: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """`mlgit_default` on a fresh workspace, local storage, bare git remotes."""
    workspace = tmp_path / "workspace"
    monkeypatch.setenv("AIRFLOW_CONN_MLGIT_DEFAULT", connection_json(workspace, git_remotes, local_storage))
    yield {"workspace": workspace, "remotes": git_remotes, "storage": local_storage}
