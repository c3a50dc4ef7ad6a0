"""mlgit.metadata: the metadata clone, commits from blobs, tags, and the replay of a rejected push.

Real git on tmp_path: a bare repository is the remote, two clones are two workers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlgit.errors import (
    GitIdentityMissing,
    MetadataError,
    TagMoved,
    TagNotFound,
    UnsafeMetadata,
    VersionConflict,
)
from mlgit.metadata import MetadataRepo


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def remote(tmp_path: Path) -> str:
    path = tmp_path / "datasets.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(path)], check=True)
    return str(path)


def _worker(tmp_path: Path, name: str, url: str) -> MetadataRepo:
    md = MetadataRepo(tmp_path / name / ".ml-git" / "datasets" / "metadata", "datasets")
    md.init(url)
    return md


def _version(md: MetadataRepo, name: str, version: int, content: str = "") -> str:
    tag = f"c__{name}__{version}"
    files = {f"{name}.spec": f"v{version} {content}".encode(), "MANIFEST.yaml": f"{content}\n".encode()}
    return md.commit_entity(f"c/{name}", files, f"{name} v{version}", tag)


def test_commit_push_and_read_at_a_tag(tmp_path: Path, remote: str) -> None:
    md = _worker(tmp_path, "a", remote)
    assert md.exists and md.branch == "master" and md.files() == []
    sha = _version(md, "d", 1, "one")
    _version(md, "d", 2, "two")
    assert md.tags() == ["c__d__1", "c__d__2"] and md.tag_sha("c__d__1") == sha
    assert md.show("c__d__1", "c/d/MANIFEST.yaml") == b"one\n"  # an old version, the work tree untouched
    assert (md.path / "c" / "d" / "MANIFEST.yaml").read_bytes() == b"two\n"
    assert md.find_spec("d") == "c/d/d.spec" and md.find_spec("e") is None
    assert md.unpushed_tags() == ["c__d__1", "c__d__2"]
    assert md.push(md.unpushed_tags()) == 1
    assert md.unpushed_tags() == []
    assert _git(Path(remote), "rev-parse", "c__d__1^{commit}").strip() == sha


def test_tags_sort_by_version_number(tmp_path: Path, remote: str) -> None:
    md = _worker(tmp_path, "a", remote)
    for v in (1, 2, 10):
        _version(md, "d", v)
    _version(md, "d-other", 1)
    assert md.tags("d") == ["c__d__1", "c__d__2", "c__d__10"]
    with pytest.raises(TagNotFound, match="'c__d__3' not found"):
        md.tag_sha("c__d__3")


def test_a_rejected_push_is_replayed_on_the_remote_branch(tmp_path: Path, remote: str) -> None:
    a, b = _worker(tmp_path, "a", remote), _worker(tmp_path, "b", remote)
    _version(a, "d", 1)
    _version(b, "e", 1)  # b has not seen a's commit
    assert a.push(["c__d__1"]) == 1
    assert b.push(["c__e__1"]) == 2  # rejected once (deterministic: b is behind), replayed, pushed
    tree = _git(Path(remote), "ls-tree", "-r", "--name-only", "master").split()
    assert {"c/d/d.spec", "c/e/e.spec"} <= set(tree)
    # the tag moved with the replayed commit: it holds e's files on top of d's
    assert "c/d/d.spec" in _git(Path(remote), "ls-tree", "-r", "--name-only", "c__e__1").split()
    assert b.tag_sha("c__e__1") == _git(Path(remote), "rev-parse", "master").strip()
    assert b.unpushed_tags() == []


def test_a_version_taken_first_by_another_worker_is_a_conflict(tmp_path: Path, remote: str) -> None:
    a, b = _worker(tmp_path, "a", remote), _worker(tmp_path, "b", remote)
    _version(a, "d", 1, "from a")
    _version(b, "d", 1, "from b")
    a.push(["c__d__1"])
    with pytest.raises(VersionConflict, match="c__d__1 was pushed first by another worker") as info:
        b.push(["c__d__1"])
    assert info.value.tags == ["c__d__1"]
    assert b.tag_sha("c__d__1") == a.tag_sha("c__d__1")  # b now holds the remote's version
    assert b.show("c__d__1", "c/d/MANIFEST.yaml") == b"from a\n"
    assert b.unpushed_tags() == []


def test_update_replays_local_commits_and_keeps_their_tags(tmp_path: Path, remote: str) -> None:
    a, b = _worker(tmp_path, "a", remote), _worker(tmp_path, "b", remote)
    _version(a, "d", 1)
    a.push(["c__d__1"])
    _version(b, "e", 1)
    b.update()
    assert b.has_tag("c__d__1") and b.unpushed_tags() == ["c__e__1"]
    assert b.show("c__e__1", "c/d/d.spec") == b"v1 "  # e's commit now sits on top of d's


def test_a_moved_tag_is_never_taken(tmp_path: Path, remote: str) -> None:
    a, b = _worker(tmp_path, "a", remote), _worker(tmp_path, "b", remote)
    _version(a, "d", 1)
    a.push(["c__d__1"])
    b.fetch()
    old = b.tag_sha("c__d__1")
    _version(a, "d", 2)
    _git(a.path, "tag", "-f", "-a", "c__d__1", "-m", "moved", "HEAD")
    _git(a.path, "push", "-q", "-f", "origin", "master", "refs/tags/c__d__1")
    with pytest.raises(TagMoved, match="version tag c__d__1 moved") as info:
        b.fetch()
    assert info.value.old == old and b.tag_sha("c__d__1") == old


def test_a_symlink_in_the_remote_tree_is_refused(tmp_path: Path, remote: str) -> None:
    attacker = tmp_path / "attacker"
    _git(tmp_path, "clone", "-q", remote, str(attacker))
    (attacker / "c" / "d").mkdir(parents=True)
    (attacker / "c" / "d" / "MANIFEST.yaml").symlink_to("/etc/passwd")
    _git(attacker, "add", "-A")
    _git(attacker, "commit", "-qm", "evil")
    _git(attacker, "push", "-q", "origin", "master")
    md = _worker(tmp_path, "a", remote)
    with pytest.raises(UnsafeMetadata, match="symlink"):
        md.show("HEAD", "c/d/MANIFEST.yaml")
    with pytest.raises(UnsafeMetadata, match="expected a regular file"):
        _version(md, "d", 1)  # never written through it


def test_no_identity_is_one_error(tmp_path: Path, remote: str, monkeypatch: pytest.MonkeyPatch) -> None:
    md = _worker(tmp_path, "a", remote)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME")
        monkeypatch.delenv(f"GIT_{role}_EMAIL")
    monkeypatch.setenv("EMAIL", "")
    with pytest.raises(GitIdentityMissing, match="git config --global user.name"):
        _version(md, "d", 1)
    assert md.tags() == []


def test_errors_are_metadata_errors(tmp_path: Path, remote: str) -> None:
    md = MetadataRepo(tmp_path / "ws" / ".ml-git" / "datasets" / "metadata", "datasets")
    with pytest.raises(MetadataError, match="run: ml-git datasets init"):
        md.tags()
    with pytest.raises(MetadataError, match="could not clone"):
        md.init(str(tmp_path / "no-such-remote.git"))
    md = _worker(tmp_path, "b", "")
    with pytest.raises(MetadataError, match="no remote for the datasets metadata repository"):
        md.push([])
    with pytest.raises(MetadataError, match="git show in .* failed"):
        md.git("show", "no-such-ref")
