"""Fixtures for the Prefect integration: one ephemeral Prefect API for the whole session.

Prefect reads its settings when it is first imported, so its environment is set here, at
collection time, before anything below imports ``prefect``; ``$HOME`` is never touched. The git
identity comes from the root conftest (``git_identity``, autouse).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="mlgit-prefect-home-"))
os.environ.update(
    {
        "PREFECT_HOME": str(_PREFECT_HOME),
        "PREFECT_PROFILES_PATH": str(_PREFECT_HOME / "profiles.toml"),
        "PREFECT_LOCAL_STORAGE_PATH": str(_PREFECT_HOME / "storage"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_API_URL": "",
    }
)

pytest.importorskip("prefect", reason="needs the prefect extra: pip install 'mlgit[prefect]'")

from mlgit_prefect import MLGitCredentials, MLGitRepository  # noqa: E402
from prefect.settings import (  # noqa: E402
    PREFECT_API_URL,
    PREFECT_HOME,
    PREFECT_LOCAL_STORAGE_PATH,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    temporary_settings,
)
from prefect_reads import ACCESS_KEY, SECRET, HowtoWorld, howto  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The URL of one ephemeral Prefect API, shared by every test (it takes ~30 s to start)."""
    # imported here: the server's modules take seconds to import, and under ``pytest -n`` every worker
    # collects this folder while one runs it
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(
        updates={
            PREFECT_HOME: _PREFECT_HOME,
            PREFECT_LOCAL_STORAGE_PATH: _PREFECT_HOME / "storage",
            PREFECT_SERVER_ANALYTICS_ENABLED: False,
        }
    ):
        with prefect_test_harness(server_startup_timeout=180):
            yield str(PREFECT_API_URL.value())
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def examples() -> Iterator[Callable[[str], ModuleType]]:
    """Import a module of ``flows_examples/`` the way a user runs it (its folder on ``sys.path``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLES))
        yield importlib.import_module
    for name in (
        "common",
        "sample_data",
        "dataset_flow",
        "labels_flow",
        "training_flow",
        "integrity_flow",
        "quickstart",
    ):
        sys.modules.pop(name, None)


@pytest.fixture
def sample(tmp_path: Path, examples: Callable[[str], ModuleType]) -> Path:
    """The toy dataset of the examples: ``data/points.csv`` and ``annotations/labels.csv``."""
    return Path(examples("sample_data").write_points(tmp_path / "sample"))


@pytest.fixture
def credentials_name(prefect_api: str) -> str:
    name = f"keys-{uuid.uuid4().hex[:8]}"
    MLGitCredentials(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET).save(name)
    return name


def _save_local_block(name: str, base: Path, remotes: dict[str, str], credentials_name: str) -> None:
    """Save an MLGitRepository block ``name``: workspace and buckets under ``base`` (local storage), the
    bare git remotes ``remotes``, the MLGitCredentials block ``credentials_name``."""
    MLGitRepository(
        workspace=str(base / "workspace"),
        datasets_remote=remotes["datasets"],
        labels_remote=remotes["labels"],
        models_remote=remotes["models"],
        storage_type="local",
        bucket="mlgit-datasets",
        buckets={"labels": "mlgit-labels", "models": "mlgit-models"},
        storage_path=str(base / "buckets"),
        credentials=MLGitCredentials.load(credentials_name),
    ).save(name)


@pytest.fixture
def local_block(prefect_api: str, tmp_path: Path, remotes: dict[str, str], credentials_name: str) -> str:
    """A saved MLGitRepository block on a local storage and bare git remotes; returns its name."""
    name = f"repo-{uuid.uuid4().hex[:8]}"
    _save_local_block(name, tmp_path, remotes, credentials_name)
    return name


@pytest.fixture(scope="module")
def howto_world(
    prefect_api: str, examples: Callable[[str], ModuleType], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HowtoWorld]:
    base = tmp_path_factory.mktemp("howto")
    with pytest.MonkeyPatch.context() as mp:
        (base / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n")
        mp.setenv("GIT_CONFIG_GLOBAL", str(base / "gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for role in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"GIT_{role}_NAME", "mlgit tests")
            mp.setenv(f"GIT_{role}_EMAIL", "tests@mlgit.invalid")
        remotes = {}
        for et in ("datasets", "labels", "models"):
            remotes[et] = str(base / "remotes" / f"{et}.git")
            subprocess.run(
                ["git", "init", "-q", "--bare", "--initial-branch=master", remotes[et]], check=True
            )
        keys = f"keys-{uuid.uuid4().hex[:8]}"
        MLGitCredentials(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET).save(keys)
        block = f"howto-{uuid.uuid4().hex[:8]}"
        _save_local_block(block, base, remotes, keys)
        sample = Path(examples("sample_data").write_points(base / "sample"))
        yield HowtoWorld(block, remotes, sample, howto(examples, sample, block))
