"""A metadata repository (``.ml-git/<type>/metadata``): a git clone of the entity type's remote.

Everything goes through GitPython's ``Repo.git`` (the git CLI), with ``user.useConfigOnly`` so a
missing identity fails instead of committing as ``root@host``. Reads at a tag use ``git show``,
never a checkout, so reading an old version does not move the working tree.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import git
from git.exc import GitCommandError, UnsafeOptionError, UnsafeProtocolError

from . import gitsafe
from .errors import GitIdentityMissing, MetadataError, TagMoved, TagNotFound, VersionConflict
from .names import parse_tag

log = logging.getLogger(__name__)
DEFAULT_BRANCH = "master"  # what ML-Git's metadata repositories use
PUSH_ATTEMPTS = 40  # 8 ran out with 8 workers pushing at once on 2 cores
MAX_BLOB = 256 << 20  # a spec, MANIFEST or README read from a metadata tree: a 1M-file manifest is ~90 MB


def _err(exc: GitCommandError) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    text = text.replace("stderr: ", "").strip().strip("'").strip()
    return gitsafe.redact(" ".join(text.split())[:400])


class MetadataRepo:
    def __init__(self, path: Path, entity_type: str) -> None:
        self.path = path
        self.entity_type = entity_type
        self._repo: git.Repo | None = None

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

    def git(self, *args: str, **kwargs: object) -> str:
        try:
            return self.repo.git.execute(  # type: ignore[call-overload, no-any-return]
                ["git", "-c", "user.useConfigOnly=true", "-c", "advice.detachedHead=false", *args], **kwargs
            )
        except GitCommandError as exc:
            raise MetadataError(f"git {args[0]} in {self.path} failed: {_err(exc)}") from exc

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
            if not self._has_commits():
                self.git("symbolic-ref", "HEAD", f"refs/heads/{DEFAULT_BRANCH}")
        else:
            self._repo = git.Repo.init(self.path, initial_branch=DEFAULT_BRANCH)
            self._repo.git.update_environment(**gitsafe.git_env())

    def remote_url(self) -> str:
        try:
            return self.repo.git.config("--get", "remote.origin.url").strip()
        except GitCommandError:
            return ""

    def _has_commits(self) -> bool:
        try:
            self.repo.git.rev_parse("--verify", "-q", "HEAD")
            return True
        except GitCommandError:
            return False

    @property
    def branch(self) -> str:
        try:
            return self.repo.git.symbolic_ref("--short", "HEAD").strip()
        except GitCommandError:
            return DEFAULT_BRANCH

    # -- reading ---------------------------------------------------------------------------
    def fetch(self) -> bool:
        """Fetch branches and tags; False when there is no remote. A version tag known here that the
        remote moved is TagMoved (tags are immutable), never taken."""
        url = self.remote_url()
        if not url:
            return False
        where = f"the {self.entity_type} metadata remote {gitsafe.redact(url)}"
        gitsafe.check_remote_url(url, where)
        gitsafe.fetch_immutable_tags(self.repo, self.git, self.branch, where)
        return True

    def update(self) -> None:
        """``git pull``: fetch, then move the branch onto the remote's (replaying local commits)."""
        if not self.fetch():
            return
        remote_ref = f"origin/{self.branch}"
        if not self._ref_exists(remote_ref):
            return
        if not self._has_commits():
            self.git("reset", "--quiet", "--hard", remote_ref)
            return
        self._rebase_keeping_tags(remote_ref)

    def _ref_exists(self, ref: str) -> bool:
        try:
            self.repo.git.rev_parse("--verify", "-q", ref)
            return True
        except GitCommandError:
            return False

    def tags(self, name: str | None = None) -> list[str]:
        out = self.git("tag", "-l", f"*__{name}__*" if name else "*")
        tags = []
        for tag in out.splitlines():
            parsed = parse_tag(tag.strip())
            if parsed and (name is None or parsed[1] == name):
                tags.append(tag.strip())
        return sorted(tags, key=lambda t: (parse_tag(t)[1], parse_tag(t)[2]))  # type: ignore[index]

    def tag_sha(self, tag: str) -> str:
        try:
            return self.repo.git.rev_parse("--verify", "-q", f"refs/tags/{tag}^{{commit}}").strip()
        except GitCommandError:
            raise TagNotFound(
                f"tag {tag!r} not found in the {self.entity_type} metadata repository ({self.path})"
            ) from None

    def has_tag(self, tag: str) -> bool:
        return self._ref_exists(f"refs/tags/{tag}")

    def show(self, ref: str, path: str, limit: int = MAX_BLOB) -> bytes:
        """A regular file of the tree at ``ref`` (a symlink or submodule there is refused, never resolved)."""
        return gitsafe.read_blob(self.repo, self.git, ref, path, limit, str(self.path))

    def files(self, ref: str = "HEAD") -> list[str]:
        if ref == "HEAD" and not self._has_commits():
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
        if not self._has_commits():
            return ""
        return self.git("log", "--format=%H %ad %an <%ae>%n%n%w(0,4,4)%B", "--date=iso", "--", path)

    # -- writing ---------------------------------------------------------------------------
    def check_identity(self) -> None:
        for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            try:
                self.repo.git.execute(["git", "-c", "user.useConfigOnly=true", "var", var])
            except GitCommandError as exc:
                raise GitIdentityMissing(
                    f"git has no identity to sign the {self.entity_type} metadata commit in {self.path}: "
                    "set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL, "
                    "or git config --global user.name NAME and user.email EMAIL "
                    "(or the git author fields of the Airflow connection / Prefect block)"
                ) from exc

    def commit_entity(self, relpath: str, files: dict[str, bytes], message: str, tag: str) -> str:
        """Commit the entity's files (from blobs: never written through the work tree, whose symlinks the
        remote controls) and tag the commit (annotated); git then updates that folder of the work tree."""
        self.check_identity()
        where = f"{self.entity_type} metadata repository {self.path}"
        commit, head = gitsafe.commit_files(self.repo, self.git, relpath, files, message, where)
        if (
            head
            and self.git("rev-parse", f"{commit}^{{tree}}").strip()
            == self.git("rev-parse", f"{head}^{{tree}}").strip()
        ):
            self.git("update-ref", "HEAD", head, commit)  # take the empty commit back
            raise MetadataError(
                f"{self.entity_type} {relpath}: the commit of {tag} would not change the tree in {self.path} "
                "(expected a new spec and manifest); nothing was committed or tagged"
            )
        self.git("tag", "-a", tag, "-m", f'Automatic tag "{tag}"', commit)
        try:  # git replaces a symlink instead of following it
            self.git("checkout", "--quiet", commit, "--", relpath)
        except MetadataError as exc:
            log.warning("%s: committed, but the work tree of %s was not refreshed: %s", where, relpath, exc)
        self.verify_tag(tag, relpath, files)
        return commit

    def verify_tag(self, tag: str, relpath: str, files: dict[str, bytes]) -> None:
        """The tree at ``tag`` holds exactly ``files`` in ``relpath``; else the tag is deleted and the
        commit taken back, so that a tag never says something else than the commit reported."""
        found = {p.rsplit("/", 1)[-1] for p in self.files(tag) if p.rsplit("/", 1)[0] == relpath}
        bad = sorted(found ^ set(files)) or [
            n for n, data in files.items() if self.show(tag, f"{relpath}/{n}") != data
        ]
        if not bad:
            return
        commit = self.tag_sha(tag)
        self.git("tag", "-d", tag)
        if self.git("rev-parse", "HEAD").strip() == commit:
            if self._ref_exists("HEAD~1"):
                self.git("reset", "--quiet", "--soft", "HEAD~1")
            else:
                self.git("update-ref", "-d", "HEAD")
        raise MetadataError(
            f"{self.entity_type} {tag}: the committed tree does not hold what was written "
            f"({', '.join(bad[:3])} differ{'s' if len(bad) == 1 else ''} in {relpath}); the tag was removed "
            "(another process changed the metadata clone at the same time?)"
        )

    def unpushed_tags(self) -> list[str]:
        """Version tags on our branch that the remote lacks (a push makes all of them visible)."""
        if not self.remote_url() or not self._has_commits():
            return []
        merged = set(self.git("tag", "--merged", "HEAD").split())
        remote = self.remote_tags()
        # by sha, not by name: a tag another worker pushed first with other content is not ours
        unpushed = [
            t
            for t in self.tags()
            if t in merged and remote.get(t) != self.repo.git.rev_parse(f"refs/tags/{t}").strip()
        ]
        self._refuse_moved(unpushed)
        return unpushed

    def _refuse_moved(self, tags: list[str]) -> None:
        """A tag already on the remote's branch here that the remote now gives another commit was moved
        there: TagMoved, never pushed over nor replaced (our tags go with the branch, atomically)."""
        pushed = gitsafe.merged_tags(self.git, f"refs/remotes/origin/{self.branch}")
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
            try:
                self.repo.git.execute(
                    [
                        "git",
                        "push",
                        "--atomic",
                        "--quiet",
                        "--porcelain",
                        "origin",
                        f"{branch}:refs/heads/{branch}",
                        *[f"refs/tags/{t}:refs/tags/{t}" for t in tags],
                    ]
                )
                return attempt
            except GitCommandError as exc:
                text = _err(exc)
                rejected = any(
                    w in text
                    for w in (
                        "rejected",
                        "non-fast-forward",
                        "fetch first",
                        "cannot lock ref",
                        "failed to update ref",
                        "already exists",
                    )
                )
                if not rejected or attempt == PUSH_ATTEMPTS:
                    raise MetadataError(
                        f"git push of {self.entity_type} metadata to {gitsafe.redact(url)} failed: {text}"
                    ) from exc
                log.info("metadata push rejected (attempt %d), replaying on the remote's branch", attempt)
                self._replay(branch, tags)
                time.sleep(random.uniform(0.05, 0.3) * min(attempt, 8))
        raise MetadataError("unreachable")  # pragma: no cover

    def _replay(self, branch: str, tags: list[str]) -> None:
        self.git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        remote_tags = self.remote_tags()
        lost = [
            t
            for t in tags
            if t in remote_tags and remote_tags[t] != self.repo.git.rev_parse(f"refs/tags/{t}").strip()
        ]
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
        ours = {self.repo.git.rev_parse(f"refs/tags/{t}^{{commit}}").strip() for t in tags if self.has_tag(t)}
        for tag in tags:
            if self.has_tag(tag):
                self.git("tag", "-d", tag)
        self.fetch()
        onto = f"origin/{branch}"
        keep = [c for c in self.git("rev-list", "--reverse", f"{onto}..HEAD").split() if c not in ours]
        on_kept = {t: c for t, c in self._tag_commits().items() if c in set(keep)}
        head = self.git("rev-parse", onto).strip()
        moved = {}
        for old in keep:
            head = moved[old] = self._replay_commit(old, head)
        self.git("reset", "--quiet", "--hard", head)
        for tag, old in on_kept.items():
            if moved[old] != old:
                self.git("tag", "-f", "-a", tag, "-m", f'Automatic tag "{tag}"', moved[old])

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
        on_mine = {t: c for t, c in self._tag_commits().items() if c in set(mine)}
        # not a git rebase: two workers versioning one entity both rewrite its spec and MANIFEST,
        # which a rebase stops on (or merges line by line); each commit's files are replayed as they are
        head = self.git("rev-parse", onto).strip()
        moved = {}
        for old in mine:
            head = moved[old] = self._replay_commit(old, head)
        self.git("reset", "--quiet", "--hard", head)
        for tag, old in on_mine.items():
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
                listing = index.with_suffix(".info")
                listing.write_bytes(("\0".join(lines) + "\0").encode())
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
