"""``<type> init|create|update|list|show``: ML-Git's messages and checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import Cli


def test_init_without_remote_errors(tmp_path: Path, cli: Cli) -> None:
    cli("repository init", cwd=tmp_path)
    res = cli("datasets init", ok=False, cwd=tmp_path)
    assert res.exit_code == 1 and "Add the remote first" in res.output
    assert not (tmp_path / ".ml-git" / "datasets" / "metadata" / ".git").exists()


def test_init_prints_metadata_init(tmp_path: Path, cli: Cli, remotes: dict[str, str]) -> None:
    cli("repository init", cwd=tmp_path)
    cli(f"repository remote models add {remotes['models']}", cwd=tmp_path)
    out = cli("models init", cwd=tmp_path).output
    assert f"INFO - Metadata Manager: Metadata init [{remotes['models']}] @ [" in out


def test_update_without_remote_errors(tmp_path: Path, cli: Cli, remotes: dict[str, str]) -> None:
    cli("repository init", cwd=tmp_path)
    assert cli("labels update", ok=False, cwd=tmp_path).exit_code == 1
    cli(f"repository remote labels add {remotes['labels']}", cwd=tmp_path)
    cli("labels init", cwd=tmp_path)
    assert "INFO - Metadata Manager: Pull [" in cli("labels update", cwd=tmp_path).output


def test_create_writes_spec_empty_readme_and_data(cli: Cli, ws: Path) -> None:
    out = cli(
        "datasets create imagenet8 --categories=computer-vision,images --mutability=strict "
        "--storage-type=local --bucket-name=bucket --entity-dir=folderA",
        cwd=ws,
    ).output
    assert "INFO - MLGit: Dataset artifact created." in out
    folder = ws / "datasets" / "folderA" / "imagenet8"
    assert (folder / "README.md").read_bytes() == b""
    assert (folder / "data").is_dir()
    assert yaml.safe_load((folder / "imagenet8.spec").read_text())["dataset"]["manifest"] == {
        "storage": "local://bucket"
    }
    assert (
        "Model artifact created."
        in cli("models create m1 --categories=c --mutability=mutable --storage-type=local", cwd=ws).output
    )
    assert (
        "Labels artifact created."
        in cli("labels create l1 --categories=c --mutability=mutable --storage-type=local", cwd=ws).output
    )


def test_create_without_bucket_and_no_storage_creates_the_entity(tmp_path: Path, cli: Cli) -> None:
    cli("repository init", cwd=tmp_path)
    cli("datasets create ds --categories=c --mutability=strict", cwd=tmp_path)
    spec = yaml.safe_load((tmp_path / "datasets" / "ds" / "ds.spec").read_text())
    assert spec["dataset"]["manifest"]["storage"] == "s3h://fake_storage"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param("bad_name --categories=c --mutability=strict", id="underscore"),
        pytest.param("'bad name' --categories=c --mutability=strict", id="blank"),
        pytest.param("ok --categories=c --mutability=strict --entity-dir=", id="empty-entity-dir"),
        pytest.param("ok --categories=c --mutability=strict --bucket-name=", id="empty-bucket"),
        pytest.param("ok --categories= --mutability=strict", id="empty-categories"),
        pytest.param("ok --categories=c --mutability=strict --entity-dir=../out", id="escaping-dir"),
        pytest.param("ok --categories=c --mutability=strict --import-url=https://x", id="gdrive"),
        pytest.param("ok --categories=c --mutability=strict --credentials-path=/x", id="creds-alone"),
    ],
)
def test_create_refuses(cli: Cli, ws: Path, args: str) -> None:
    extra = "" if "--bucket-name" in args else " --bucket-name=bucket"
    res = cli(f"datasets create {args} --storage-type=local{extra}", ok=False, cwd=ws)
    assert res.exit_code in (1, 2)
    assert not (ws / "datasets" / "ok").exists() and not (ws / "datasets" / "bad_name").exists()


def test_create_import_and_unzip(tmp_path: Path, cli: Cli, ws: Path) -> None:
    import zipfile

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_bytes(b"a")
    with zipfile.ZipFile(src / "pack.zip", "w") as zf:
        zf.writestr("inner/b.txt", b"b")
    out = cli(
        f"datasets create imp --categories=c --mutability=strict --storage-type=local --bucket-name=bucket "
        f"--import={src} --unzip",
        cwd=ws,
    ).output
    data = ws / "datasets" / "imp" / "data"
    assert (data / "sub" / "a.txt").read_bytes() == b"a"
    assert (data / "pack" / "inner" / "b.txt").read_bytes() == b"b" and not (data / "pack.zip").exists()
    assert "Total unzipped files: 1" in out


def test_list_and_show_headers(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    assert "You don't have any entity being managed." in cli("datasets list", cwd=ws).output
    version("datasets", "ds", {"data/a": b"a"})
    assert cli("datasets list", cwd=ws).output == "ML datasets\n|-- ds\n\n"
    shown = cli("datasets show ds", cwd=ws).output
    assert shown.startswith("-- datasets : ds --\ncategories:\n- cat\n")
    assert (
        "  files: MANIFEST.yaml\n  size: 1 Byte\n  storage: local://bucket\nmutability: strict\nname: ds\nversion: 1\n\n"
        in shown
    )
