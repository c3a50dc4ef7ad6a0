"""``<type> add|status|commit``: strict replacement, restored bytes, in-place changes, paths,
metrics checked first, .mlgitignore."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from helpers import Cli, write

from mlgit import Repository


def _strict(cli: Cli, ws: Path) -> Path:
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    folder = ws / "datasets" / "ds"
    write(folder / "data" / "a", b"first")
    write(folder / "data" / "b", b"bee")
    cli("datasets add ds", cwd=ws)
    cli("datasets commit ds", cwd=ws)
    return folder


def test_strict_delete_and_rewrite_same_name_is_accepted(cli: Cli, ws: Path) -> None:
    folder = _strict(cli, ws)
    (folder / "data" / "a").unlink()
    write(folder / "data" / "a", b"regenerated")
    status = cli("datasets status ds", cwd=ws).output
    assert "corrupted files\n" in status and "    data/a" in status.split("corrupted files")[0]
    cli("datasets add ds --bumpversion", cwd=ws)
    cli("datasets commit ds", cwd=ws)
    cli("datasets push ds", cwd=ws)
    assert "Total of corrupted files: 0" in cli("datasets fsck", cwd=ws).output


def test_strict_file_changed_then_restored_is_accepted(cli: Cli, ws: Path) -> None:
    folder = _strict(cli, ws)
    target = folder / "data" / "a"
    os.chmod(target, 0o644)
    target.write_bytes(b"other")  # in place: the cache's copy changes too
    assert "    data/a" in cli("datasets status ds", cwd=ws).output.split("corrupted files")[1]
    refused = cli("datasets add ds", ok=False, cwd=ws)
    assert "changed in place" in refused.output
    target.write_bytes(b"first")  # restored: same bytes, new mtime
    status = cli("datasets status ds", cwd=ws).output
    assert status.rstrip().endswith("corrupted files")
    cli("datasets add ds", cwd=ws)


def test_add_only_the_given_paths(cli: Cli, ws: Path) -> None:
    folder = _strict(cli, ws)
    write(folder / "data" / "new1", b"1")
    write(folder / "extra" / "new2", b"2")
    out = cli("datasets add ds data", cwd=ws).output
    assert "has been automatically added" not in out  # the entity has a version already
    status = cli("datasets status ds", cwd=ws).output
    assert "new file:   data/new1" in status and "untracked files\n    extra/new2" in status
    assert "data/a" not in status  # still staged, not deleted


def test_status_directory_argument(cli: Cli, ws: Path) -> None:
    folder = _strict(cli, ws)
    write(folder / "data" / "x", b"1")
    write(folder / "other" / "y", b"2")
    out = cli("datasets status ds other --full", cwd=ws).output
    assert "other/y" in out and "data/x" not in out


def test_metric_is_checked_before_the_index(cli: Cli, ws: Path) -> None:
    cli(
        "models create m --categories=c --mutability=mutable --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    write(ws / "models" / "m" / "w.bin", b"w")
    index = ws / ".ml-git" / "models" / "index" / "metadata" / "m" / "INDEX.yaml"
    bad = cli("models add m --metric accuracy high", ok=False, cwd=ws)
    assert bad.exit_code in (1, 2) and not index.exists()
    res = cli("models add m --metrics-file=", ok=False, cwd=ws)
    assert res.exit_code == 2 and not index.exists()
    cli(
        "datasets create d --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    write(ws / "datasets" / "d" / "f", b"f")
    assert cli("datasets add d --metric a 1", ok=False, cwd=ws).exit_code == 2  # no such option, as ML-Git
    assert not (ws / ".ml-git" / "datasets" / "index" / "metadata" / "d" / "INDEX.yaml").exists()


def test_commit_empty_links_refused(cli: Cli, ws: Path) -> None:
    _strict(cli, ws)
    cli(
        "labels create l --categories=c --mutability=mutable --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    write(ws / "labels" / "l" / "x", b"x")
    cli("labels add l", cwd=ws)
    assert cli("labels commit l --dataset=", ok=False, cwd=ws).exit_code == 2
    out = cli("labels commit l --dataset=ds", cwd=ws).output
    assert "INFO - Metadata: Associate datasets [ds]-[c__ds__1] to the labels." in out
    assert "INFO - Metadata Manager: Commit repo[" in out and "--- file[l]" in out


def test_mlgitignore_is_honoured_and_versioned(tmp_path: Path, cli: Cli, ws: Path) -> None:
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    folder = ws / "datasets" / "ds"
    write(folder / ".mlgitignore", b"*.log\ntmp/\n")
    write(folder / "data" / "keep.bin", b"k")
    write(folder / "data" / "run.log", b"l")
    write(folder / "tmp" / "scratch", b"s")
    status = cli("datasets status ds", cwd=ws).output
    assert "run.log" not in status and "scratch" not in status and ".mlgitignore" not in status
    cli("datasets add ds", cwd=ws)
    cli("datasets commit ds", cwd=ws)
    cli("datasets push ds", cwd=ws)
    md = Repository(ws).metadata("datasets")
    assert md.show("c__ds__1", "ds/.mlgitignore") == b"*.log\ntmp/\n"
    manifest = yaml.safe_load(md.show("c__ds__1", "ds/MANIFEST.yaml"))
    assert sorted(p for paths in manifest.values() for p in paths) == ["data/keep.bin"]


def test_write_chunks_puts_chunks_where_ml_git_expects_them(cli: Cli, ws: Path) -> None:
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    write(ws / "datasets" / "ds" / "big", b"z" * 300_000)  # two chunks
    cli("datasets add ds", cwd=ws)
    objects = Repository(ws)._objects("datasets")
    assert len(list(objects)) == 1  # ours: the descriptor only, chunks cut from the cache at push
    config = ws / ".ml-git" / "config.yaml"
    config.write_text(config.read_text() + "write_chunks: true\n")
    write(ws / "datasets" / "ds" / "big2", b"y" * 300_000)
    cli("datasets add ds", cwd=ws)
    assert len(list(objects)) == 1 + 3  # + the second file's descriptor and its two chunks


def test_new_entity_without_mutability_is_refused(cli: Cli, ws: Path) -> None:
    folder = ws / "datasets" / "old"
    write(
        folder / "old.spec",
        b"dataset:\n  categories: [c]\n  manifest: {storage: local://bucket}\n  name: old\n  version: 1\n",
    )
    write(folder / "f", b"f")
    res = cli("datasets add old", ok=False, cwd=ws)
    assert "expected a 'mutability'" in res.output
    assert not (ws / ".ml-git" / "datasets" / "index" / "metadata" / "old" / "INDEX.yaml").exists()


def test_add_and_commit_fsck_run_after(cli: Cli, ws: Path) -> None:
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    write(ws / "datasets" / "ds" / "f", b"f")
    assert (
        "INFO - Repository: fsck: 0 corrupted file(s) found" in cli("datasets add ds --fsck", cwd=ws).output
    )
    assert "fsck: 0 corrupted" in cli("datasets commit ds --fsck", cwd=ws).output
    assert cli("datasets tag list ds", cwd=ws).output.split() == ["c__ds__1"]


def test_first_add_of_paths_says_the_spec_was_added(cli: Cli, ws: Path) -> None:
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    write(ws / "datasets" / "ds" / "data" / "file1", b"1")
    write(ws / "datasets" / "ds" / "data" / "file2", b"2")
    out = cli("datasets add ds data/file1", cwd=ws).output
    assert "INFO - Repository: File ds.spec has been automatically added to staged files." in out
    assert "datasets adding path" in out
    out = cli("datasets add ds data", cwd=ws).output
    assert "automatically added" not in out


def test_commit_without_add(cli: Cli, ws: Path) -> None:
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    res = cli("datasets commit ds", ok=False, cwd=ws)
    assert (
        'Nothing to commit (create/add files and use "ml-git datasets add" command to track them)'
        in res.output
    )


def test_outside_a_project(tmp_path: Path, cli: Cli) -> None:
    res = cli("repository remote datasets add /x.git", ok=False, cwd=tmp_path)
    assert "You are not in an initialized ml-git repository" in res.output
    assert not (tmp_path / ".ml-git").exists()


def test_status_counts_unpublished_commits(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"a": b"a"}, push=False)
    out = cli("datasets status ds", cwd=ws).output
    assert (
        'Your ds has 1 commit to be published.\n  (use "ml-git datasets push ds" to publish your local commits)'
        in out
    )
    cli("datasets push ds", cwd=ws)
    assert (
        "Your ds has no commits to be published.\nChanges to be committed"
        in cli("datasets status ds", cwd=ws).output
    )


def test_a_symlinked_mlgitignore_is_refused(tmp_path: Path, cli: Cli, ws: Path) -> None:
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    secret = write(tmp_path / "secret", b"*\n")
    os.symlink(secret, ws / "datasets" / "ds" / ".mlgitignore")
    write(ws / "datasets" / "ds" / "f", b"f")
    res = cli("datasets add ds", ok=False, cwd=ws)
    assert res.exit_code == 1 and "symlink" in res.output
    (ws / "datasets" / "ds" / ".mlgitignore").unlink()  # inside the entity folder: still never followed
    write(ws / "datasets" / "ds" / "rules", b"*\n")
    os.symlink(ws / "datasets" / "ds" / "rules", ws / "datasets" / "ds" / ".mlgitignore")
    res = cli("datasets add ds", ok=False, cwd=ws)
    assert res.exit_code == 1 and ".mlgitignore" in res.output and "is a symlink" in res.output
