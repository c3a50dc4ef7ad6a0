"""``<type> reset NAME --soft|--mixed|--hard [--reference head|head~1]`` as ML-Git documents it.

``head~1`` takes the entity's last version off the metadata branch and deletes its tag; it is
refused for a version already pushed (a published tag is immutable: the remote would keep it).
- ``--soft``: only the version goes; the index and the workspace keep what it held (staged again).
- ``--mixed``: the index goes back to the version before; the workspace keeps its files.
- ``--hard``: the index and the workspace go back to the version before (or to HEAD with ``head``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import index as idx
from ..errors import MLGitError, NothingToCommit, VersionConflict
from ..names import parse_tag

if TYPE_CHECKING:
    from ..repository import Repository

MODES = ("soft", "mixed", "hard")


def reset(repo: Repository, et: str, name: str, mode: str, reference: str = "head") -> str | None:
    """Returns the tag checked out afterwards (None when no version is left)."""
    if mode not in MODES:
        raise MLGitError(f"reset: expected --soft, --mixed or --hard, found {mode!r}")
    reference = reference.lower()
    if reference not in ("head", "head~1"):
        raise MLGitError(f"--reference: expected head or head~1, found {reference!r}")
    path, _ = repo._load(et, name)
    head = repo._head(et, name)
    if head is None:
        raise NothingToCommit(f"No current tag for [{name}]. commit first.")
    tag = head[0]
    if reference == "head":
        if mode == "hard":
            repo.checkout(et, tag, force=True)
        return tag
    md = repo.metadata(et)
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
    parents = md.git("rev-list", "--parents", "-n", "1", sha).split()[1:]
    if not parents:
        raise MLGitError("There is no commit to go back. Do at least two commits.")
    md.git("reset", "--quiet", "--hard", parents[0])
    md.git("tag", "-d", tag)
    merged = set(md.git("tag", "--merged", "HEAD").split())
    previous = [t for t in md.tags(name) if t in merged]
    earlier = previous[-1] if previous else None
    if earlier is None:
        repo._head_file(et, name).unlink(missing_ok=True)
    else:
        repo._set_head(et, name, earlier, md.tag_sha(earlier))
    if mode == "soft":
        return earlier
    manifest = repo._read_version(et, earlier, str(parse_tag(earlier)[1]))[1] if earlier else {}  # type: ignore[index]
    if mode == "mixed":
        old, _ = repo._staged(et, name)
        new = {
            rel: (old[rel] if rel in old and old[rel].cid == cid else idx.Entry(cid, 0, 0, 0))
            for rel, cid in manifest.items()
        }
        repo._save_staged(et, name, new)
        return earlier
    if earlier is not None:
        repo.checkout(et, earlier, force=True)
    else:
        old, _ = repo._staged(et, name)
        for rel in old:
            (path / rel).unlink(missing_ok=True)
        repo._save_staged(et, name, {})
    return earlier
