"""``<type> reset NAME --soft|--mixed|--hard [--reference head|head~1]`` as ML-Git documents it.

``head~1`` takes the entity's last version off the metadata branch and deletes its tag; it is
refused for a version already pushed (a published tag is immutable: the remote would keep it).
- ``--soft``: only the version goes; the index and the workspace keep what it held (staged again).
- ``--mixed``: the index goes back to the version before; the workspace keeps its files.
- ``--hard``: the index and the workspace go back to the version before (or to HEAD with ``head``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import index as idx
from ..errors import MLGitError, NothingToCommit, VersionConflict
from ..names import tag_name
from ..safety import refuse_symlinked_parents
from .checkout import checkout

if TYPE_CHECKING:
    from ..context import Context

MODES = ("soft", "mixed", "hard")


def reset(ctx: Context, et: str, name: str, mode: str, reference: str = "head") -> str | None:
    """Returns the tag checked out afterwards (None when no version is left)."""
    if mode not in MODES:
        raise MLGitError(f"reset: expected --soft, --mixed or --hard, found {mode!r}")
    reference = reference.lower()
    if reference not in ("head", "head~1"):
        raise MLGitError(f"--reference: expected head or head~1, found {reference!r}")
    path, _ = ctx.store.load(et, name)
    ctx.store.refuse_symlinked(et, name)
    head = ctx.store.head(et, name)
    if head is None:
        raise NothingToCommit(f"No current tag for [{name}]. commit first.")
    tag = head[0]
    if reference == "head":
        if mode == "hard":
            checkout(ctx, et, tag, force=True)
        return tag
    md = ctx.metadata(et)
    if md.remote_url() and tag in md.remote_tags():
        raise VersionConflict(
            f"{et} {name}: {tag} is already pushed to {md.remote_url()}; a published version cannot be "
            "reset (commit a new version instead)"
        )
    sha = md.tag_sha(tag)
    if md.git("rev-parse", "HEAD").strip() != sha:
        raise MLGitError(
            f"{et} {name}: {tag} is not the last commit of the {et} metadata repository; "
            "only the last version can be reset"
        )
    if mode == "hard":  # a folder of the entity swapped for a symlink: refused before anything changes
        checked: set[Path] = set()
        for rel in ctx.store.staged(et, name)[0]:
            refuse_symlinked_parents(ctx.root, (path / rel).parent, checked)
    parents = md.git("rev-list", "--parents", "-n", "1", sha).split()[1:]
    if not parents:
        raise MLGitError("There is no commit to go back. Do at least two commits.")
    md.git("reset", "--quiet", "--hard", parents[0])
    md.git("tag", "-d", tag)
    merged = set(md.git("tag", "--merged", "HEAD").split())
    previous = [t for t in md.tags(name) if t in merged]
    earlier = previous[-1] if previous else None
    if earlier is None:
        ctx.store.clear_head(et, name)
    else:
        ctx.store.set_head(et, name, earlier, md.tag_sha(earlier))
    if mode == "soft":
        return earlier
    manifest = ctx.store.read_version(et, earlier, tag_name(earlier))[1] if earlier else {}
    if mode == "mixed":
        old, _ = ctx.store.staged(et, name)
        new = {
            rel: (old[rel] if rel in old and old[rel].cid == cid else idx.Entry(cid, 0, 0, 0))
            for rel, cid in manifest.items()
        }
        ctx.store.save_staged(et, name, new)
        return earlier
    if earlier is not None:
        checkout(ctx, et, earlier, force=True)
    else:
        old, _ = ctx.store.staged(et, name)
        for rel in old:
            (path / rel).unlink(missing_ok=True)
        ctx.store.save_staged(et, name, {})
    return earlier
