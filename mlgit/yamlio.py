"""YAML through libyaml when present (10x faster on 5,000-entry manifests), PyYAML otherwise.

The one owner of YAML in mlgit. Specs, manifests, indexes and configs may come from people who are not
trusted (a metadata remote, a cloned project), so: anchors and aliases are refused (ML-Git never writes
them, and a 700-byte "billion laughs" document expands to gigabytes), and files are read only when they
are regular files, not through a symlink, and at most a bounded size.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import ManifestError, UnsafePath

try:
    _Loader: type = yaml.CSafeLoader
    _BaseDumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader
    _BaseDumper = yaml.SafeDumper

MAX_BYTES = 256 << 20  # a manifest or index of a million files is ~100-200 MB
MAX_SMALL = 16 << 20  # a spec, config, ref or README


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    def ignore_aliases(self, data: Any) -> bool:  # what we write, we can read back: no anchors
        return True


class AliasRefused(yaml.YAMLError):
    """An anchor or alias in a document: refused before anything is built from it."""


def _refuse_aliases(data: str | bytes) -> None:
    if (
        (b"&" not in data and b"*" not in data)
        if isinstance(data, bytes)
        else ("&" not in data and "*" not in data)
    ):
        return  # no anchor and no alias can be in there: skip the second parse
    for event in yaml.parse(data, Loader=_Loader):
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            kind = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
            raise AliasRefused(
                f"found YAML {kind}{anchor} at line {event.start_mark.line + 1 if event.start_mark else '?'}; expected plain YAML "
                "without anchors or aliases (ML-Git never writes them)"
            )


def loads(text: str | bytes) -> Any:
    _refuse_aliases(text)
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def dumps(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=True, allow_unicode=True)


def read_bounded(
    path: Path, what: str, error: type[Exception] = ManifestError, limit: int = MAX_BYTES
) -> bytes:
    """The bytes of ``path`` if it is a regular file, not a symlink, of at most ``limit`` bytes.

    FileNotFoundError passes through; a symlink, fifo or device is UnsafePath (a fifo would block
    forever, /dev/zero would grow memory without bound); a bigger file is ``error``."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(
                f"{what} {path} is a symlink (to {os.readlink(path)}); expected a regular file "
                "(mlgit never reads its files through a symlink)"
            ) from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise error(f"{what} {path}: cannot read it ({exc.strerror})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{what} {path}: expected a regular file, found a {_file_kind(st.st_mode)}")
        if st.st_size > limit:
            raise error(f"{what} {path}: {st.st_size} bytes; expected at most {limit}")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # grew while we read it
                raise error(f"{what} {path}: more than {limit} bytes; expected at most {limit}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return f"special file (mode {mode:o})"


def load_file(path: Path, what: str, error: type[Exception] = ManifestError, limit: int = MAX_BYTES) -> Any:
    """Parse a YAML file; malformed input raises ``error`` naming the file."""
    try:
        return loads(read_bounded(path, what, error, limit))
    except FileNotFoundError:
        raise error(f"{what} {path} is missing") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path}: malformed YAML ({' '.join(str(exc).split())[:200]})") from exc
