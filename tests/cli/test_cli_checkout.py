"""``<type> checkout``: over what create wrote, --bare, -d/--with-dataset, -l/--with-labels; ``fetch``."""

from __future__ import annotations

from pathlib import Path

from helpers import Cli

from mlgit import Repository


def _second(tmp_path: Path, cli: Cli, remotes: dict[str, str], name: str = "second") -> Path:
    root = tmp_path / name
    root.mkdir()
    cli("repository init", cwd=root)
    for et in ("datasets", "labels", "models"):
        cli(f"repository remote {et} add {remotes[et]}", cwd=root)
        cli(f"{et} init", cwd=root)
    cli(f"repository storage add bucket --type=local --path={tmp_path / 'bucket'}", cwd=root)
    return root


def test_checkout_over_a_freshly_created_entity(tmp_path: Path, cli: Cli, ws: Path, remotes, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a"})
    other = _second(tmp_path, cli, remotes)
    cli(
        "datasets create ds --categories=other --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=other,
    )
    out = cli("datasets checkout ds", cwd=other).output
    assert "INFO - Metadata: Performing checkout in tag cat__ds__1" in out
    assert (other / "datasets" / "ds" / "data" / "a").read_bytes() == b"a"
    assert "- cat" in (other / "datasets" / "ds" / "ds.spec").read_text()


def test_checkout_keeps_a_users_readme(tmp_path: Path, cli: Cli, ws: Path, remotes, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a"})
    other = _second(tmp_path, cli, remotes)
    cli(
        "datasets create ds --categories=c --mutability=strict --storage-type=local --bucket-name=bucket",
        cwd=other,
    )
    (other / "datasets" / "ds" / "README.md").write_text("my notes")
    res = cli("datasets checkout ds", ok=False, cwd=other)
    assert "README.md" in res.output
    assert (other / "datasets" / "ds" / "README.md").read_text() == "my notes"


def test_bare_checkout_message(tmp_path: Path, cli: Cli, ws: Path, remotes, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a"})
    other = _second(tmp_path, cli, remotes)
    out = cli("datasets checkout ds --bare", cwd=other).output
    assert "INFO - Local Repository: Checkout in bare mode done." in out
    assert not (other / "datasets" / "ds" / "data" / "a").exists()


def test_model_checkout_with_dataset_and_labels(tmp_path: Path, cli: Cli, ws: Path, remotes, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a"})
    version("labels", "lb", {"l.json": b"{}"}, mutability="mutable", commit_args="--dataset=ds")
    version("models", "md", {"w": b"w"}, mutability="mutable", commit_args="--dataset=ds --labels=lb")
    other = _second(tmp_path, cli, remotes)
    out = cli("models checkout md -d -l", cwd=other).output
    assert "INFO - Repository: Initializing related datasets download" in out
    assert "INFO - Repository: Initializing related labels download" in out
    assert (other / "datasets" / "ds" / "data" / "a").read_bytes() == b"a"
    assert (other / "labels" / "lb" / "l.json").read_bytes() == b"{}"
    third = _second(tmp_path, cli, remotes, "third")
    cli("labels checkout lb --with-dataset", cwd=third)
    assert (third / "datasets" / "ds" / "data" / "a").read_bytes() == b"a"
    assert cli("datasets checkout ds -d", ok=False, cwd=third).exit_code == 2


def test_fetch_fills_the_local_store_only(tmp_path: Path, cli: Cli, ws: Path, remotes, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 300_000, "data/b": b"b"})
    other = _second(tmp_path, cli, remotes)
    out = cli("datasets fetch cat__ds__1", cwd=other).output
    assert "Fetched cat__ds__1" in out
    assert not (other / "datasets" / "ds").exists()
    (tmp_path / "bucket").rename(tmp_path / "bucket-gone")  # the checkout now reads no storage
    (tmp_path / "bucket").mkdir()
    cli("datasets checkout ds", cwd=other)
    assert (other / "datasets" / "ds" / "data" / "a").read_bytes() == b"a" * 300_000
    assert len(list(Repository(other)._objects("datasets"))) == 5  # 2 descriptors + 3 chunks


def test_edit_in_place_after_checkout_is_refused(
    tmp_path: Path, cli: Cli, ws: Path, remotes, version
) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a"})
    other = _second(tmp_path, cli, remotes)
    cli("datasets checkout ds", cwd=other)
    target = other / "datasets" / "ds" / "data" / "a"
    target.chmod(0o644)
    target.write_bytes(b"edited in place")
    assert "    data/a" in cli("datasets status ds", cwd=other).output.split("corrupted files")[1]
    assert "changed in place" in cli("datasets add ds", ok=False, cwd=other).output
    target.unlink()
    target.write_bytes(b"written anew")  # a new file under the same name: a change, as ML-Git
    cli("datasets add ds --bumpversion", cwd=other)
    cli("datasets commit ds", cwd=other)
