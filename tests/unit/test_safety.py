"""mlgit.safety: own copies where the mode does not protect, disk-full as one error, regular reads."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mlgit import atomic, safety
from mlgit.cid import cid_of, hash_file
from mlgit.errors import DiskFull, UnsafePath
from mlgit.objects import HashFS
from mlgit.workspace import make_read_only


def test_clone_or_copy_has_its_own_inode(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(os.urandom(70_000))
    safety.clone_or_copy(src, dst)
    assert dst.read_bytes() == src.read_bytes() and dst.stat().st_ino != src.stat().st_ino
    with open(src, "r+b") as fh:  # an in-place write to one leaves the other whole
        fh.write(b"changed")
    assert dst.read_bytes()[:7] != b"changed"


def test_hash_copying_keeps_what_it_hashed(tmp_path: Path) -> None:
    src, tmp = tmp_path / "src", tmp_path / "tmp"
    src.write_bytes(os.urandom(300 * 1024))
    fo = safety.hash_copying(str(src), str(tmp))
    assert tmp.read_bytes() == src.read_bytes() and fo == hash_file(src)


def test_mode_protects_only_when_it_does(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    assert not safety.mode_protects(f)
    needed = safety.own_copy_needed(f, make_read_only)
    assert (f.stat().st_mode & 0o222) == 0
    assert needed == (os.geteuid() == 0)  # root writes a 0444 file anyway: the cache needs its own copy
    assert safety.mode_protects(f) == (os.geteuid() != 0)


def test_disk_full_is_one_error_other_errors_pass() -> None:
    class Thing:
        root = "/ws"

    @safety.disk_errors("add")
    def write(_self: Thing, code: int) -> str:
        if code:
            raise OSError(code, os.strerror(code))
        return "done"

    assert write(Thing(), 0) == "done"
    for code in (errno.ENOSPC, errno.EDQUOT):
        with pytest.raises(DiskFull, match="add: no space left on the device while writing /ws"):
            write(Thing(), code)
    with pytest.raises(PermissionError):
        write(Thing(), errno.EACCES)


def test_read_regular(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"12345")
    refuse = ValueError
    assert safety.read_regular(f, 5, refuse) == b"12345"
    with pytest.raises(ValueError, match="5 bytes"):
        safety.read_regular(f, 4, refuse)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="not a regular file"):
        safety.read_regular(tmp_path / "fifo", 5, refuse)
    with pytest.raises(ValueError, match="not a regular file"):
        safety.read_regular("/dev/zero", 5, refuse)


def test_state_is_written_through_no_symlink_below_the_workspace(tmp_path: Path) -> None:
    """A symlink above the workspace (the owner's layout, even a folder named .ml-git) is used as given;
    one in place of a folder under the workspace's .ml-git/ is refused by name; the file itself is replaced
    by the rename, never followed, so a symlink there is no refusal."""
    real = tmp_path / ".ml-git" / "projects"
    real.mkdir(parents=True)
    os.symlink(real, tmp_path / "linked")
    ws = tmp_path / "linked" / "ws"
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / ".ml-git" / "datasets" / "refs").mkdir(parents=True)
    os.symlink(outside, ws / ".ml-git" / "datasets" / "refs" / "ds")
    atomic.atomic_write(ws / ".ml-git" / "datasets" / "index" / "INDEX.yaml", b"{}")
    os.symlink(outside / "x", ws / ".ml-git" / "datasets" / "index" / "HEAD")
    atomic.atomic_write(ws / ".ml-git" / "datasets" / "index" / "HEAD", b"v")
    assert (ws / ".ml-git" / "datasets" / "index" / "HEAD").read_bytes() == b"v" and not (
        outside / "x"
    ).exists()
    with pytest.raises(UnsafePath, match=rf"^{ws}/.ml-git/datasets/refs/ds is a symlink \(to {outside}\)"):
        atomic.atomic_write(ws / ".ml-git" / "datasets" / "refs" / "ds" / "HEAD", b"tag: sha\n")
    with pytest.raises(UnsafePath, match="refs/ds is a symlink"):
        HashFS(ws / ".ml-git" / "datasets" / "refs" / "ds" / "cache").put(cid_of(b"x"), b"x")
    assert list(outside.iterdir()) == []


def test_checkout_looks_at_files_only_in_folders_that_exist(tmp_path: Path) -> None:
    """``verbs.checkout._existing`` (one lstat per folder on a fresh checkout) finds what the per-file
    walk found: the lstat of every existing target, every folder on the way in ``checked``, symlinks refused."""
    from mlgit.safety import refuse_symlinked_parents
    from mlgit.verbs.checkout import _existing

    root = tmp_path
    dest = root / "datasets" / "ds"
    (dest / "a" / "b").mkdir(parents=True)
    (dest / "a" / "x.bin").write_bytes(b"x")
    (dest / "a" / "b" / "y.bin").write_bytes(b"y")
    (dest / "top.bin").write_bytes(b"t")
    (dest / "file-not-folder").write_bytes(b"f")
    rels = {
        rel: "cid"
        for rel in (
            "a/b/y.bin",
            "a/x.bin",
            "a/missing.bin",
            "top.bin",
            "new/z.bin",
            "new/deeper/w.bin",
            "file-not-folder/v.bin",
        )
    }
    checked: set[Path] = set()
    found = _existing(root, dest, rels, checked)
    walked: set[Path] = set()
    expected = {rel: s for rel in rels if (s := refuse_symlinked_parents(root, dest / rel, walked))}
    assert {rel: s.st_ino for rel, s in found.items()} == {rel: s.st_ino for rel, s in expected.items()}
    assert set(found) == {"a/b/y.bin", "a/x.bin", "top.bin"}
    assert walked <= checked  # every folder the per-file walk looked at was looked at

    (dest / "a" / "link.bin").symlink_to(dest / "top.bin")
    with pytest.raises(UnsafePath, match="link.bin is a symlink"):
        _existing(root, dest, {"a/link.bin": "cid"}, set())
    os.symlink(tmp_path, dest / "escape")
    with pytest.raises(UnsafePath, match="escape is a symlink"):
        _existing(root, dest, {"escape/f.bin": "cid"}, set())
