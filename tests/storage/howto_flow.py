"""The how-to's flow through the CLI on any storage: two workspaces, two versions, byte-for-byte."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path

from helpers import Cli, make_remotes, write, write_howto_v1

from mlgit import Repository


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".spec") and p.name != "README.md"
    }


def workspace(cli: Cli, ws: Path, remotes: dict[str, str], storage_add: str) -> None:
    ws.mkdir()
    cli("repository init", cwd=ws)
    for et in ("datasets", "labels", "models"):
        cli(f"repository remote {et} add {remotes[et]}", cwd=ws)
    cli(f"repository storage add {storage_add}", cwd=ws)
    for et in ("datasets", "labels", "models"):
        cli(f"{et} init", cwd=ws)


def howto_flow(
    cli: Cli, tmp_path: Path, kind: str, bucket: str, storage_add: str, listed: Callable[[], set[str]]
) -> None:
    """create, add, commit, push, a second version, then checkout of both elsewhere; ``listed`` is the
    bucket's keys as the server sees them (not through mlgit)."""
    remotes = make_remotes(tmp_path / "remotes")
    ws = tmp_path / "mlgit-project"
    workspace(cli, ws, remotes, storage_add)
    cli(
        'datasets create imagenet8 --categories="computer-vision, images" --mutability=strict '
        f"--storage-type={kind} --bucket-name={bucket} --entity-dir=folderA/folderB",
        cwd=ws,
    )
    entity = ws / "datasets" / "folderA" / "folderB" / "imagenet8"
    write_howto_v1(entity)
    cli("datasets add imagenet8", cwd=ws)
    cli("datasets commit imagenet8", cwd=ws)
    cli("datasets push imagenet8", cwd=ws)
    v1 = tree(entity)
    keys = listed()
    # big: 3 chunks + descriptor; 20 small: chunk + descriptor each; empty: a descriptor alone; duplicates: one pair
    assert len(keys) == (3 + 1) + 20 * 2 + 1 + 2 and all(k.startswith("zdj7W") for k in keys), keys

    write(entity / "data" / "val" / "new.bin", b"new data\n")
    cli("datasets add imagenet8 --bumpversion", cwd=ws)
    cli("datasets commit imagenet8", cwd=ws)
    cli("datasets push imagenet8", cwd=ws)
    v2 = tree(entity)
    assert len(listed()) == len(keys) + 2

    ws2 = tmp_path / "your-mlgit-repository"
    workspace(cli, ws2, remotes, storage_add)
    cli("datasets checkout computer-vision__images__imagenet8__1", cwd=ws2)
    entity2 = ws2 / "datasets" / "folderA" / "folderB" / "imagenet8"
    assert tree(entity2) == v1
    cli("datasets checkout imagenet8", cwd=ws2)
    assert tree(entity2) == v2
    assert Repository(ws2).fsck("datasets").total == 0


def pushable(cli: Cli, tmp_path: Path, kind: str, bucket: str, storage_add: str, n: int = 30) -> Path:
    """A workspace with ``n`` small files committed, not pushed (2n objects)."""
    ws = tmp_path / "ws"
    workspace(cli, ws, make_remotes(tmp_path / "remotes"), storage_add)
    cli(
        f"datasets create birds --categories=zoo --mutability=strict --storage-type={kind} --bucket-name={bucket}",
        cwd=ws,
    )
    for i in range(n):
        write(ws / "datasets" / "birds" / "data" / f"{i}.bin", random.Random(i).randbytes(500))
    cli("datasets add birds", cwd=ws)
    cli("datasets commit birds", cwd=ws)
    return ws


def one_line(out: str) -> str:
    out = out.strip()
    assert out.count("\n") == 0 and "Traceback" not in out, out
    return out
