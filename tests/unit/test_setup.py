"""``mlgit.verbs.setup.ensure_workspace`` (``Repository.setup``): the one workspace setup of the Airflow
hook, the Prefect block and ``mlgit demo``: under a file lock, the config written only when it changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlgit import ConfigError, Repository, StorageSpec, WorkspaceSetup
from mlgit import config as cfg
from mlgit.verbs.setup import ensure_workspace


@pytest.fixture
def wanted(tmp_path: Path) -> WorkspaceSetup:
    remotes = {}
    for et in ("datasets", "labels"):
        remotes[et] = str(tmp_path / "remotes" / f"{et}.git")
        subprocess.run(["git", "init", "-q", "--bare", remotes[et]], check=True)
    return WorkspaceSetup(
        remotes=remotes,
        storages=[
            StorageSpec("b1", "local", path=str(tmp_path / "bucket")),
            StorageSpec("b2", "s3h", region="eu-west-1"),
        ],
        git_author_name="Pipeline Bot",
        git_author_email="bot@example.invalid",
    )


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_a_fresh_workspace_holds_remotes_storages_clones_and_identity(
    tmp_path: Path, wanted: WorkspaceSetup
) -> None:
    repo = Repository.setup(tmp_path / "ws", wanted)
    config = cfg.load_local(repo.root)
    assert config["datasets"]["git"] == wanted.remotes["datasets"]
    assert config["storages"] == {
        "local": {"b1": {"path": str(tmp_path / "bucket")}},
        "s3h": {"b2": {"aws-credentials": {"profile": None}, "region": "eu-west-1", "endpoint-url": None}},
    }
    assert (tmp_path / "bucket").is_dir()
    for et in ("datasets", "labels"):
        md = repo.metadata(et)
        assert md.remote_url() == wanted.remotes[et]
        assert md.git("config", "user.name").strip() == "Pipeline Bot"
    assert not repo.metadata("models").exists  # no remote given: no clone


def test_a_second_setup_with_the_same_settings_writes_nothing(tmp_path: Path, wanted: WorkspaceSetup) -> None:
    Repository.setup(tmp_path / "ws", wanted)
    config = cfg.config_path(tmp_path / "ws")
    clone_config = tmp_path / "ws" / ".ml-git" / "datasets" / "metadata" / ".git" / "config"
    before = _stamp(config), _stamp(clone_config)
    time.sleep(0.01)  # a rewrite would show in the mtime even where inodes are reused
    assert ensure_workspace(tmp_path / "ws", wanted) is False
    Repository.setup(tmp_path / "ws", wanted)
    assert (_stamp(config), _stamp(clone_config)) == before


def test_a_changed_setting_is_written_and_the_rest_of_the_config_kept(
    tmp_path: Path, wanted: WorkspaceSetup
) -> None:
    repo = Repository.setup(tmp_path / "ws", wanted)
    repo.set_config("batch_size", 7)  # a user's own setting
    before = _stamp(cfg.config_path(repo.root))
    moved = WorkspaceSetup(
        remotes={**wanted.remotes, "labels": wanted.remotes["datasets"]},
        storages=[StorageSpec("b2", "s3h", region="us-east-2")],
    )
    assert ensure_workspace(repo.root, moved) is True
    config = cfg.load_local(repo.root)
    assert _stamp(cfg.config_path(repo.root)) != before
    assert config["batch_size"] == 7 and config["labels"]["git"] == wanted.remotes["datasets"]
    assert config["storages"]["s3h"]["b2"]["region"] == "us-east-2" and "b1" in config["storages"]["local"]
    assert repo.metadata("labels").remote_url() == wanted.remotes["datasets"]


def test_bad_settings_are_refused_before_anything_is_written(tmp_path: Path, wanted: WorkspaceSetup) -> None:
    inside = WorkspaceSetup(
        storages=[StorageSpec("b", "local", path=str(tmp_path / "ws" / "datasets" / "b"))]
    )
    with pytest.raises(ConfigError, match="inside its .ml-git or an entity folder"):
        Repository.setup(tmp_path / "ws", inside)
    with pytest.raises(ConfigError, match="storage type: expected local, s3h, sftph or azureblobh"):
        Repository.setup(tmp_path / "ws", WorkspaceSetup(storages=[StorageSpec("b", "ftp")]))
    assert not (tmp_path / "ws" / ".ml-git").exists()


SETUP = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import mlgit.config as cfg
    from mlgit import Repository, StorageSpec, WorkspaceSetup

    save = cfg.save
    def counted(root, data):  # the real save, and one line per write in a log both processes append to
        with open(sys.argv[2], "a") as log:
            log.write(f"{os.getpid()}\\n")
        time.sleep(0.3)  # a slow disk: without the lock the other process would find no config yet
        save(root, data)
    cfg.save = counted

    start = Path(sys.argv[3])
    Path(f"{start}.{os.getpid()}").touch()  # ready: imports done
    while not start.exists():
        time.sleep(0.005)
    wanted = WorkspaceSetup(
        remotes={"datasets": sys.argv[4]},
        storages=[StorageSpec("b1", "local", path=sys.argv[5])],
        git_author_name="Pipeline Bot",
    )
    repo = Repository.setup(sys.argv[1], wanted)
    print(repo.metadata("datasets").remote_url())
    """
)


def test_two_processes_setting_up_one_workspace_at_once_write_its_config_once(
    tmp_path: Path, wanted: WorkspaceSetup
) -> None:
    ws, log, start = tmp_path / "ws", tmp_path / "saves.log", tmp_path / "start"
    args = [str(ws), str(log), str(start), wanted.remotes["datasets"], str(tmp_path / "bucket")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SETUP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("start.*"))) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)  # both have imported mlgit and wait for the start file
    start.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == [wanted.remotes["datasets"]] * 2
    assert len(log.read_text().splitlines()) == 1  # one process wrote it; the other found it done
    assert cfg.load_local(ws)["datasets"]["git"] == wanted.remotes["datasets"]


def test_a_cli_setting_repeated_unchanged_does_not_rewrite_the_config(
    tmp_path: Path, wanted: WorkspaceSetup
) -> None:
    repo = Repository.init(tmp_path / "ws")
    repo.remote_add("datasets", wanted.remotes["datasets"])
    repo.storage_add("b2", "s3h", region="eu-west-1")
    before = _stamp(cfg.config_path(repo.root))
    time.sleep(0.01)
    repo.remote_add("datasets", wanted.remotes["datasets"])
    repo.storage_add("b2", "s3h", region="eu-west-1")
    assert _stamp(cfg.config_path(repo.root)) == before
    repo.storage_add("b2", "s3h", region="eu-west-2")
    assert _stamp(cfg.config_path(repo.root)) != before
