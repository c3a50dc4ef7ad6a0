"""Git driven with input mlgit does not trust: remote URLs, the trees and the tags of a metadata remote.

Anyone who can push to a metadata remote controls its trees and tags, and a project repository's
``.ml-git/config.yaml`` names the remotes. So: no remote helper that runs code (``ext::``) or reads
file descriptors (``fd::``), for any git call; commits are built from objects written into the object
database (gitobjects), never by writing through a work tree that may hold symlinks; a symlink or
submodule where mlgit reads or writes a metadata file is refused, naming it; a version tag known here
never moves on fetch; and the credentials of a git URL are never printed.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import git

from . import gitobjects
from .errors import MetadataError, TagMoved, UnsafeMetadata, UnsafePath, UnsafeRemote

#: transports every git call may use (GIT_ALLOW_PROTOCOL); a user may widen it in the environment
SAFE_PROTOCOLS = ("file", "git", "http", "https", "ssh")
#: never, whatever the environment says: ext runs a command, fd talks to inherited descriptors
REFUSED_PROTOCOLS = frozenset({"ext", "fd"})
REGULAR_MODES = ("100644", "100755")
#: where fetch puts the remote's tags before they are compared with ours
REMOTE_TAGS = "refs/mlgit/remote-tags/"
ZERO = "0" * 40

Run = Callable[..., Any]  # MetadataRepo.git: runs one git command, GitCommandError -> MetadataError

_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]*@")
_TRANSPORT = re.compile(r"\A([A-Za-z][A-Za-z0-9+.-]*)(?:::|://)")


def redact(text: str) -> str:
    """``text`` with the userinfo (``user:token@``) of every URL in it replaced by ``***@``."""
    return _USERINFO.sub(r"\1***@", text)


def check_remote_url(url: str, where: str) -> str:
    """``url`` if git may be pointed at it, else UnsafeRemote (before any git call sees it)."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeRemote(f"{where}: expected a git URL or path, found {url!r}")
    shown = redact(url)
    if url.startswith("-") or any(c in url for c in "\0\n\r"):
        raise UnsafeRemote(f"{where}: git URL {shown!r} starts with '-' or holds a control character")
    m = _TRANSPORT.match(url)
    if m and m.group(1).lower() in REFUSED_PROTOCOLS:
        raise UnsafeRemote(
            f"{where}: git URL {shown!r} uses the {m.group(1)}:: transport, which runs commands or reads file "
            "descriptors; expected a path or an ssh://, https://, git:// or file:// URL"
        )
    return url


def git_env() -> dict[str, str]:
    """Environment for every git call: only the safe transports (the user's own list, minus ext and fd)."""
    wanted = os.environ.get("GIT_ALLOW_PROTOCOL") or ":".join(SAFE_PROTOCOLS)
    allowed = [p for p in wanted.split(":") if p and p.lower() not in REFUSED_PROTOCOLS]
    return {"GIT_ALLOW_PROTOCOL": ":".join(allowed or SAFE_PROTOCOLS)}


def refuse_symlinks(root: Path, rel_parts: Iterable[str], what: str) -> None:
    """Refuse ``root/<part>/<part>...`` when any of those components is a symlink (never followed)."""
    current = root
    for part in rel_parts:
        current = current / part
        if current.is_symlink():
            raise UnsafePath(
                f"{current} is a symlink (to {os.readlink(current)}); {what} never goes through a symlink: "
                "expected a real folder or file there"
            )


# -- tree entries ------------------------------------------------------------------------------
class Entry(NamedTuple):
    mode: str
    type: str
    sha: str
    size: int


def tree_entries(run: Run, ref: str, paths: Iterable[str]) -> dict[str, Entry]:
    """The entries of ``paths`` (exact paths, not their contents) in the tree at ``ref``."""
    paths = list(paths)
    if not paths:
        return {}
    out = run("ls-tree", "-l", "-z", "--full-tree", ref, "--", *paths)
    entries = {}
    for record in out.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, type_, sha, size = meta.split()
        entries[path] = Entry(mode, type_, sha, int(size) if size.isdigit() else 0)
    return entries


def _kind(run: Run, entry: Entry) -> str:
    if entry.mode == "120000":
        target = run("cat-file", "blob", entry.sha)[:200]
        return f"a symlink (to {target!r})"
    return {"160000": "a submodule", "040000": "a folder"}.get(
        entry.mode, f"a {entry.type} (mode {entry.mode})"
    )


def refuse_links(run: Run, ref: str, folder: str, names: Iterable[str], where: str) -> None:
    """Refuse when a parent of ``folder`` (or itself) is not a folder, or ``folder/<name>`` exists as
    anything but a regular file, in the tree at ``ref``: ML-Git metadata holds nothing else."""
    refuse_links_for(run, ref, [f"{folder}/{n}" for n in names], where)


def refuse_links_for(run: Run, ref: str, files: Iterable[str], where: str) -> None:
    """Refuse when, in the tree at ``ref``, a parent folder of one of ``files`` is not a folder or one
    of ``files`` exists as anything but a regular file (a symlink, a submodule)."""
    files = list(files)
    prefixes = sorted({"/".join(f.split("/")[:i]) for f in files for i in range(1, f.count("/") + 1)})
    entries = tree_entries(run, ref, prefixes + files)
    for path in prefixes:
        e = entries.get(path)
        if e is not None and e.type != "tree":
            raise UnsafeMetadata(
                f"{where}: {path} is {_kind(run, e)} in the tree at {ref}; expected a folder "
                "(ML-Git metadata holds only folders and regular files); refusing to write through it"
            )
    for path in files:
        e = entries.get(path)
        if e is not None and e.mode not in REGULAR_MODES:
            raise UnsafeMetadata(
                f"{where}: {path} is {_kind(run, e)} in the tree at {ref}; expected a regular file "
                "(ML-Git metadata holds only folders and regular files); refusing to write through it"
            )


def read_blob(repo: Any, run: Run, ref: str, path: str, limit: int, where: str) -> bytes:
    """The bytes of the regular file ``path`` at ``ref``: a symlink, submodule or folder there is refused
    (never resolved), and so is a file larger than ``limit``. One ``ls-tree``; the bytes come through
    GitPython's long-lived ``cat-file`` process."""
    return read_entry(repo, run, ref, path, tree_entries(run, ref, [path]).get(path), limit, where)


def list_tree(run: Run, ref: str) -> dict[str, Entry]:
    """Every file (blob, symlink, submodule) of the tree at ``ref``, with mode and size: one ``ls-tree``."""
    entries = {}
    for record in run("ls-tree", "-r", "-l", "-z", "--full-tree", ref).split("\0"):
        if record:
            meta, _, path = record.partition("\t")
            mode, type_, sha, size = meta.split()
            entries[path] = Entry(mode, type_, sha, int(size) if size.isdigit() else 0)
    return entries


def read_entry(repo: Any, run: Run, ref: str, path: str, e: Entry | None, limit: int, where: str) -> bytes:
    """The bytes of tree entry ``e`` (``path`` at ``ref``), refused unless a regular file within ``limit``."""
    if e is None:
        raise MetadataError(f"{path} not found at {ref} in {where}")
    if e.mode not in REGULAR_MODES:
        raise UnsafeMetadata(
            f"{ref}:{path} in {where} is {_kind(run, e)}; expected a regular file "
            "(ML-Git metadata holds only folders and regular files)"
        )
    if e.size > limit:
        raise UnsafeMetadata(f"{ref}:{path} in {where} holds {e.size} bytes; expected at most {limit}")
    data: bytes = repo.odb.stream(bytes.fromhex(e.sha)).read()
    return data


# -- commits from blobs ----------------------------------------------------------------------------
def commit_files(
    repo: Any,
    run: Run,
    folder: str,
    files: dict[str, bytes],
    message: str,
    where: str,
    tag: str | None = None,
) -> tuple[str, str | None]:
    """A commit on HEAD whose tree is HEAD's with ``folder/<name>`` set to each of ``files``, and, with
    ``tag``, an annotated tag of it (``Automatic tag "TAG"``, the committer as tagger).

    Blobs, trees and the tag object are written in this process (gitobjects): nothing is written through
    the work tree (whose symlinks the remote controls), and a symlink or submodule on the way to ``folder``
    or in place of one of ``files`` is refused. ``git commit-tree`` writes the commit (git's identity
    rules, ``GitIdentityMissing`` when there is none); one ``update-ref`` transaction then moves the branch
    and creates the tag, or does neither when HEAD moved meanwhile or the tag exists (a concurrent commit
    in this clone). A commit that would not change the tree is refused. Returns (new commit, previous HEAD).
    """
    for part in [*folder.split("/"), *files]:  # what git's update-index refuses (verify_path)
        if part in ("", ".", "..") or part.lower() == ".git" or "/" in part or "\0" in part:
            raise MetadataError(f"{where}: invalid path {folder}/{part!r}: git holds no such file name")
    try:  # read from the ref files, no git process; None on an unborn branch
        head: str | None = git.SymbolicReference.dereference_recursive(repo, "HEAD")
    except (ValueError, OSError):
        head = None
    with gitobjects.ObjectStore(repo, where) as store:
        root = store.root_tree(head) if head else None
        blobs = {name: store.write("blob", data) for name, data in files.items()}
        tree = _tree_with(store, run, root, folder.split("/"), blobs, where, head or "HEAD")
        if tree == root:
            raise MetadataError(
                f"{where}: the commit of {folder} would not change the tree (expected a new spec and "
                "manifest); nothing was committed or tagged"
            )
        commit = run("commit-tree", tree, *(["-p", head] if head else []), "-m", message).strip()
        updates: list[tuple[str, ...]] = [("update", "HEAD", commit, head or ZERO)]
        if tag is not None:
            tagger = store.commit_field(commit, "committer")  # what git tag -a writes: the committer
            body = b'object %s\ntype commit\ntag %s\ntagger %s\n\nAutomatic tag "%s"\n' % (
                commit.encode(),
                tag.encode(),
                tagger,
                tag.encode(),
            )
            updates.append(("create", f"refs/tags/{tag}", store.write("tag", body)))
    update_refs(repo, run, updates, f"commit: {message.splitlines()[0] if message else ''}")
    return commit, head


def _tree_with(
    store: gitobjects.ObjectStore,
    run: Run,
    tree: str | None,
    parts: list[str],
    blobs: dict[str, str],
    where: str,
    ref: str,
    done: tuple[str, ...] = (),
) -> str:
    """The id of ``tree`` (None: empty) with ``<parts>/<name>`` set to each of ``blobs``, written."""
    entries = store.tree(tree) if tree else {}
    if parts:
        path = "/".join([*done, parts[0]])
        e = entries.get(parts[0].encode())
        if e is not None and e.mode != gitobjects.FOLDER:
            found = _kind(run, Entry(e.mode, gitobjects.entry_type(e.mode), e.sha, 0))
            raise UnsafeMetadata(
                f"{where}: {path} is {found} in the tree at {ref}; expected a folder "
                "(ML-Git metadata holds only folders and regular files); refusing to write through it"
            )
        sub = _tree_with(store, run, e.sha if e else None, parts[1:], blobs, where, ref, (*done, parts[0]))
        entries[parts[0].encode()] = gitobjects.TreeEntry(gitobjects.FOLDER, sub)
    else:
        for name, sha in sorted(blobs.items()):
            e = entries.get(name.encode())
            if e is not None and e.mode not in REGULAR_MODES:
                found = _kind(run, Entry(e.mode, gitobjects.entry_type(e.mode), e.sha, 0))
                raise UnsafeMetadata(
                    f"{where}: {'/'.join([*done, name])} is {found} in the tree at {ref}; expected a "
                    "regular file (ML-Git metadata holds only folders and regular files); refusing to "
                    "write through it"
                )
            entries[name.encode()] = gitobjects.TreeEntry("100644", sha)
    return store.write("tree", gitobjects.tree_bytes(entries))


def update_refs(repo: Any, run: Run, updates: list[tuple[str, ...]], message: str | None = None) -> None:
    """One ``git update-ref --stdin -z`` transaction: every update (``("update", ref, new, old)``,
    ``("create", ref, new)``, ``("delete", ref, old)``: the old value is checked) is applied, or none is.
    NUL-separated, so a name holding a newline is one invalid ref name, never a second command."""
    listing = Path(repo.git_dir) / f"mlgit-refs-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        listing.write_bytes(
            b"".join(b"%s %s\0" % (u[0].encode(), "\0".join(u[1:]).encode()) for u in updates)
        )
        with open(listing, "rb") as fh:
            run("update-ref", *(["-m", message] if message else []), "--stdin", "-z", istream=fh)
    finally:
        listing.unlink(missing_ok=True)


# -- immutable tags --------------------------------------------------------------------------------
def tag_commits(run: Run, prefix: str) -> dict[str, tuple[str, str]]:
    """name -> (ref value, commit it peels to) for every ref under ``prefix``."""
    out = run("for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", prefix)
    refs = {}
    for line in out.splitlines():
        ref, obj, peeled = (line.split(" ") + ["", ""])[:3]
        refs[ref[len(prefix) :]] = (obj, peeled or obj)
    return refs


def merged_tags(run: Run, ref: str) -> set[str]:
    try:
        return set(run("tag", "--merged", ref).split())
    except MetadataError:  # an unborn branch, no remote-tracking branch yet
        return set()


def fetch_immutable_tags(repo: Any, run: Run, branch: str, where: str) -> set[str]:
    """Fetch the remote's branches and tags; a tag new here is created, a tag known here that the
    remote moved is TagMoved (old and new sha). Our own unpushed tags are left alone: push reports a
    version another worker took first. Two git processes when no tag moved (the fetch takes no tag
    itself, so our tags read after it are the ones before it). Returns the names of the local tags after
    the fetch (no ``git tag -l`` needed)."""
    try:  # where the remote's branch was before this fetch, read from the ref files (no process)
        before: str | None = git.SymbolicReference.dereference_recursive(
            repo, f"refs/remotes/origin/{branch}"
        )
    except (ValueError, OSError):
        before = None
    run(
        "fetch",
        "--quiet",
        "--no-tags",
        "--prune",
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
        f"+refs/tags/*:{REMOTE_TAGS}*",
    )
    both = tag_commits(run, "refs/")
    local = {k[len("tags/") :]: v for k, v in both.items() if k.startswith("tags/")}
    hidden = REMOTE_TAGS[len("refs/") :]
    remote = {k[len(hidden) :]: v for k, v in both.items() if k.startswith(hidden)}
    new: list[tuple[str, ...]] = []
    moved = []
    for name, (obj, commit) in sorted(remote.items()):
        mine = local.get(name)
        if mine is None:
            new.append(("create", f"refs/tags/{name}", obj))
        elif mine[1] != commit:
            moved.append(name)
    if moved:  # ours, not pushed yet (push reports those), or moved on the remote: refused
        unpushed = merged_tags(run, "HEAD") - (merged_tags(run, before) if before else set())
        for name in moved:
            if name not in unpushed:
                raise TagMoved(
                    f"version tag {name} moved on {where}: it is commit {local[name][1]} here and the remote "
                    f"now says {remote[name][1]}; version tags never move, so it was not taken (restore the "
                    "tag on the remote, or delete it here with git tag -d if the new content is intended)",
                    tag=name,
                    old=local[name][1],
                    new=remote[name][1],
                )
    if new:
        update_refs(repo, run, new)
    return set(local) | {name for name in remote if name not in local}


def same_folder(run: Run, a: str, b: str, folder: str) -> bool:
    """Whether ``folder`` has the same tree in commits ``a`` and ``b`` (False when either is unknown)."""
    try:
        trees = [run("rev-parse", "--verify", "-q", f"{c}:{folder}").strip() for c in (a, b)]
    except MetadataError:
        return False
    return bool(trees[0]) and trees[0] == trees[1]
