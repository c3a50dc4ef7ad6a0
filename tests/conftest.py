"""Shared fixtures: a git identity that never touches $HOME, bare remotes, a project on local storage."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from helpers import Cli, Project, make_project, make_remotes

pytest_plugins = [p for p in ("s3server", "sftpserver", "azurite") if importlib.util.find_spec(p)]

#: folders whose tests share an expensive session server (Airflow's migrated db, the ephemeral Prefect API,
#: Azurite and sshd) or load the machine (the reliability races): under ``pytest -n`` each folder is one unit
#: of work, run on one worker, so its server starts once and its races do not race each other. Their ``unit/``
#: subfolders (no server: the hook or the block is the seam) are spread like any other test.
XDIST_GROUPS = ("airflow", "prefect", "reliability", "storage")
#: modules of those folders that share no server with the rest of the folder and are a unit of their own
#: (their tests still run one after the other on one worker): the S3 faults start, kill and freeze servers of
#: their own and mostly wait out timeouts; the TLS tests start a SeaweedFS of their own
OWN_GROUP = (
    "tests/storage/test_s3_faults.py",
    "tests/storage/test_s3_checkout_faults.py",
    "tests/storage/test_s3_tls.py",
)
#: seconds each unit of work took on one worker (``pytest --durations=0``, 2 workers, quiet, 2026-11-27 18:17; the
#: S3 fault and TLS modules from ``--durations=25`` at 21:37; only their order matters). The units are handed out longest first, so that the short ones fill the gaps at
#: the end (longest-processing-time-first); any other unit counts 1 s a test.
UNIT_SECONDS = {
    "tests/distributed/test_airflow_distributed.py": 90,
    "prefect": 86,
    "storage": 83,
    "reliability": 60,
    "tests/storage/test_s3_faults.py": 90,
    "tests/storage/test_s3_checkout_faults.py": 75,
    "tests/storage/test_s3_tls.py": 15,
    "tests/distributed/test_prefect_distributed.py": 40,
    "airflow": 39,
}


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than CPUs. Many tests wait on servers of their own (Airflow and Prefect
    processes, SeaweedFS, sshd, Azurite), so CPUs idle while every worker waits; the suite took 4:37 with 2
    workers and 4:03 with 3 on this 2-CPU machine (quiet, 2026-11-27)."""
    return len(os.sched_getaffinity(0)) + 1


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup`` with the groups above. Not ``xdist_group`` marks: pytest-xdist 3.8 drops them
    silently under pytest 9.2 (it rewrites ``item._nodeid``, which pytest no longer reads: xdist #1386)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FolderGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/")
            if len(parts) > 3 and parts[0] == "tests" and parts[1] in XDIST_GROUPS and parts[2] == "unit":
                return super()._split_scope(nodeid)  # fast, no session server: any worker may take them
            module = nodeid.split("::")[0]
            if module in OWN_GROUP:
                return module
            if len(parts) > 2 and parts[0] == "tests" and parts[1] in XDIST_GROUPS:
                return parts[1]
            if len(parts) > 2 and parts[0] == "tests" and parts[1] == "distributed":
                return module  # one module, one cluster, one worker
            return super()._split_scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not getattr(self, "_longest_first", False):  # the first assignment: the queue is complete
                self._longest_first = True
                units = sorted(
                    self.workqueue.items(), key=lambda unit: -UNIT_SECONDS.get(unit[0], len(unit[1]))
                )
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return FolderGroups(config, log)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    gitconfig = tmp_path_factory.getbasetemp() / "gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text("[init]\n\tdefaultBranch = master\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("MLGIT_GLOBAL_CONFIG", str(tmp_path_factory.getbasetemp() / "mlgitconfig-unset"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "mlgit tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@mlgit.invalid")


@pytest.fixture
def remotes(tmp_path: Path) -> dict[str, str]:
    return make_remotes(tmp_path / "remotes")


@pytest.fixture
def project(tmp_path: Path, remotes: dict[str, str]) -> Project:
    return make_project(tmp_path / "ws", remotes, tmp_path / "bucket")


@pytest.fixture
def second(tmp_path: Path, project: Project) -> Project:
    """Another workspace on the same remotes and bucket (another worker, another machine)."""
    return make_project(tmp_path / "ws2", project.remotes, project.bucket)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    yield Cli(tmp_path)


@pytest.fixture(scope="session")
def airflow_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata database (SQLite) that ``airflow db migrate`` made once per test session, for
    every xdist worker (the first to ask migrates, under a lock; the others wait for it): copy it, do not
    open it. Migrating takes 10-40 s; nothing in it depends on the DAG bundles or connections."""
    if importlib.util.find_spec("airflow") is None:
        pytest.skip("needs the airflow extra: pip install 'mlgit[airflow]'")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' basetemps are folders of the session's
    home = shared / "airflow-template"
    db = home / "airflow.db"
    with FileLock(str(shared / "airflow-template.lock")):
        if not (home / "migrated").exists():
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
            env.update(
                {
                    "AIRFLOW_HOME": str(home),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
                }
            )
            proc = subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if proc.returncode != 0:
                pytest.fail(f"airflow db migrate failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
            (home / "migrated").touch()
    return db
