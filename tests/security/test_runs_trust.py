"""Run folders (``mlgit.runs``): the per-host bare mirror and the run clones are made by mlgit's own git
calls, so they get the same URL checks, transports and redaction as every other git call (SECURITY.md):
a remote given to a pipeline (an Airflow connection, a Prefect block, a cloned project's config) cannot
run a command, and a token in it is never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Project

from mlgit import MetadataError, UnsafeRemote, runs


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch {marker}",
        "-c core.sshCommand=touch {marker}",
        "ext::sh -c touch% {marker}",
        "fd::7",
    ],
)
def test_run_folder_remote_that_would_run_code_is_refused(tmp_path: Path, url: str) -> None:
    marker = tmp_path / "pwned"
    host = tmp_path / "host"
    with pytest.raises(UnsafeRemote, match="git URL") as err:
        runs.prepare(host, "run-1", {"datasets": url.format(marker=marker)})
    assert "\n" not in str(err.value)
    assert not marker.exists()
    assert not (host / "mirror" / "datasets.git").exists()


def test_run_folder_mirror_never_shows_a_token(tmp_path: Path) -> None:
    token = "ghp_do_not_leak_0123456789"
    with pytest.raises(MetadataError) as err:
        runs.prepare(tmp_path / "host", "run-1", {"datasets": f"https://ci:{token}@127.0.0.1:9/x.git"})
    assert token not in str(err.value), err.value
    assert "git clone" in str(err.value) and "\n" not in str(err.value)


def test_run_folder_of_a_real_remote_still_works(project: Project, tmp_path: Path) -> None:
    run = runs.prepare(tmp_path / "host", "run-1", {"datasets": project.remotes["datasets"]})
    assert (run.path / ".ml-git" / "datasets" / "metadata" / ".git").exists()
