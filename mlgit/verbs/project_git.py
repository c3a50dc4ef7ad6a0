"""The project folder as a git repository of its ``.ml-git/config.yaml``: ``clone``, ``repository
remote config add``, ``repository config push``, and the ``.gitignore`` ML-Git writes beside it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import git
from git.exc import GitCommandError

from .. import config as cfg
from ..errors import ConfigError, MetadataError
from ..gitsafe import check_remote_url, git_env, redact, refuse_symlinks
from ..yamlio import MAX_SMALL, read_bounded

if TYPE_CHECKING:
    from ..repository import Repository

#: what ML-Git's clone/remote config add keep out of the project's git: metadata clones and data
IGNORED = [f"{cfg.MLGIT_DIR}/{et}" for et in ("datasets", "models", "labels")] + [
    "datasets",
    "labels",
    "models",
]


def _err(exc: GitCommandError) -> str:
    return redact(" ".join(str(exc.stderr or exc).split())[:300])


def update_gitignore(root: Path) -> None:
    """Append the lines of IGNORED that ``root/.gitignore`` lacks (ML-Git's layout: a blank line, then them)."""
    path = root / ".gitignore"
    refuse_symlinks(root, [".gitignore"], "the .gitignore update")  # a cloned project is untrusted
    try:
        present = set(
            read_bounded(path, ".gitignore", ConfigError, MAX_SMALL).decode(errors="replace").splitlines()
        )
    except FileNotFoundError:
        present = set()
    missing = [line for line in IGNORED if line not in present]
    if not missing and present:
        return
    with open(path, "a") as fh:
        fh.write("\n" + "".join(line + "\n" for line in missing))


def clone_project(url: str, cwd: Path, folder: str | None, untracked: bool) -> Path:
    """``mlgit.clone`` (the project is untrusted: checked before checkout), then ML-Git's extras:
    the ``.gitignore`` lines, and with ``untracked`` no ``.git`` kept (``clone --untracked``)."""
    from ..clone import clone_project as safe_clone
    from ..clone import default_folder

    name = folder or default_folder(url)
    if not name or name in (".", ".."):
        raise ConfigError(f"Badly formatted url {redact(url)}: expected .../NAME(.git)")
    target = cwd / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"The path [{target}] already exists and is not an empty directory.")
    safe_clone(url, target)
    try:
        if untracked:
            shutil.rmtree(target / ".git")
        update_gitignore(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # nothing half-made stays behind
        raise
    return target


def config_remote_add(repo: Repository, url: str) -> bool:
    """``git init`` the project folder (if needed) and point its ``origin`` at ``url``; True when created."""
    check_remote_url(url, "project config remote")
    root = repo.root
    refuse_symlinks(root, [".git"], "repository remote config add")
    created = not (root / ".git").exists()
    project = git.Repo.init(root, initial_branch="master") if created else git.Repo(root)
    try:
        if "origin" in [r.name for r in project.remotes]:
            project.git.remote("set-url", "origin", url)
        else:
            project.git.remote("add", "origin", url)
    except GitCommandError as exc:
        raise MetadataError(f"could not set the project's remote to {redact(url)}: {_err(exc)}") from exc
    update_gitignore(root)
    return created


def config_push(repo: Repository, message: str) -> bool:
    """Commit ``.ml-git/config.yaml`` (only it) and push the branch; False when it had no change."""
    root = repo.root
    if not (root / ".git").exists():
        raise ConfigError(
            f"{root} is not a git repository; run: ml-git repository remote config add URL first"
        )
    project = git.Repo(root)
    rel = f"{cfg.MLGIT_DIR}/{cfg.CONFIG_FILE}"
    try:
        project.git.add("--", rel)
        if not project.git.diff("--cached", "--name-only", "--", rel).strip():
            return False
        project.git.commit("-m", message, "--", rel)
        branch = project.git.symbolic_ref("--short", "HEAD").strip()
        project.git.update_environment(**git_env())
        project.git.push("-u", "origin", branch)
    except GitCommandError as exc:
        raise MetadataError(f"Could not push configuration file. ERROR: {_err(exc)}") from exc
    return True
