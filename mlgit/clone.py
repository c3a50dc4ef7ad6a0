"""``ml-git clone``: a project repository (its ``.ml-git/config.yaml``) and the metadata remotes it names.

The project repository is not trusted. It is cloned without a checkout first; a symlink or submodule
under ``.ml-git/`` or an entity type folder refuses the clone before any of its files is written (one
such link made clone rewrite another repository's origin and reset its work). The metadata remotes it
names go through the same URL check as any other.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import git
from git.exc import GitCommandError, UnsafeOptionError, UnsafeProtocolError

from .config import ENTITY_TYPES, MLGIT_DIR
from .errors import ConfigError, MetadataError, UnsafeMetadata
from .gitsafe import check_remote_url, git_env, redact
from .repository import Repository

#: where mlgit reads and writes in a project: nothing there may be a symlink or a submodule
GUARDED = (MLGIT_DIR, *ENTITY_TYPES)


def default_folder(url: str) -> str:
    return Path(url.rstrip("/")).name.removesuffix(".git")


def clone_project(url: str, target: Path) -> Repository:
    """Clone the project at ``url`` into ``target`` and initialize its metadata repositories. On any
    failure the folder is removed again (when this call created it)."""
    check_remote_url(url, "ml-git clone")
    shown = redact(url)
    if target.is_symlink() or (target.exists() and (not target.is_dir() or any(target.iterdir()))):
        raise ConfigError(f"ml-git clone: expected {target} to be a new or empty folder")
    created = not target.exists()
    try:
        try:
            project = git.Repo.clone_from(url, target, env=git_env(), no_checkout=True)
        except (GitCommandError, UnsafeProtocolError, UnsafeOptionError) as exc:
            text = " ".join(str(exc.stderr if isinstance(exc, GitCommandError) else exc).split())
            raise MetadataError(f"could not clone {shown}: {redact(text)[:400]}") from exc
        project.git.update_environment(**git_env())
        _refuse_links(project, shown)
        project.git.execute(["git", "reset", "--quiet", "--hard", "HEAD"])
        repo = Repository(target)
        for et in ENTITY_TYPES:
            if repo.config[et].get("git"):
                repo.entity_init(et)
        return repo
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise


def _refuse_links(project: git.Repo, shown: str) -> None:
    try:
        listing = project.git.execute(["git", "ls-tree", "-r", "-z", "--full-tree", "HEAD"])
    except GitCommandError as exc:
        raise ConfigError(
            f"ml-git clone: {shown} holds no commit (expected a project with .ml-git/config.yaml)"
        ) from exc
    bad = []
    for record in str(listing).split("\0"):
        meta, _, path = record.partition("\t")
        if meta.split(" ")[0] in ("120000", "160000") and path.split("/", 1)[0] in GUARDED:
            bad.append((path, meta.split(" ")[2], meta.split(" ")[0]))
    if bad:
        path, sha, mode = bad[0]
        what = (
            "a submodule"
            if mode == "160000"
            else f"a symlink (to {project.git.cat_file('blob', sha)[:200]!r})"
        )
        raise UnsafeMetadata(
            f"project {shown}: {path} is {what}; expected only folders and regular files under "
            f"{', '.join(g + '/' for g in GUARDED)} ({len(bad)} such entries); refusing to check it out"
        )
