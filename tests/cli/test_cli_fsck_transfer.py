"""``fsck`` (--full, never initialized), ``remote-fsck`` (--thorough/--paranoid/--full/--retry),
``push --retry --clearonfail``, ``export``, ``import``."""

from __future__ import annotations

from pathlib import Path

from helpers import Cli, write

from mlgit import Repository


def test_fsck_on_a_type_never_initialized_errors(tmp_path: Path, cli: Cli) -> None:
    cli("repository init", cwd=tmp_path)
    res = cli("labels fsck", ok=False, cwd=tmp_path)
    assert res.exit_code == 1 and "doesn't have been initialized" in res.output


def test_fsck_full_lists_and_fix_workspace_accepted(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 100})
    objects = Repository(ws)._objects("datasets")
    victim = next(iter(objects))
    objects.path(victim).chmod(0o644)
    objects.path(victim).write_bytes(b"junk")
    out = cli("datasets fsck --full --fix-workspace", cwd=ws).output
    assert "[1] corrupted file(s) in Local Repository" in out and f"    {victim}" in out


def test_remote_fsck_thorough_restores_descriptors(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 300_000})
    objects = Repository(ws)._objects("datasets")
    descriptors = [c for c in objects if objects.path(c).stat().st_size < 1000]
    for cid in descriptors:
        objects.remove(cid)
    out = cli("datasets remote-fsck ds --thorough --retry=3", cwd=ws).output
    assert "missing descriptor files detected" in out
    assert all(objects.exists(c) for c in descriptors)
    out = cli("datasets remote-fsck ds --paranoid --full", cwd=ws).output
    assert "Paranoid mode is active" in out and "[0] corrupted object(s) in the storage" in out


def test_push_accepts_retry_and_clearonfail(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a"}, push=False)
    out = cli("datasets push ds --retry=5 --clearonfail", cwd=ws).output
    assert "Pushed datasets ds cat__ds__1" in out
    assert cli("datasets push ds --retry=-1", ok=False, cwd=ws).exit_code == 2


def test_export_to_another_bucket(tmp_path: Path, cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 300_000, "data/b": b"b"})
    cli(f"repository storage add other --type=local --path={tmp_path / 'other'}", cwd=ws)
    out = cli("datasets export cat__ds__1 other", cwd=ws).output
    assert "Exported cat__ds__1: 5 object(s) written to other" in out
    assert sorted(p.name for p in (tmp_path / "other").rglob("z*")) == sorted(
        p.name for p in (tmp_path / "bucket").rglob("z*")
    )


def test_import_from_a_bucket_folder(tmp_path: Path, cli: Cli, ws: Path) -> None:
    src = tmp_path / "plain"
    write(src / "images" / "x.png", b"x")
    write(src / "images" / "sub" / "y.png", b"y")
    write(src / "other.txt", b"o")
    cli(f"repository storage add plain --type=local --path={src}", cwd=ws)
    out = cli("datasets import plain imported --path=images", cwd=ws).output
    assert "Imported 2 file(s)" in out
    assert (ws / "datasets" / "imported" / "images" / "sub" / "y.png").read_bytes() == b"y"
    cli("datasets import plain single --object=other.txt", cwd=ws)
    assert (ws / "datasets" / "single" / "other.txt").read_bytes() == b"o"
    assert cli("datasets import plain x", ok=False, cwd=ws).exit_code == 1  # neither --path nor --object
    assert cli("datasets import plain ../escape --object=other.txt", ok=False, cwd=ws).exit_code == 1


def test_fsck_prints_ml_gits_summary_for_corrupted_and_missing(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 100})
    out = cli("datasets fsck", cwd=ws).output
    assert "Total of corrupted files detected: 0. \n" in out
    assert "Total of missing files detected: 0. \n" in out
    assert "Total of fixed files (corrupted and missing): 0. \n" in out
    objects = Repository(ws)._objects("datasets")
    (cid,) = list(objects)
    objects.path(cid).chmod(0o644)
    objects.path(cid).write_bytes(b"corrupting file")
    out = cli("datasets fsck", cwd=ws).output
    assert "Total of corrupted files detected: 1. " in out and "Total of missing files detected: 0. " in out
    assert "Total of fixed files (corrupted and missing): 1. " in out
    objects.remove(cid)
    out = cli("datasets fsck", cwd=ws).output
    assert "Total of corrupted files detected: 0. " in out and "Total of missing files detected: 1. " in out
    assert "Total of fixed files (corrupted and missing): 1. " in out
    assert objects.exists(cid)


def test_remote_fsck_prints_ml_gits_counts(tmp_path: Path, cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 100})
    objects = Repository(ws)._objects("datasets")
    (descriptor,) = list(objects)
    bucket = tmp_path / "bucket"
    (blob,) = [p.name for p in bucket.iterdir() if p.name != descriptor]
    (bucket / blob).unlink()
    out = cli("datasets remote-fsck ds --full", cwd=ws).output
    assert "INFO - MLGit: remote-fsck -- fixed   : ipld[0] / blob[1]" in out
    assert "INFO - MLGit: remote-fsck -- total verified : ipld[1] / blob[1]" in out
    assert f"Blobs fixed: ['{blob}']" in out and (bucket / blob).exists()
    objects.remove(descriptor)
    out = cli("datasets remote-fsck ds", cwd=ws).output
    assert "INFO - Local Repository: 1 missing descriptor files. Consider using the --thorough option." in out
    assert not objects.exists(descriptor)
    out = cli("datasets remote-fsck ds --thorough", cwd=ws).output
    assert "1 missing descriptor files detected. Download:" in out and objects.exists(descriptor)
