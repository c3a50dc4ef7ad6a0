"""The CLI parity verbs that read what others wrote (import, tag add).

``<type> import BUCKET DIR`` copies a bucket's plain files into the workspace: whoever writes the bucket
chooses the keys, and what they are on disk (a symlink to the victim's credentials, a FIFO, a file and a
folder of the same name). Imported files are then committed and pushed, often to a bucket the same
people read: importing a secret is exfiltrating it. Every case: one clear line, exit 1, nothing read
through a symlink, nothing written outside the workspace, bounded time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import Cli, make_remotes, write
from s3server import S3Bucket, make_bucket

from mlgit.verbs import importer

SECRET = b"aws_secret_access_key = the victim's own\n"


def one_line(out: str) -> str:
    out = out.strip()
    assert out.count("\n") == 0 and "Traceback" not in out and "internal error" not in out, out
    return out


@pytest.fixture
def ws(tmp_path: Path, cli: Cli) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    cli("repository init", cwd=root)
    cli(f"repository remote datasets add {make_remotes(tmp_path / 'remotes')['datasets']}", cwd=root)
    cli("datasets init", cwd=root)
    return root


@pytest.fixture
def plain(tmp_path: Path, ws: Path, cli: Cli) -> Path:
    """A bucket folder of plain files, as the bucket's writer left it, configured as storage ``plain``."""
    src = tmp_path / "plain"
    write(src / "images" / "ok.png", b"ok")
    cli(f"repository storage add plain --type=local --path={src}", cwd=ws)
    return src


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    home = tmp_path / "victim-home" / ".aws"
    return write(home / "credentials", SECRET)


def _no_secret_in(ws: Path) -> None:
    hits = [p for p in ws.rglob("*") if p.is_file() and not p.is_symlink() and SECRET in p.read_bytes()]
    assert not hits, hits


def test_symlinked_key_is_not_imported(plain: Path, secret: Path, ws: Path, cli: Cli) -> None:
    (plain / "images" / "labels.csv").symlink_to(secret)
    res = cli("datasets import plain imported --object=images/labels.csv", ok=False, cwd=ws)
    out = one_line(res.output)
    assert res.exit_code == 1 and "images/labels.csv" in out and "symlink" in out, out
    assert "aws_secret" not in out
    _no_secret_in(ws)


def test_key_under_a_symlinked_folder_is_not_imported(plain: Path, secret: Path, ws: Path, cli: Cli) -> None:
    (plain / "conf").symlink_to(secret.parent, target_is_directory=True)
    for args in ("--object=conf/credentials", "--path=conf"):
        res = cli(f"datasets import plain imported {args}", ok=False, cwd=ws)
        out = one_line(res.output)
        assert res.exit_code == 1 and "conf" in out and "symlink" in out, out
    # a whole-bucket import lists the symlinked folder, never enters it
    cli("datasets import plain whole --path=images", cwd=ws)
    _no_secret_in(ws)


@pytest.mark.timeout(60)
def test_fifo_key_never_blocks(plain: Path, ws: Path, cli: Cli) -> None:
    os.mkfifo(plain / "images" / "stream.png")
    for args in ("--object=images/stream.png", "--path=images"):
        out = one_line(cli(f"datasets import plain imported {args}", ok=False, cwd=ws).output)
        assert "images/stream.png" in out and "not a regular file" in out, out
    assert not (ws / "datasets" / "imported").exists()  # checked before anything was written


def test_oversized_file_is_not_read(plain: Path, ws: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "IMPORT_MAX", 1024)  # so that 64 KiB stands for a file past the limit
    write(plain / "images" / "big.png", b"\0" * 65536)
    out = one_line(cli("datasets import plain imported --object=images/big.png", ok=False, cwd=ws).output)
    assert "images/big.png" in out and "more than 1024 bytes" in out, out


def test_keys_that_collide_are_refused_before_anything_is_written(plain: Path, ws: Path, cli: Cli) -> None:
    """``a\\b`` is read as ``a/b`` (ML-Git's Windows paths): two keys, one file, one silently lost."""
    write(plain / "images" / "a" / "b.png", b"real")
    write(plain / "images" / "a\\b.png", b"shadow")
    out = one_line(cli("datasets import plain imported --path=images", ok=False, cwd=ws).output)
    assert "images/a/b.png" in out and "both name" in out, out
    assert not (ws / "datasets" / "imported").exists()


def test_symlinked_destination_is_refused(plain: Path, tmp_path: Path, ws: Path, cli: Cli) -> None:
    """Another task on the worker points the import's destination folder elsewhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "datasets").mkdir(exist_ok=True)
    (ws / "datasets" / "imported").symlink_to(outside, target_is_directory=True)
    out = one_line(cli("datasets import plain imported --path=images", ok=False, cwd=ws).output)
    assert "imported" in out and "symlink" in out, out
    assert not list(outside.iterdir())


def test_prefix_outside_the_bucket_is_refused(plain: Path, ws: Path, cli: Cli) -> None:
    for args in ("--path=../", "--path=images/../..", "--object=../plain/images/ok.png"):
        out = one_line(cli(f"datasets import plain imported {args}", ok=False, cwd=ws).output)
        assert "escapes" in out or "absolute" in out, out
    assert not (ws / "datasets" / "imported").exists()


def test_s3_keys_file_and_folder_clash_is_one_error(ws: Path, cli: Cli, s3_bucket: S3Bucket) -> None:
    client = s3_bucket.server.client()
    bucket = make_bucket(s3_bucket.server, "clash")
    client.put_object(Bucket=bucket, Key="images/a", Body=b"file")
    client.put_object(Bucket=bucket, Key="images/a/b.png", Body=b"inside")
    res = cli(
        f"datasets import {bucket} imported --path=images --credentials=mlgit "
        f"--endpoint-url={s3_bucket.endpoint}",
        ok=False,
        cwd=ws,
    )
    out = one_line(res.output)
    assert res.exit_code == 1 and "images/a" in out and "both a file and a folder" in out, out
    assert not (ws / "datasets" / "imported").exists()


@pytest.mark.parametrize("name", ["-f", "--delete", "-dmytag"])
def test_user_tag_that_reads_as_a_git_option_is_refused(plain: Path, ws: Path, cli: Cli, name: str) -> None:
    """``tag add``'s name reaches ``git tag`` as an argument: a pipeline parameter ``-f`` must not become
    an option (``git tag -a -f -m ... SHA`` tags the sha's own name, ``-d`` deletes)."""
    from mlgit import InvalidName, Repository

    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=plain",
        cwd=ws,
    )
    write(ws / "datasets" / "ds" / "a.txt", b"a")
    cli("datasets add ds", cwd=ws)
    cli("datasets commit ds", cwd=ws)
    repo = Repository(ws)
    before = repo.metadata("datasets").git("tag", "-l")
    with pytest.raises(InvalidName, match="not starting with '-'"):
        repo.tag_add("datasets", "ds", name)
    assert repo.metadata("datasets").git("tag", "-l") == before


def _create_unzip(cli: Cli, ws: Path, src: Path, name: str) -> str:
    res = cli(
        f"datasets create {name} --categories=c --mutability=strict --storage-type=local --bucket-name=plain "
        f"--import={src} --unzip",
        ok=False,
        cwd=ws,
    )
    assert res.exit_code == 1
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, res.output  # after ML-Git's "Checking for files that need to be unzipped."
    return errors[0]


def test_unzip_bomb_is_refused_before_a_byte_is_inflated(
    tmp_path: Path, plain: Path, ws: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A downloaded dataset archive whose members inflate past the free space (100 MiB of zeros in a
    ~100 KiB zip; the disk's free space is faked down to 10 MiB: filling a real disk is no test)."""
    import zipfile

    from mlgit.verbs import create_extras

    monkeypatch.setattr(create_extras, "free_bytes", lambda path: 10 << 20)
    src = tmp_path / "download"
    src.mkdir()
    with zipfile.ZipFile(src / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (100 << 20))
    assert (src / "bomb.zip").stat().st_size < 1 << 20
    out = _create_unzip(cli, ws, src, "bombed")
    assert "bomb.zip" in out and f"declare {100 << 20} bytes" in out and "not extracted" in out, out
    assert not (ws / "datasets" / "bombed" / "data" / "bomb").exists()


def test_unzip_of_odd_archives_is_one_error(tmp_path: Path, plain: Path, ws: Path, cli: Cli) -> None:
    import zipfile

    src = tmp_path / "clash"
    src.mkdir()
    with zipfile.ZipFile(src / "pack.zip", "w") as zf:
        zf.writestr("a", b"file")
        zf.writestr("a/b.txt", b"inside")
    out = _create_unzip(cli, ws, src, "clashing")
    assert "pack.zip" in out and "member a is both a file and a folder" in out, out
    assert not (ws / "datasets" / "clashing" / "data" / "pack").exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pack.zip").write_bytes(b"PK\x03\x04 not really a zip")
    out = _create_unzip(cli, ws, broken, "broken")
    assert "pack.zip" in out and "not a zip archive" in out, out
