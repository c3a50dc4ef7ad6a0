"""mlgit.gitsafe: git driven with untrusted input (remote URLs, trees, tags)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlgit import gitsafe
from mlgit.errors import MetadataError, UnsafeMetadata, UnsafePath, UnsafeRemote
from mlgit.metadata import MetadataRepo


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:tok3n@host/r.git", "https://***@host/r.git"),
        ("failed: ssh://git@h:22/x and https://a:b@c/d", "failed: ssh://***@h:22/x and https://***@c/d"),
        ("/plain/path.git", "/plain/path.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert gitsafe.redact(text) == shown


@pytest.mark.parametrize(
    "url", ["/srv/d.git", "file:///srv/d.git", "https://h/r.git", "ssh://git@h/r", "git@h:o/r"]
)
def test_urls_allowed(url: str) -> None:
    assert gitsafe.check_remote_url(url, "remote") == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ext::sh -c touch% /tmp/pwned", "ext:: transport"),
        ("EXT::sh", "EXT:: transport"),
        ("fd::3", "fd:: transport"),
        ("-uupload-pack=touch /tmp/x", "starts with '-'"),
        ("https://h/r\n.git", "control character"),
        ("", "expected a git URL"),
        ("https://u:secret@h/\0", "control character"),
    ],
)
def test_urls_refused(url: str, says: str) -> None:
    with pytest.raises(UnsafeRemote, match=says) as info:
        gitsafe.check_remote_url(url, "the datasets metadata remote")
    assert "secret" not in str(info.value)


def test_git_env_never_allows_ext_or_fd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIT_ALLOW_PROTOCOL", raising=False)
    assert gitsafe.git_env() == {"GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh"}
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "ext:https:fd:s3")
    assert gitsafe.git_env() == {"GIT_ALLOW_PROTOCOL": "https:s3"}
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "ext")
    assert gitsafe.git_env()["GIT_ALLOW_PROTOCOL"] == "file:git:http:https:ssh"


def test_refuse_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    gitsafe.refuse_symlinks(tmp_path, ["real", "absent"], "mlgit")
    with pytest.raises(UnsafePath, match="link is a symlink"):
        gitsafe.refuse_symlinks(tmp_path, ["link", "x"], "mlgit")


@pytest.fixture
def md(tmp_path: Path) -> MetadataRepo:
    repo = MetadataRepo(tmp_path / "ws" / ".ml-git" / "datasets" / "metadata", "datasets")
    repo.init("")
    return repo


def _plant(md: MetadataRepo, mode: str, path: str, content: bytes = b"x") -> str:
    sha = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=md.path,
            input=content,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    if mode == "160000":
        sha = md.git("rev-parse", "HEAD").strip()
    md.git("read-tree", "HEAD")  # commit_files leaves the real index alone
    md.git("update-index", "--add", "--cacheinfo", mode, sha, path)
    md.git("commit", "-qm", f"plant {path}")
    return md.git("rev-parse", "HEAD").strip()


def test_commit_files_never_writes_through_the_work_tree(md: MetadataRepo, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    commit, head = gitsafe.commit_files(
        md.repo, md.git, "c/d", {"d.spec": b"spec", "MANIFEST.yaml": b"m"}, "v1", "w"
    )
    assert head is None and md.git("rev-parse", "HEAD").strip() == commit
    assert gitsafe.read_blob(md.repo, md.git, commit, "c/d/d.spec", 100, "w") == b"spec"
    assert not (md.path / "c").exists()  # built from objects, not through the work tree
    assert not list((md.path / ".git").glob("mlgit-*"))  # no private index or ref listing left
    _plant(md, "120000", "c/e", str(victim).encode())  # c/e -> a folder outside the repository
    with pytest.raises(UnsafeMetadata, match="c/e is a symlink .* expected a folder"):
        gitsafe.commit_files(md.repo, md.git, "c/e", {"e.spec": b"x"}, "v1", "w")
    assert list(victim.iterdir()) == []


@pytest.mark.parametrize(("mode", "kind"), [("120000", "a symlink"), ("160000", "a submodule")])
def test_read_blob_refuses_links(md: MetadataRepo, mode: str, kind: str) -> None:
    gitsafe.commit_files(md.repo, md.git, "c/d", {"d.spec": b"ok"}, "v1", "w")
    head = _plant(md, mode, "c/d/MANIFEST.yaml", b"/etc/passwd")
    with pytest.raises(UnsafeMetadata, match=f"c/d/MANIFEST.yaml in .* is {kind}"):
        gitsafe.read_blob(md.repo, md.git, head, "c/d/MANIFEST.yaml", 1000, "w")
    with pytest.raises(UnsafeMetadata, match="holds 2 bytes; expected at most 1"):
        gitsafe.read_blob(md.repo, md.git, head, "c/d/d.spec", 1, "w")
    with pytest.raises(MetadataError, match="not found"):
        gitsafe.read_blob(md.repo, md.git, head, "c/d/absent", 1000, "w")


def test_same_folder(md: MetadataRepo) -> None:
    one, _ = gitsafe.commit_files(md.repo, md.git, "c/d", {"d.spec": b"1"}, "d1", "w")
    two, _ = gitsafe.commit_files(md.repo, md.git, "c/e", {"e.spec": b"1"}, "e1", "w")
    three, _ = gitsafe.commit_files(md.repo, md.git, "c/d", {"d.spec": b"2"}, "d2", "w")
    assert gitsafe.same_folder(md.git, one, two, "c/d")
    assert not gitsafe.same_folder(md.git, one, three, "c/d")
    assert not gitsafe.same_folder(md.git, one, "0" * 40, "c/d")
