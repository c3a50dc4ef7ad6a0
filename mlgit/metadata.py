"""A metadata repository (``.ml-git/<type>/metadata``): a git clone of the entity type's remote.

Git runs through one runner (``MetadataRepo.git``) with ``user.useConfigOnly`` so a missing identity
fails instead of committing as ``root@host``. What needs no git process is done in this one: the ref
files read, a commit's trees and its tag written (gitobjects). Reads at a tag use git objects, never a
checkout, so reading an old version does not move the working tree.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import git
from git.exc import GitCommandError, UnsafeOptionError, UnsafeProtocolError

from . import gitobjects, gitsafe
from .errors import GitIdentityMissing, MetadataError, TagMoved, TagNotFound, VersionConflict
from .names import parse_tag, tag_name, tag_version

log = logging.getLogger(__name__)
DEFAULT_BRANCH = "master"  # what ML-Git's metadata repositories use
PUSH_ATTEMPTS = 40  # 8 ran out with 8 workers pushing at once on 2 cores
_PLAIN_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")  # a tag name read as a ref file without git
#: jitter of the push backoff: a generator of its own (the global one may be seeded or watched by the caller)
_JITTER = random.Random()
MAX_BLOB = 256 << 20  # a spec, MANIFEST or README read from a metadata tree: a 1M-file manifest is ~90 MB


def _rejected_refs(porcelain: str) -> list[str]:
    """The refs ``git push --porcelain`` reports as rejected (flag ``!``): by us (not a fast-forward,
    the tag exists) or by the remote (a ref another push locked); an atomic push rejects them all."""
    refs = []
    for line in porcelain.splitlines():
        flag, _, rest = line.partition("\t")
        if flag == "!":
            refs.append(rest.split("\t", 1)[0].rsplit(":", 1)[-1])
    return refs


def _blob_sha(data: bytes) -> str:
    """The id git gives ``data`` as a blob."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _versions(tags: Iterable[str], name: str | None) -> list[str]:
    """The version tags among ``tags`` (of entity ``name``), sorted by entity then version number."""
    found = []
    for tag in (t.strip() for t in tags):
        parsed = parse_tag(tag)
        if parsed and (name is None or parsed[1] == name):
            found.append(tag)
    return sorted(found, key=lambda t: (tag_name(t), tag_version(t) or 0))


def _shown(args: tuple[str, ...] | list[str]) -> str:
    """The command as an error message shows it: its first arguments, secrets redacted."""
    words = [a if len(a) <= 80 else a[:77] + "..." for a in args[:4]]
    return gitsafe.redact("git " + " ".join(words) + (" ..." if len(args) > 4 else ""))


def _err(exc: GitCommandError) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    text = text.replace("stderr: ", "").strip().strip("'").strip()
    return gitsafe.redact(" ".join(text.split())[:400])


class MetadataRepo:
    def __init__(self, path: Path, entity_type: str) -> None:
        self.path = path
        self.entity_type = entity_type
        self._repo: git.Repo | None = None
        self._trees: dict[str, dict[str, gitsafe.Entry]] = {}  # commit sha -> its files (immutable)

    # -- setup ---------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return (self.path / ".git").exists()

    @property
    def repo(self) -> git.Repo:
        if self._repo is None:
            if not self.exists:
                raise MetadataError(
                    f"metadata repository for {self.entity_type} not initialized at {self.path}; "
                    f"run: ml-git {self.entity_type} init"
                )
            self._refuse_symlinked()
            self._repo = git.Repo(self.path)
            self._repo.git.update_environment(**gitsafe.git_env())
        return self._repo

    def _refuse_symlinked(self) -> None:
        """``.ml-git/<type>/metadata/.git`` reached through no symlink (a cloned project could plant one)."""
        gitsafe.refuse_symlinks(self.path.parents[2], [*self.path.parts[-3:], ".git"], "mlgit")

    def git(self, *args: str, **kwargs: Any) -> str:
        """The one git runner: ``git ARGS`` in this repository; any failure is ``MetadataError`` naming
        the command and git's own message (never a raw ``GitCommandError``)."""
        out = self._run(args, True, **kwargs)
        assert out is not None
        return out

    def probe(self, *args: str) -> str | None:
        """``git ARGS`` whose failure is an answer (``rev-parse --verify``, ``config --get``): its
        output, or None when git exits non-zero."""
        return self._run(args, False)

    def _run(self, args: tuple[str, ...], check: bool, **kwargs: Any) -> str | None:
        status, out, err = self._execute(args, **kwargs)
        if status == 0:
            return out
        if not check:
            return None
        text = gitsafe.redact(" ".join((err or out).replace("stderr: ", "").split())[:400])
        raise MetadataError(f"{_shown(args)} in {self.path} failed (exit {status}): {text or 'no message'}")

    def _execute(self, args: tuple[str, ...], **kwargs: Any) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of ``git ARGS``; only a git that cannot start raises."""
        cmd = ["git", "-c", "user.useConfigOnly=true", "-c", "advice.detachedHead=false", *args]
        try:
            status, out, err = self.repo.git.execute(
                cmd, with_extended_output=True, with_exceptions=False, **kwargs
            )
        except (GitCommandError, OSError) as exc:
            raise MetadataError(f"{_shown(args)} in {self.path} could not run: {exc}") from exc
        return int(status), str(out), str(err)

    def init(self, url: str) -> None:
        """Clone the remote (or start an empty repository tracking it). Idempotent."""
        if url:
            gitsafe.check_remote_url(url, f"the {self.entity_type} metadata remote")
        if self.exists:
            current = self.remote_url()
            if url and current != url:
                self.git("remote", "set-url", "origin", url) if current else self.git(
                    "remote", "add", "origin", url
                )
            return
        self._refuse_symlinked()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if url:
            try:
                self._repo = git.Repo.clone_from(url, self.path, env=gitsafe.git_env())
            except (GitCommandError, UnsafeProtocolError, UnsafeOptionError) as exc:
                text = _err(exc) if isinstance(exc, GitCommandError) else str(exc)
                raise MetadataError(
                    f"could not clone the {self.entity_type} metadata remote {gitsafe.redact(url)}: {text}"
                ) from exc
            self._repo.git.update_environment(**gitsafe.git_env())
            if not self.has_commits():
                self.git("symbolic-ref", "HEAD", f"refs/heads/{DEFAULT_BRANCH}")
        else:
            self._repo = git.Repo.init(self.path, initial_branch=DEFAULT_BRANCH)
            self._repo.git.update_environment(**gitsafe.git_env())

    def remote_url(self) -> str:
        """``remote.origin.url`` of the clone, read from its config file (no git process)."""
        try:
            reader = self.repo.config_reader("repository")
            return str(reader.get_value('remote "origin"', "url", "")).strip()
        except (OSError, ValueError, KeyError) as exc:
            raise MetadataError(f"{self.path}/.git/config: cannot be read ({exc})") from exc

    def has_commits(self) -> bool:
        return self.ref_exists("HEAD")

    @property
    def branch(self) -> str:
        """The branch HEAD names, read from ``.git/HEAD`` (no git process)."""
        try:
            head = (self.path / ".git" / "HEAD").read_text(errors="replace").strip()
        except OSError:
            return DEFAULT_BRANCH
        return head[len("ref: refs/heads/") :] if head.startswith("ref: refs/heads/") else DEFAULT_BRANCH

    # -- reading ---------------------------------------------------------------------------
    def fetch(self) -> bool:
        """Fetch branches and tags; False when there is no remote. A version tag known here that the
        remote moved is TagMoved (tags are immutable), never taken."""
        return self._fetch() is not None

    def fetch_tags(self, name: str) -> list[str]:
        """Fetch, then ``tags(name)``, read from the listing the fetch made (no git process more)."""
        names = self._fetch()
        return self.tags(name) if names is None else _versions(names, name)

    def _fetch(self) -> set[str] | None:
        """The names of the local tags after fetching; None when there is no remote."""
        url = self.remote_url()
        if not url:
            return None
        where = f"the {self.entity_type} metadata remote {gitsafe.redact(url)}"
        gitsafe.check_remote_url(url, where)
        return gitsafe.fetch_immutable_tags(self.repo, self.git, self.branch, where)

    def update(self) -> None:
        """``git pull``: fetch, then move the branch onto the remote's (replaying local commits)."""
        if not self.fetch():
            return
        remote_ref = f"origin/{self.branch}"
        if not self.ref_exists(remote_ref):
            return
        if not self.has_commits():
            self.git("reset", "--quiet", "--hard", remote_ref)
            return
        self._rebase_keeping_tags(remote_ref)

    def ref_exists(self, ref: str) -> bool:
        return self.probe("rev-parse", "--verify", "-q", ref) is not None

    def tags(self, name: str | None = None) -> list[str]:
        """The version tags (of entity ``name``), oldest version first."""
        return _versions(self.git("tag", "-l", f"*__{name}__*" if name else "*").splitlines(), name)

    def tag_sha(self, tag: str) -> str:
        """The commit of ``tag``: read from the ref files and objects in this process when the name is a
        plain one (a version tag), else asked of git (``rev-parse``, which checks the name)."""
        plain = _PLAIN_TAG.fullmatch(tag) and ".." not in tag and not tag.endswith(".lock")
        sha = self._peeled(tag) if plain else None
        sha = sha or self.probe("rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}")
        if sha is None:
            raise TagNotFound(
                f"tag {tag!r} not found in the {self.entity_type} metadata repository ({self.path})"
            )
        return sha.strip()

    def _peeled(self, tag: str) -> str | None:
        """The commit ``refs/tags/<tag>`` peels to, read in this process; None when it cannot say."""
        try:
            obj: str | None = git.SymbolicReference.dereference_recursive(self.repo, f"refs/tags/{tag}")
        except (ValueError, OSError):
            return None
        if not obj:
            return None
        try:
            with gitobjects.ObjectStore(self.repo, str(self.path)) as store:
                commit = store.peel(obj)
                store.read(commit, "commit")  # a tag of a tree or blob is no version
        except MetadataError:
            return None
        return commit

    def has_tag(self, tag: str) -> bool:
        return self.ref_exists(f"refs/tags/{tag}")

    def show(self, ref: str, path: str, limit: int = MAX_BLOB, label: str | None = None) -> bytes:
        """A regular file of the tree at ``ref`` (a symlink or submodule there is refused, never resolved);
        ``label`` names ``ref`` in errors (the tag a sha was read for)."""
        entries = self._trees.get(ref)
        if entries is None:
            return gitsafe.read_blob(self.repo, self.git, ref, path, limit, str(self.path))
        shown = label or ref
        return gitsafe.read_entry(self.repo, self.git, shown, path, entries.get(path), limit, str(self.path))

    def small_file(self, commit: str, path: str, limit: int = MAX_BLOB) -> bytes | None:
        """``show`` of a known path, read in this process (no git process); None when it is not there."""
        if commit in self._trees:
            return self.show(commit, path, limit) if path in self._trees[commit] else None
        with gitobjects.ObjectStore(self.repo, str(self.path)) as store:
            return store.file(commit, path, limit)

    def listing(self, commit: str) -> dict[str, gitsafe.Entry]:
        """Every file of the tree of ``commit`` (a sha: its tree never changes), from one ``ls-tree``."""
        if commit not in self._trees:
            self._trees[commit] = gitsafe.list_tree(self.git, commit)
        return self._trees[commit]

    def files(self, ref: str = "HEAD") -> list[str]:
        if ref in self._trees:
            return list(self._trees[ref])
        if ref == "HEAD" and not self.has_commits():
            return []
        return self.git("ls-tree", "-r", "--name-only", ref).splitlines()

    def find_spec(self, name: str, ref: str = "HEAD") -> str | None:
        """The path of ``<name>/<name>.spec`` in the tree at ``ref``."""
        suffix = f"{name}/{name}.spec"
        for path in self.files(ref):
            if path == suffix or path.endswith("/" + suffix):
                return path
        return None

    def log(self, path: str) -> str:
        if not self.has_commits():
            return ""
        return self.git("log", "--format=%H %ad %an <%ae>%n%n%w(0,4,4)%B", "--date=iso", "--", path)

    # -- writing ---------------------------------------------------------------------------
    def check_identity(self) -> None:
        for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            try:
                self.git("var", var)
            except MetadataError as exc:
                raise GitIdentityMissing(
                    f"git has no identity to sign the {self.entity_type} metadata commit in {self.path}: "
                    "set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL, "
                    "or git config --global user.name NAME and user.email EMAIL "
                    "(or the git author fields of the Airflow connection / Prefect block)"
                ) from exc

    def commit_entity(self, relpath: str, files: dict[str, bytes], message: str, tag: str) -> str:
        """Commit the entity's files and tag the commit (annotated), in one ref transaction (built from
        blobs: never written through the work tree, whose symlinks the remote controls); git then
        updates that folder of the work tree and its index."""
        where = f"{self.entity_type} metadata repository {self.path}"
        try:  # refuses a commit that would not change the tree (gitsafe.commit_files): no empty commits
            commit, _ = gitsafe.commit_files(self.repo, self.git, relpath, files, message, where, tag)
        except MetadataError:
            self.check_identity()  # asked only when git failed: a missing identity is the usual cause
            raise
        try:  # git replaces a symlink instead of following it
            self.git("checkout", "--quiet", commit, "--", relpath)
        except MetadataError as exc:
            log.warning("%s: committed, but the work tree of %s was not refreshed: %s", where, relpath, exc)
        self.verify_tag(tag, commit, relpath, files)
        return commit

    def verify_tag(self, tag: str, commit: str, relpath: str, files: dict[str, bytes]) -> None:
        """The tag peels to ``commit``, whose tree holds exactly ``files`` in ``relpath`` (read in this
        process; blobs compared by their git hash); else the tag is deleted and the commit taken back
        (each only if still ours), so that a tag never says something else than the commit reported."""
        where = f"{self.entity_type} metadata repository {self.path}"
        try:
            obj: str | None = git.SymbolicReference.dereference_recursive(self.repo, f"refs/tags/{tag}")
        except (ValueError, OSError):
            obj = None
        with gitobjects.ObjectStore(self.repo, where) as store:
            tagged = store.peel(obj) if obj else None
            found = {
                n.decode(errors="replace"): e.sha for n, e in (store.folder(commit, relpath) or {}).items()
            }
            parent = store.parent(commit)
        bad = sorted(set(found) ^ set(files)) or [
            n for n, data in files.items() if found[n] != _blob_sha(data)
        ]
        if tagged != commit:
            bad.insert(0, f"the tag (at {tagged or 'nothing'})")
        if not bad:
            return
        if obj is not None and tagged == commit:
            self.probe("update-ref", "-d", f"refs/tags/{tag}", obj)
        if parent:
            self.probe("update-ref", "-m", f"mlgit: {tag} taken back", "HEAD", parent, commit)
        else:
            self.probe("update-ref", "-d", "HEAD", commit)
        raise MetadataError(
            f"{self.entity_type} {tag}: the committed tree does not hold what was written "
            f"({', '.join(bad[:3])} differ{'s' if len(bad) == 1 else ''} in {relpath}); the tag was removed "
            "(another process changed the metadata clone at the same time?)"
        )

    def unpushed_tags(self) -> list[str]:
        """Version tags on our branch that the remote lacks (a push makes all of them visible)."""
        if not self.remote_url():
            return []
        ours = self._tags_merged("HEAD")  # one for-each-ref (none on an unborn branch), no rev-parse per tag
        remote = self.remote_tags()
        # by sha, not by name: a tag another worker pushed first with other content is not ours
        unpushed = sorted(
            (t for t in ours if parse_tag(t) and remote.get(t) != ours[t]),
            key=lambda t: (tag_name(t), tag_version(t) or 0),
        )
        self._refuse_moved(unpushed)
        return unpushed

    def _refuse_moved(self, tags: list[str]) -> None:
        """A tag already on the remote's branch here that the remote now gives another commit was moved
        there: TagMoved, never pushed over nor replaced (our tags go with the branch, atomically)."""
        pushed = self._tags_merged(f"refs/remotes/origin/{self.branch}")
        moved = [t for t in tags if t in pushed]
        if not moved:
            return
        peeled: dict[str, str] = {}  # tag -> the commit the remote's tag points at
        patterns = [f"refs/tags/{t}{peel}" for t in moved for peel in ("", "^{}")]
        for line in self.git("ls-remote", "--tags", "origin", *patterns).splitlines():
            sha, _, ref = line.partition("\t")
            name = ref[len("refs/tags/") :].removesuffix("^{}")
            if ref.endswith("^{}"):
                peeled[name] = sha
            else:
                peeled.setdefault(name, sha)
        for tag in moved:
            if tag in peeled:
                old = self.tag_sha(tag)
                raise TagMoved(
                    f"version tag {tag} moved on the {self.entity_type} metadata remote "
                    f"{gitsafe.redact(self.remote_url())}: it is commit {old} here and the remote now says "
                    f"{peeled[tag]}; version tags never move, so nothing was pushed (restore the tag on the "
                    "remote)",
                    tag=tag,
                    old=old,
                    new=peeled[tag],
                )

    def _tags_merged(self, ref: str) -> dict[str, str]:
        """name -> tag object of the tags reachable from ``ref`` (none when ``ref`` does not exist)."""
        out = self.probe(
            "for-each-ref", "--merged", ref, "--format=%(refname:lstrip=2) %(objectname)", "refs/tags/"
        )
        return dict(line.split(" ", 1) for line in (out or "").splitlines() if " " in line)

    def remote_tags(self) -> dict[str, str]:
        gitsafe.check_remote_url(self.remote_url(), f"the {self.entity_type} metadata remote")
        out = self.git("ls-remote", "--tags", "origin")
        tags: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/tags/") and not ref.endswith("^{}"):
                tags[ref[len("refs/tags/") :]] = sha
        return tags

    def push(self, tags: list[str]) -> int:
        """Push the branch and ``tags``. A push rejected because another worker pushed first is
        retried: fetch, replay our commits on top, move our tags to the replayed commits.
        Returns the number of attempts it took."""
        url = self.remote_url()
        if not url:
            raise MetadataError(
                f"no remote for the {self.entity_type} metadata repository; "
                f"run: ml-git repository remote {self.entity_type} add URL"
            )
        gitsafe.check_remote_url(url, f"the {self.entity_type} metadata remote")
        branch = self.branch
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            refs = [f"{branch}:refs/heads/{branch}", *[f"refs/tags/{t}:refs/tags/{t}" for t in tags]]
            status, out, err = self._execute(("push", "--atomic", "--porcelain", "origin", *refs))
            if status == 0:
                return attempt
            rejected = _rejected_refs(out)
            if not rejected or attempt == PUSH_ATTEMPTS:
                text = gitsafe.redact(" ".join((err or out).split())[:400])
                where = f"{', '.join(rejected)} rejected after {attempt} attempts" if rejected else text
                raise MetadataError(
                    f"git push of {self.entity_type} metadata to {gitsafe.redact(url)} failed: {where}"
                )
            log.info(
                "metadata push rejected (attempt %d), replaying on the remote's branch (%s)",
                attempt,
                ", ".join(rejected),
            )
            self._replay(branch, tags)
            time.sleep(_JITTER.uniform(0.05, 0.3) * min(attempt, 8))
        raise MetadataError("unreachable")  # pragma: no cover

    def _replay(self, branch: str, tags: list[str]) -> None:
        self.git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        remote_tags = self.remote_tags()
        local = gitsafe.tag_commits(self.git, "refs/tags/")
        lost = [t for t in tags if t in remote_tags and t in local and remote_tags[t] != local[t][0]]
        if lost:
            self.drop_unpushed(lost)
            raise VersionConflict(
                f"version tag {lost[0]} was pushed first by another worker with other content "
                f"({gitsafe.redact(self.remote_url())}); our commit of it was taken off the branch, the data stays staged: "
                "bump the version and commit again (or commit with auto_bump)",
                tags=lost,
            )
        self._rebase_keeping_tags(f"origin/{branch}")

    def drop_unpushed(self, tags: list[str]) -> None:
        """Take our unpushed commits tagged ``tags`` off the branch (another worker took those
        versions first): the rest of our unpushed commits is replayed on the remote's branch and
        the tags become the remote's."""
        branch = self.branch
        local = gitsafe.tag_commits(self.git, "refs/tags/")
        ours = {local[t][1] for t in tags if t in local}
        for tag in tags:
            if tag in local:
                self.git("tag", "-d", tag)
        self.fetch()
        onto = f"origin/{branch}"
        keep = [c for c in self.git("rev-list", "--reverse", f"{onto}..HEAD").split() if c not in ours]
        self._replay_onto(onto, keep)

    def _tag_commits(self) -> dict[str, str]:
        out = self.git("for-each-ref", "refs/tags", "--format=%(refname:short) %(*objectname) %(objectname)")
        tags = {}
        for line in out.splitlines():
            name, peeled, obj = (line.split(" ") + ["", ""])[:3]
            tags[name] = peeled or obj
        return tags

    def _rebase_keeping_tags(self, onto: str) -> None:
        """Replay our unpushed commits on ``onto``; tags on them move to the replayed commits."""
        mine = self.git("rev-list", "--reverse", f"{onto}..HEAD").split()
        if not mine:
            self.git("reset", "--quiet", "--hard", onto)
            return
        self._replay_onto(onto, mine)

    def _replay_onto(self, onto: str, commits: list[str]) -> None:
        """The one replay helper: copy ``commits`` (oldest first) on top of ``onto``, move the branch
        there and the tags on them to their copies. Not a git rebase: two workers versioning one entity
        both rewrite its spec and MANIFEST, which a rebase stops on (or merges line by line); each
        commit's files are replayed as they are."""
        on_them = {t: c for t, c in self._tag_commits().items() if c in set(commits)}
        head = self.git("rev-parse", onto).strip()
        moved = {}
        for old in commits:
            head = moved[old] = self._replay_commit(old, head)
        self.git("reset", "--quiet", "--hard", head)
        for tag, old in on_them.items():
            if moved[old] != old:
                self.git("tag", "-f", "-a", tag, "-m", f'Automatic tag "{tag}"', moved[old])

    def _replay_commit(self, commit: str, onto: str) -> str:
        """A copy of ``commit`` on top of ``onto``: the paths it changed take its content, the rest
        keeps ``onto``'s. Built in a private index, so the working tree is only touched by the reset."""
        index = self.path / ".git" / f"mlgit-replay-{commit[:12]}.index"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            self.git("read-tree", onto, env=env)
            fields = self.git("diff-tree", "-r", "-z", "--root", "--no-commit-id", "--raw", commit).split(
                "\0"
            )
            lines, written = [], []
            for meta, path in zip(fields[0::2], fields[1::2], strict=False):
                _old_mode, new_mode, _old_sha, new_sha, _status = meta.lstrip(":").split(" ")
                lines.append(f"{new_mode} {new_sha}\t{path}" if int(new_mode, 8) else f"0 {'0' * 40}\t{path}")
                written += [path] if int(new_mode, 8) else []
            where = f"replaying {commit[:12]} on the {self.entity_type} metadata remote's branch"
            gitsafe.refuse_links_for(self.git, onto, written, where)
            if lines:
                # a name no other task can foresee, made anew: never written through a planted symlink
                listing = index.with_suffix(f".{secrets.token_hex(8)}.info")
                with open(listing, "xb") as out:
                    out.write(("\0".join(lines) + "\0").encode())
                with open(listing, "rb") as fh:
                    self.git("update-index", "-z", "--index-info", env=env, istream=fh)
                listing.unlink()
            tree = self.git("write-tree", env=env).strip()
        finally:
            index.unlink(missing_ok=True)
        info = self.git("log", "-1", "--format=%an%x00%ae%x00%ad%x00%B", "--date=raw", commit).split("\0", 3)
        author = {"GIT_AUTHOR_NAME": info[0], "GIT_AUTHOR_EMAIL": info[1], "GIT_AUTHOR_DATE": info[2]}
        return self.git(
            "commit-tree", tree, "-p", onto, "-m", info[3].rstrip("\n") or "replayed", env=author
        ).strip()
