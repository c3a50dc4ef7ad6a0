"""``<type> reset`` (--soft/--mixed/--hard, head and head~1) and ``<type> tag add``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import Cli, write

from mlgit import Repository


def _two_versions(cli: Cli, ws: Path, version) -> Path:  # type: ignore[no-untyped-def]
    folder = version("datasets", "ds", {"data/a": b"a"})
    write(folder / "data" / "b", b"b")
    cli("datasets add ds --bumpversion", cwd=ws)
    cli("datasets commit ds", cwd=ws)  # v2, not pushed
    return folder


def test_reset_hard_head_1_drops_the_unpushed_version(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    folder = _two_versions(cli, ws, version)
    out = cli("datasets reset ds --hard --reference=head~1", cwd=ws).output
    assert "INFO - Repository: Initializing reset [--hard] [HEAD~1] of commit. " in out
    assert cli("datasets tag list ds", cwd=ws).output.split() == ["cat__ds__1"]
    assert not (folder / "data" / "b").exists() and (folder / "data" / "a").exists()
    assert "cat__ds__1" in cli("datasets branch ds", cwd=ws).output
    assert cli("datasets status ds", cwd=ws).output.endswith("untracked files\n\ncorrupted files\n")


def test_reset_soft_keeps_index_and_workspace(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    folder = _two_versions(cli, ws, version)
    cli("datasets reset ds --soft --reference=head~1", cwd=ws)
    assert (folder / "data" / "b").exists()
    assert "new file:   data/b" in cli("datasets status ds", cwd=ws).output
    cli("datasets commit ds", cwd=ws)  # the same content again: version 2 again
    assert cli("datasets tag list ds", cwd=ws).output.split() == ["cat__ds__1", "cat__ds__2"]


def test_reset_mixed_unstages_keeps_files(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    folder = _two_versions(cli, ws, version)
    cli("datasets reset ds --mixed --reference=head~1", cwd=ws)
    assert (folder / "data" / "b").read_bytes() == b"b"
    status = cli("datasets status ds", cwd=ws).output
    assert "untracked files\n    data/b" in status and "new file" not in status


def test_reset_head_hard_discards_workspace_changes(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    folder = version("datasets", "ds", {"data/a": b"a"})
    write(folder / "data" / "junk", b"j")
    (folder / "data" / "a").unlink()
    cli("datasets reset ds --hard", cwd=ws)
    assert (folder / "data" / "a").read_bytes() == b"a"
    assert "cat__ds__1" in cli("datasets branch ds", cwd=ws).output


def test_reset_refuses_a_pushed_version(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a"})
    version("datasets", "ds", {"data/b": b"b"})
    res = cli("datasets reset ds --hard --reference=head~1", ok=False, cwd=ws)
    assert "already pushed" in res.output
    assert cli("datasets tag list ds", cwd=ws).output.split() == ["cat__ds__1", "cat__ds__2"]


def test_tag_add(cli: Cli, ws: Path, version, remotes: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    assert "No current tag for [ds]" in cli("datasets tag add ds mytag", ok=False, cwd=ws).output
    version("datasets", "ds", {"data/a": b"a"})
    out = cli("datasets tag add ds release-1", cwd=ws).output
    assert "INFO - Repository: Create Tag Successfull" in out
    remote = subprocess.run(
        ["git", "-C", remotes["datasets"], "tag", "-l"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "release-1" in remote  # the user's name itself, as ML-Git
    md = Repository(ws).metadata("datasets")
    assert md.git("rev-parse", "release-1^{commit}").strip() == md.tag_sha("cat__ds__1")
    assert cli("datasets tag list ds", cwd=ws).output.split() == ["cat__ds__1"]
    assert "tag 'release-1' already exists" in cli("datasets tag add ds release-1", ok=False, cwd=ws).output
    assert cli("datasets tag add ds x__ds__9", ok=False, cwd=ws).exit_code == 1  # reads as a version
    assert cli("datasets tag add ds 'bad tag'", ok=False, cwd=ws).exit_code == 1
