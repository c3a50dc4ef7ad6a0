"""mlgit.gitobjects and the commit built on it (gitsafe.commit_files): the trees, commits and tags mlgit
writes in-process are the ones git (and ML-Git 2.9.9) writes for the same content, read from loose
objects, packs and alternates; the branch and the tag move together or not at all."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from gitdb.util import mman

from mlgit import gitobjects, gitsafe
from mlgit.errors import MetadataError, TagNotFound
from mlgit.metadata import MetadataRepo

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "mlgit-2.9.9"


def _git(cwd: Path, *args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=data,
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    ).stdout.decode()


def _md(path: Path, url: str = "") -> MetadataRepo:
    md = MetadataRepo(path / ".ml-git" / "datasets" / "metadata", "datasets")
    md.init(url)
    return md


def _tree_by_git(md: MetadataRepo, head: str | None, folder: str, files: dict[str, bytes]) -> str:
    """The tree git itself builds: HEAD's tree read into a private index, the files added, write-tree."""
    env = {"GIT_INDEX_FILE": str(md.path / ".git" / "by-git.index")}
    _git(md.path, "read-tree", *([head] if head else ["--empty"]), env=env)
    for name, data in files.items():
        sha = _git(md.path, "hash-object", "-w", "--stdin", data=data).strip()
        _git(md.path, "update-index", "--add", "--cacheinfo", f"100644,{sha},{folder}/{name}", env=env)
    tree = _git(md.path, "write-tree", env=env).strip()
    os.unlink(env["GIT_INDEX_FILE"])
    return tree


def _commit(md: MetadataRepo, folder: str, files: dict[str, bytes], tag: str | None = None) -> str:
    head = md.probe("rev-parse", "--verify", "-q", "HEAD")
    expected = _tree_by_git(md, head.strip() if head else None, folder, files)
    commit, _ = gitsafe.commit_files(md.repo, md.git, folder, files, f"{folder} {tag}", "w", tag)
    assert _git(md.path, "rev-parse", f"{commit}^{{tree}}").strip() == expected
    return commit


def _fsck(md: MetadataRepo) -> None:
    subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=md.path, check=True, capture_output=True)


@pytest.mark.parametrize("et", ["datasets", "labels", "models"])
def test_the_versions_mlgit_wrote_get_the_same_trees_and_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, et: str
) -> None:
    """Each commit of ML-Git 2.9.9's metadata replayed with commit_files: the same tree, and the same tag
    object but for the commit it names (ML-Git writes no newline after the message, git commit-tree does)."""
    src = tmp_path / "src"
    _git(tmp_path, "clone", "-q", str(FIXTURE / f"{et}.bundle"), str(src))
    md = _md(tmp_path / "ws")
    for theirs in _git(src, "rev-list", "--reverse", "--topo-order", "--all").split():
        paths = _git(src, "diff-tree", "-r", "--root", "--no-commit-id", "--name-only", theirs).split()
        folder = {p.rsplit("/", 1)[0] for p in paths}.pop()
        files = {p.rsplit("/", 1)[1]: _git(src, "show", f"{theirs}:{p}").encode() for p in paths}
        tag = _git(src, "tag", "--points-at", theirs).strip()
        who, email, date = _git(src, "log", "-1", "--format=%cn%n%ce%n%cd", "--date=raw", theirs).splitlines()
        for role in ("AUTHOR", "COMMITTER"):
            for key, value in (("NAME", who), ("EMAIL", email), ("DATE", date)):
                monkeypatch.setenv(f"GIT_{role}_{key}", value)
        message = _git(src, "log", "-1", "--format=%B", theirs).strip()
        ours, _ = gitsafe.commit_files(md.repo, md.git, folder, files, message, "w", tag)
        assert md.git("rev-parse", f"{ours}^{{tree}}") == _git(src, "rev-parse", f"{theirs}^{{tree}}").strip()
        mine = _git(md.path, "cat-file", "tag", tag).replace(ours, theirs)
        assert mine == _git(src, "cat-file", "tag", tag)
    assert md.tags() == sorted(_git(src, "tag").split())
    _fsck(md)


NAMES = ["a", "a.b", "a-b", "a0", "ab", "b"]


def test_trees_are_the_ones_git_builds_from_loose_packed_and_borrowed_objects(tmp_path: Path) -> None:
    md = _md(tmp_path / "a")
    for name in NAMES:  # a folder "a" beside files "a.b", "a-b", "a0": git sorts it as "a/"
        _commit(md, f"cat/{name}", {f"{name}.spec": name.encode(), "MANIFEST.yaml": b"{}\n"})
        _commit(md, "top", {name: name.encode() * 3})
    (md.path / "x").mkdir()
    _commit(md, "cat/a", {"a.spec": b"a v2", "README.md": b"# a\n"})  # changes and adds beside others
    _git(md.path, "gc", "-q", "--aggressive")  # every object packed, trees as deltas
    assert not list((md.path / ".git" / "objects").glob("??/*"))
    _commit(md, "cat/ab", {"ab.spec": b"ab v2"}, "cat__ab__2")
    _commit(md, "new/deep/er", {"er.spec": b"er"})

    borrower = tmp_path / "b" / ".ml-git" / "datasets" / "metadata"  # objects through alternates only
    _git(tmp_path, "clone", "-q", "--shared", str(md.path), str(borrower))
    other = MetadataRepo(borrower, "datasets")
    assert not list((borrower / ".git" / "objects").glob("??/*"))
    _commit(other, "cat/b", {"b.spec": b"b v2"}, "cat__b__2")
    _fsck(md)
    _fsck(other)
    assert mman.num_file_handles() == 0  # no pack left mapped after a commit


def test_objects_read_as_what_they_are(tmp_path: Path) -> None:
    md = _md(tmp_path)
    commit = _commit(md, "c/d", {"d.spec": b"1"}, "c__d__1")
    with gitobjects.ObjectStore(md.repo, "w") as store:
        tag = md.git("rev-parse", "refs/tags/c__d__1").strip()
        assert store.peel(tag) == commit and store.peel(commit) == commit
        assert store.parent(commit) is None
        assert set(store.folder(commit, "c/d") or {}) == {b"d.spec"}
        assert store.folder(commit, "c/d/d.spec") is None and store.folder(commit, "x") is None
        with pytest.raises(MetadataError, match=f"object {tag} is a tag; expected a tree"):
            store.tree(tag)
        with pytest.raises(MetadataError, match="cannot be read"):
            store.read("1" * 40, "blob")
        with pytest.raises(MetadataError, match="malformed tree object .at byte 0 of 17"):
            gitobjects.parse_tree(b"100644 name\0short", "w")
    assert (
        gitobjects.canonical_mode(b"100664") == "100644" and gitobjects.canonical_mode(b"40000") == "040000"
    )


class _Interleaved:
    """md.git, but a real commit of another version lands in the same clone just before ``commit-tree``
    (what a second process on this clone would do in that window)."""

    def __init__(self, md: MetadataRepo, other: Any) -> None:
        self.md, self.other, self.done = md, other, False

    def __call__(self, *args: str, **kwargs: Any) -> str:
        if args[0] == "commit-tree" and not self.done:
            self.done = True
            self.other()
        return self.md.git(*args, **kwargs)


def test_a_concurrent_commit_stops_ours_whole(tmp_path: Path) -> None:
    md = _md(tmp_path)
    _commit(md, "c/d", {"d.spec": b"1"}, "c__d__1")
    run = _Interleaved(md, lambda: md.commit_entity("c/e", {"e.spec": b"1"}, "e1", "c__e__1"))
    with pytest.raises(MetadataError, match="update-ref .* expected"):
        gitsafe.commit_files(md.repo, run, "c/d", {"d.spec": b"2"}, "d2", "w", "c__d__2")
    assert md.tags() == ["c__d__1", "c__e__1"]  # ours not tagged, the other's branch not moved back
    assert md.git("rev-parse", "HEAD").strip() == md.tag_sha("c__e__1")


def test_a_tag_that_exists_leaves_the_branch_where_it_was(tmp_path: Path) -> None:
    md = _md(tmp_path)
    one = _commit(md, "c/d", {"d.spec": b"1"}, "c__d__1")
    _git(md.path, "tag", "c__d__2", one)  # someone took the name
    with pytest.raises(MetadataError, match="c__d__2"):
        md.commit_entity("c/d", {"d.spec": b"2"}, "d2", "c__d__2")
    assert md.git("rev-parse", "HEAD").strip() == one and md.tag_sha("c__d__2") == one


def test_a_tag_whose_tree_holds_other_files_is_taken_back(tmp_path: Path) -> None:
    md = _md(tmp_path)
    one = md.commit_entity("c/d", {"d.spec": b"1"}, "d1", "c__d__1")
    two = md.commit_entity("c/d", {"d.spec": b"2"}, "d2", "c__d__2")
    with pytest.raises(MetadataError, match=r"does not hold what was written \(d.spec differs in c/d\)"):
        md.verify_tag("c__d__2", two, "c/d", {"d.spec": b"reported"})
    assert md.tags() == ["c__d__1"] and md.git("rev-parse", "HEAD").strip() == one
    md.verify_tag("c__d__1", one, "c/d", {"d.spec": b"1"})  # what it holds: nothing taken back
    assert md.tags() == ["c__d__1"]


@pytest.mark.parametrize(
    ("folder", "name"), [("c/.git", "d.spec"), ("c//d", "d.spec"), ("c/../d", "d.spec"), ("c/d", "x/y")]
)
def test_a_path_git_cannot_hold_is_refused(tmp_path: Path, folder: str, name: str) -> None:
    md = _md(tmp_path)
    with pytest.raises(MetadataError, match="invalid path"):
        gitsafe.commit_files(md.repo, md.git, folder, {name: b"x"}, "m", "w", "c__d__1")
    assert md.tags() == [] and not md.has_commits()


def test_a_tag_name_is_one_ref_name_in_the_transaction(tmp_path: Path) -> None:
    """A newline in a tag name is an invalid ref name, not a second ref update (update-ref -z)."""
    md = _md(tmp_path)
    one = _commit(md, "c/d", {"d.spec": b"1"}, "c__d__1")
    evil = f"c__d__2\ndelete refs/tags/c__d__1 {one}"
    with pytest.raises(MetadataError, match="update-ref"):
        gitsafe.commit_files(md.repo, md.git, "c/d", {"d.spec": b"2"}, "d2", "w", evil)
    assert md.tags() == ["c__d__1"] and md.git("rev-parse", "HEAD").strip() == one


def test_an_object_gitdb_cannot_read_is_read_by_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mock, for a fault that cannot be caused for real here: a pack layout gitdb does not know (git
    reads every layout it writes). The object then comes from git's own cat-file."""
    md = _md(tmp_path)
    commit = _commit(md, "c/d", {"d.spec": b"1"}, "c__d__1")

    def unknown(self: Any, sha: bytes) -> None:
        raise gitobjects.ODBError(f"no such pack layout for {sha.hex()}")

    monkeypatch.setattr(gitobjects.GitDB, "stream", unknown)
    with gitobjects.ObjectStore(md.repo, "w") as store:
        assert set(store.folder(commit, "c/d") or {}) == {b"d.spec"}
        with pytest.raises(MetadataError, match="cannot be read"):
            store.read("1" * 40, "blob")


def test_commits_from_threads_of_one_process(tmp_path: Path) -> None:
    """A flow's tasks commit from threads: each clone's trees are git's, packs read through one map manager."""
    repos = [_md(tmp_path / f"w{i}") for i in range(4)]
    for md in repos:
        for n in range(30):
            _commit(md, f"cat/e{n}", {f"e{n}.spec": b"1"})
        _git(md.path, "gc", "-q")
    errors: list[BaseException] = []

    def work(md: MetadataRepo) -> None:
        try:
            for v in range(2, 8):
                _commit(md, f"cat/e{v}", {f"e{v}.spec": str(v).encode()}, f"cat__e{v}__{v}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(md,)) for md in repos]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for md in repos:
        assert len(md.tags()) == 6
        _fsck(md)


def test_tag_sha_read_from_loose_and_packed_refs(tmp_path: Path) -> None:
    md = _md(tmp_path)
    one = md.commit_entity("c/d", {"d.spec": b"1"}, "d1", "c__d__1")
    _git(md.path, "tag", "c__light__1", one)  # a lightweight tag names the commit itself
    _git(md.path, "tag", "-a", "-m", "a tree", "c__tree__1", md.git("rev-parse", "HEAD^{tree}"))
    assert md.tag_sha("c__d__1") == one and md.tag_sha("c__light__1") == one
    _git(md.path, "pack-refs", "--all")
    assert not (md.path / ".git" / "refs" / "tags" / "c__d__1").exists()
    assert md.tag_sha("c__d__1") == one
    for absent in ("c__tree__1", "c__d__9", "../../HEAD__x__1"):  # a tree is no version; no escape
        with pytest.raises(TagNotFound):
            md.tag_sha(absent)
