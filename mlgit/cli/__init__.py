"""``ml-git`` / ``mlgit``: ML-Git's commands. Thin: every command calls Repository only.

One module per command group; importing this package registers them all on ``cli``.
"""

from __future__ import annotations

import sys

from . import demo, entity, repository  # noqa: F401 - registers the commands
from .base import cli


def main(argv: list[str] | None = None) -> None:
    """The ``ml-git`` program. ``--verbose`` may come anywhere, as in ML-Git (``ml-git datasets fsck --verbose``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in args[1:]:
        args.remove("--verbose")
        args.insert(0, "--verbose")
    cli.main(args=args, prog_name="ml-git")


__all__ = ["cli", "main"]
