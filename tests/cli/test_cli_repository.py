"""``ml-git repository init|remote|storage|config|update|gc|graph`` and ``clone``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from helpers import Cli, make_remotes, write

from mlgit import Repository
from mlgit.cid import hash_file


def _config(root: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((root / ".ml-git" / "config.yaml").read_text())


def test_init_prints_ml_gits_line_and_writes_its_five_keys(tmp_path: Path, cli: Cli) -> None:
    out = cli("repository init", cwd=tmp_path).output
    assert f"INFO - Admin: Initialized empty ml-git repository in {tmp_path / '.ml-git'}" in out
    assert sorted(_config(tmp_path)) == ["batch_size", "datasets", "labels", "models", "storages"]
    again = cli("repository init", cwd=tmp_path).output
    assert "INFO - Admin: You already are in a ml-git repository" in again


def test_init_in_a_subfolder_or_inside_dot_ml_git_makes_no_nested_project(tmp_path: Path, cli: Cli) -> None:
    cli("repository init", cwd=tmp_path)
    sub = tmp_path / "datasets" / "x"
    sub.mkdir(parents=True)
    assert "You already are in a ml-git repository" in cli("repository init", cwd=sub).output
    assert not (sub / ".ml-git").exists()
    inner = tmp_path / ".ml-git"
    res = cli("repository init", ok=False, cwd=inner)
    assert res.exit_code == 1 and not (inner / ".ml-git").exists()


def test_remote_add_then_change_warns(tmp_path: Path, cli: Cli) -> None:
    cli("repository init", cwd=tmp_path)
    out = cli("repository remote datasets add /r/one.git", cwd=tmp_path).output
    assert "INFO - Admin: Add remote repository [/r/one.git] for [datasets]" in out
    assert "config push --help" in out
    again = cli("repository remote datasets add /r/two.git", cwd=tmp_path)
    assert "INFO - Admin: Changing remote from [/r/one.git] to [/r/two.git] for [datasets]" in again.output
    assert "YOU ALREADY HAS A CONFIGURED REMOTE" in again.output  # stderr, as ML-Git's log
    assert _config(tmp_path)["datasets"] == {"git": "/r/two.git"}


def test_remote_del(tmp_path: Path, cli: Cli, remotes: dict[str, str]) -> None:
    cli("repository init", cwd=tmp_path)
    cli(f"repository remote labels add {remotes['labels']}", cwd=tmp_path)
    cli("labels init", cwd=tmp_path)
    out = cli("repository remote labels del", cwd=tmp_path).output
    assert f"INFO - Admin: Removing remote repository [{remotes['labels']}] from [labels]." in out
    assert _config(tmp_path)["labels"] == {"git": ""}
    origin = subprocess.run(
        ["git", "-C", str(tmp_path / ".ml-git/labels/metadata"), "remote"], capture_output=True, text=True
    )
    assert origin.stdout.strip() == ""
    assert "Remote URL not found." in cli("labels update", ok=False, cwd=tmp_path).output
    err = cli("repository remote labels del", ok=False, cwd=tmp_path)
    assert "Remote URL not found for [labels]" in err.output


def test_storage_add_without_credentials_writes_nulls_and_del_keeps_the_section(
    tmp_path: Path, cli: Cli
) -> None:
    cli("repository init", cwd=tmp_path)
    out = cli("repository storage add mlgit-datasets", cwd=tmp_path).output
    assert "INFO - Admin: Add storage [s3h://mlgit-datasets]" in out
    assert _config(tmp_path)["storages"] == {
        "s3h": {
            "mlgit-datasets": {
                "aws-credentials": {"profile": None},
                "endpoint-url": None,
                "region": "us-east-1",
            }
        }
    }
    with_profile = cli(
        "repository storage add b2 --credentials=mlgit --endpoint-url=http://x:9000", cwd=tmp_path
    )
    assert "Add storage [s3h://b2] with creds from profile [mlgit]" in with_profile.output
    out = cli("repository storage del mlgit-datasets", cwd=tmp_path).output
    assert "INFO - Admin: Removed storage [s3h://mlgit-datasets] from configuration file." in out
    cli("repository storage del b2", cwd=tmp_path)
    assert _config(tmp_path)["storages"] == {"s3h": {}}
    assert cli("repository storage add b3 --credentials=", ok=False, cwd=tmp_path).exit_code == 2


def test_global_config_and_config_show_local_global(tmp_path: Path, cli: Cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    glob = tmp_path / "home" / ".mlgitconfig"
    monkeypatch.setenv("MLGIT_GLOBAL_CONFIG", str(glob))
    ws = tmp_path / "ws"
    ws.mkdir()
    cli("repository init", cwd=ws)
    cli("repository remote models add /global/models.git --global", cwd=ws)
    cli("repository storage add gbucket --credentials=team --global", cwd=ws)
    assert yaml.safe_load(glob.read_text())["models"] == {"git": "/global/models.git"}
    assert _config(ws)["models"] == {"git": ""}
    merged = cli("repository config show", cwd=ws).output
    assert "'git': '/global/models.git'" in merged and "'gbucket'" in merged
    local = cli("repository config show -l", cwd=ws).output
    assert "/global/models.git" not in local and local.startswith("config:\n")
    only_global = cli("repository config show -g", cwd=ws).output
    assert "'batch_size'" not in only_global and "/global/models.git" in only_global
    cli("repository remote models add /local/models.git", cwd=ws)
    assert "'git': '/local/models.git'" in cli("repository config show", cwd=ws).output
    cli("repository remote models del --global", cwd=ws)
    assert yaml.safe_load(glob.read_text())["models"] == {"git": ""}


def test_remote_config_add_and_config_push(tmp_path: Path, cli: Cli) -> None:
    bare = tmp_path / "config.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(bare)], check=True)
    ws = tmp_path / "ws"
    ws.mkdir()
    cli("repository init", cwd=ws)
    out = cli(f"repository remote config add {bare}", cwd=ws).output
    assert f"Adding remote to the initialized project [{bare}]" in out
    gitignore = (ws / ".gitignore").read_text().splitlines()
    assert gitignore == [
        "",
        ".ml-git/datasets",
        ".ml-git/models",
        ".ml-git/labels",
        "datasets",
        "labels",
        "models",
    ]
    out = cli("repository config push -m 'first config'", cwd=ws).output
    assert "INFO - Repository: Pushing config file to remote repository" in out
    assert f"Commit repo[{ws}] --- file[{ws / '.ml-git' / 'config.yaml'}]" in out
    shown = subprocess.run(
        ["git", "-C", str(bare), "show", "master:.ml-git/config.yaml"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "batch_size" in shown.stdout
    # nothing changed: nothing pushed, no message
    assert "Pushing" not in cli("repository config push", cwd=ws).output


def test_clone_writes_gitignore_and_untracked_drops_git(tmp_path: Path, cli: Cli, ws: Path) -> None:
    bare = tmp_path / "cfg.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(bare)], check=True)
    cli(f"repository remote config add {bare}", cwd=ws)
    cli("repository config push", cwd=ws)
    out_dir = tmp_path / "elsewhere"
    out_dir.mkdir()
    out = cli(f"clone {bare} tracked", cwd=out_dir).output
    assert "Successfully loaded configuration files!" in out
    assert (out_dir / "tracked" / ".git").is_dir()
    assert ".ml-git/datasets" in (out_dir / "tracked" / ".gitignore").read_text()
    assert (out_dir / "tracked" / ".ml-git" / "datasets" / "metadata" / ".git").exists()
    cli(f"clone {bare} loose --untracked", cwd=out_dir)
    assert not (out_dir / "loose" / ".git").exists()
    assert (out_dir / "loose" / ".ml-git" / "config.yaml").is_file()
    assert cli(f"clone {bare} tracked", ok=False, cwd=out_dir).exit_code == 1  # not empty
    assert cli(f"clone {bare} inside", ok=False, cwd=ws).exit_code == 1  # already in a project


def test_update_without_metadata_errors(tmp_path: Path, cli: Cli) -> None:
    cli("repository init", cwd=tmp_path)
    res = cli("repository update", ok=False, cwd=tmp_path)
    assert "You don't have any metadata initialized" in res.output


def test_gc_keeps_what_indexes_and_unpushed_versions_need(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 1000, "data/b": b"b" * 10})
    version("datasets", "ds", {"data/b": b"B" * 10}, push=False)  # unpushed v2 replaces b
    folder = ws / "datasets" / "ds"
    (folder / "data" / "b").unlink()
    (folder / "data" / "b").write_bytes(b"third")  # staged in no version: not referenced after the next add
    cli("datasets add ds", cwd=ws)
    out = cli("repository gc", cwd=ws).output
    assert "INFO - Repository: Starting the garbage collector for datasets" in out
    assert "files have been removed from" in out and "Total reclaimed space" in out
    # v1's b: pushed, in no index: removed. v2's b: unpushed: kept, so v2 still pushes
    objects = Repository(ws)._objects("datasets")
    assert not objects.exists(hash_file(write(ws / "probe1", b"b" * 10)).cid)
    assert objects.exists(hash_file(write(ws / "probe2", b"B" * 10)).cid)
    assert objects.exists(hash_file(write(ws / "probe3", b"a" * 1000)).cid)  # in the index
    out = cli("datasets push ds", cwd=ws).output
    assert "cat__ds__2" in out


def test_graph_dot(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    assert "No relationships were found" in cli("repository graph --dot", cwd=ws).output
    version("datasets", "ds", {"data/a": b"a"})
    version("models", "mdl", {"m": b"m"}, mutability="mutable", commit_args="--dataset=ds")
    out = cli("repository graph --dot", cwd=ws).output
    assert '"cat__mdl__1" -> "cat__ds__1"' in out and out.startswith("digraph {")
    saved = cli(f"repository graph --export-path={ws / 'out'}", cwd=ws).output
    assert "The relationship graph was saved in:" in saved
    assert "cat__mdl__1" in (ws / "out" / "entities_relationships.html").read_text()


def test_storage_and_remote_need_a_project(tmp_path: Path, cli: Cli) -> None:
    res = cli("repository storage add b", ok=False, cwd=tmp_path)
    assert "no .ml-git/config.yaml" in res.output
    write(tmp_path / "x", b"")
    assert make_remotes  # the helper stays importable for the other CLI tests
