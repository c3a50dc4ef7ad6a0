"""mlgit.safety: own copies where the mode does not protect, disk-full as one error, regular reads."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mlgit import safety
from mlgit.cid import hash_file
from mlgit.errors import DiskFull
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
