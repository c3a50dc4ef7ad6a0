"""Untrusted metadata (issue 9, the git half): whoever can push to a metadata remote (or a project
repository, or plant files on the worker) makes nothing run, nothing escape the workspace, and no version
show other content than it holds.

Each attack is built the way an attacker would: a plain clone of the bare remote, changed with git
plumbing (symlinks committed with ``update-index --cacheinfo 120000``, tags force-pushed), or plain file
writes. The victim then uses the CLI (exit 1, one line) or the Repository API (one MLGitError subclass).
Every case checks a canary or a snapshot of everything outside the workspace, and a marker file that a
started process would create.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import Cli, Project, make_project, write
from security_helpers import Attacker, closed_port, git, publish, run_cli, snapshot, victim

from mlgit import ConfigError, Link, ManifestError, MetadataError, Repository, SpecError, UnsafePath
from mlgit.errors import LinkMismatch, TagMoved, UnsafeMetadata, UnsafeRemote

pytestmark = pytest.mark.timeout(240)


def _fsmonitor(marker: Path) -> bytes:
    return f'[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch {marker}"\n'.encode()


def _bumped_spec(evil: Attacker, version: int, name: str = "ds") -> bytes:
    return evil.show(f"HEAD:{name}/{name}.spec").replace(b"version: 1", f"version: {version}".encode())


# -- 1. symlinks in a metadata tree are never written through ----------------------------------------
def test_readme_symlink_to_git_config_runs_nothing(
    tmp_path: Path, remotes: dict[str, str], project: Project
) -> None:
    """v2's README holds a git config with core.fsmonitor; then README.md becomes a symlink to
    ../.git/config. Writing the README through it would run the command on the next git call."""
    publish(project)
    marker = tmp_path / "PWNED-fsmonitor"
    evil = Attacker(remotes["datasets"], tmp_path / "attacker")
    evil.put("ds/README.md", _fsmonitor(marker))
    evil.put("ds/ds.spec", _bumped_spec(evil, 2))
    evil.commit("v2", tag="cv__ds__2")
    evil.symlink("ds/README.md", "../.git/config")
    evil.commit("tidy up")
    evil.push("HEAD:refs/heads/master", "refs/tags/cv__ds__2")

    v = victim(tmp_path, remotes)
    cli = Cli(v.root)
    cli("datasets checkout ds")  # v2: its README is the config text, a regular file
    write(v.root / "datasets" / "ds" / "data" / "b.bin", b"more data")
    cli("datasets add ds --bumpversion")
    md = v.repo.metadata("datasets")
    config_before = (md.path / ".git" / "config").read_bytes()
    before = snapshot(tmp_path, v.root)
    with pytest.raises(
        UnsafeMetadata, match=r"ds/README.md is a symlink \(to '\.\./\.git/config'\).*regular file"
    ):
        v.repo.commit("datasets", "ds")
    res = cli("datasets commit ds", ok=False)
    assert res.exit_code == 1 and "ds/README.md is a symlink" in res.output and "Traceback" not in res.output
    git(md.path, "status")  # git in there runs nothing either
    assert not marker.exists()
    assert (md.path / ".git" / "config").read_bytes() == config_before
    assert snapshot(tmp_path, v.root) == before
    assert md.tags("ds") == ["cv__ds__1", "cv__ds__2"]  # nothing tagged


def test_absolute_symlink_does_not_overwrite_user_files(
    tmp_path: Path, remotes: dict[str, str], project: Project
) -> None:
    publish(project)
    bashrc = write(tmp_path / "home" / ".bashrc", b"# the user's own\n")
    evil = Attacker(remotes["datasets"], tmp_path / "attacker")
    evil.symlink("ds/MANIFEST.yaml", str(bashrc))
    evil.commit("manifest moved")
    evil.push()

    v = victim(tmp_path, remotes)
    cli = Cli(v.root)
    cli("datasets checkout ds")  # read at the tag: the genuine version
    write(v.root / "datasets" / "ds" / "data" / "b.bin", b"more data")
    cli("datasets add ds --bumpversion")
    before = snapshot(tmp_path, v.root)
    res = cli("datasets commit ds", ok=False)
    assert res.exit_code == 1
    assert f"ds/MANIFEST.yaml is a symlink (to '{bashrc}')" in res.output
    assert bashrc.read_bytes() == b"# the user's own\n"
    assert snapshot(tmp_path, v.root) == before


def test_symlinked_entity_folder_writes_nothing_outside(
    tmp_path: Path, remotes: dict[str, str], project: Project
) -> None:
    publish(project)
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = Attacker(remotes["datasets"], tmp_path / "attacker")
    evil.symlink("ds", str(outside))
    evil.commit("ds moved")
    evil.push()

    v = victim(tmp_path, remotes)
    cli = Cli(v.root)
    cli("datasets checkout ds")
    write(v.root / "datasets" / "ds" / "data" / "b.bin", b"more data")
    cli("datasets add ds --bumpversion")
    with pytest.raises(UnsafeMetadata, match=rf"ds is a symlink \(to '{outside}'\).*expected a folder"):
        v.repo.commit("datasets", "ds")
    res = cli("datasets commit ds", ok=False)
    assert res.exit_code == 1 and "ds is a symlink" in res.output
    assert list(outside.iterdir()) == []


def test_clone_of_a_project_with_a_symlinked_metadata_folder(tmp_path: Path, remotes: dict[str, str]) -> None:
    """`.ml-git/datasets/metadata -> ../../../other` once made clone rewrite another repository's origin."""
    work = tmp_path / "work"
    other = work / "other"
    other.mkdir(parents=True)
    git(other, "init", "-q")
    git(other, "remote", "add", "origin", "https://example.invalid/real.git")
    write(other / "unsaved.txt", b"uncommitted work")
    project_git = tmp_path / "project.git"
    git(tmp_path, "init", "-q", "--bare", str(project_git))
    evil = Attacker(str(project_git), tmp_path / "attacker")
    evil.put(".ml-git/config.yaml", f"datasets:\n  git: {remotes['datasets']}\nstorages: {{}}\n".encode())
    evil.symlink(".ml-git/datasets/metadata", "../../../other")
    evil.commit("project")
    evil.push()

    before = snapshot(tmp_path, work / "proj")
    res = Cli(work)(f"clone {project_git} proj", ok=False)
    assert res.exit_code == 1
    assert ".ml-git/datasets/metadata is a symlink (to '../../../other')" in res.output
    assert git(other, "remote", "get-url", "origin") == "https://example.invalid/real.git"
    assert (other / "unsaved.txt").read_bytes() == b"uncommitted work"
    assert not (work / "proj").exists()  # the refused clone is removed
    assert snapshot(tmp_path, work / "proj") == before


def test_symlinks_under_ml_git_of_a_workspace_are_refused(tmp_path: Path, remotes: dict[str, str]) -> None:
    """The same link planted in an existing workspace (another task on the worker): refused before git runs."""
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "remote", "add", "origin", "https://example.invalid/real.git")
    v = Repository.init(tmp_path / "ws")
    os.makedirs(v.root / ".ml-git" / "datasets")
    os.symlink(other, v.root / ".ml-git" / "datasets" / "metadata")
    with pytest.raises(UnsafePath, match=r"metadata is a symlink .*never goes through a symlink"):
        v.remote_add("datasets", remotes["datasets"])
    assert git(other, "remote", "get-url", "origin") == "https://example.invalid/real.git"


def test_checkout_never_reads_a_spec_through_a_symlink(
    tmp_path: Path, remotes: dict[str, str], project: Project
) -> None:
    publish(project)
    evil = Attacker(remotes["datasets"], tmp_path / "attacker")
    evil.symlink("ds/ds.spec", "/etc/passwd")
    evil.commit("v2", tag="cv__ds__2")
    evil.push("HEAD:refs/heads/master", "refs/tags/cv__ds__2")
    v = victim(tmp_path, remotes)
    with pytest.raises(UnsafeMetadata, match=r"cv__ds__2:ds/ds.spec .* is a symlink \(to '/etc/passwd'\)"):
        v.repo.checkout("datasets", "cv__ds__2")
    res = Cli(v.root)("datasets checkout cv__ds__2", ok=False)
    assert res.exit_code == 1 and "ds/ds.spec" in res.output
    assert not (v.root / "datasets").exists()


def test_a_symlink_pushed_while_we_commit_is_refused_at_the_replay(
    tmp_path: Path, remotes: dict[str, str], project: Project
) -> None:
    """Our commit is built on a clean tree; the attacker turns the entity folder into a symlink on the
    remote meanwhile. Replaying our commit on the remote's branch (a rejected push) refuses it."""
    publish(project)
    write(project.root / "datasets" / "ds" / "data" / "b.bin", b"more")
    project.repo.add("datasets", "ds", bumpversion=True)
    project.repo.commit("datasets", "ds")
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = Attacker(remotes["datasets"], tmp_path / "attacker")
    evil.symlink("ds", str(outside))
    evil.commit("ds moved")
    evil.push()
    with pytest.raises(UnsafeMetadata, match=rf"replaying .*: ds is a symlink \(to '{outside}'\)"):
        project.repo.push("datasets", "ds")
    res = Cli(project.root)("datasets push ds", ok=False)
    assert res.exit_code == 1 and "ds is a symlink" in res.output
    assert list(outside.iterdir()) == []
    assert "cv__ds__2" not in git(Path(remotes["datasets"]), "tag")


@pytest.mark.parametrize("plant", ["fifo-spec", "zero-index", "symlinked-config", "symlinked-readme"])
def test_files_planted_on_the_worker_are_not_read(tmp_path: Path, project: Project, plant: str) -> None:
    """Another task on the worker swaps one of mlgit's files for a fifo (blocks forever) or a symlink to
    /dev/zero (grows memory without bound) or to a secret (pushed to the metadata remote)."""
    publish(project)
    entity = project.root / "datasets" / "ds"
    if plant == "fifo-spec":
        (entity / "ds.spec").unlink()
        os.mkfifo(entity / "ds.spec")
        args, needle = ["datasets", "status", "ds"], "ds.spec: expected a regular file, found a fifo"
    elif plant == "zero-index":
        index = project.root / ".ml-git/datasets/index/metadata/ds/INDEX.yaml"
        index.unlink()
        os.symlink("/dev/zero", index)
        args, needle = ["datasets", "status", "ds"], "INDEX.yaml is a symlink (to /dev/zero)"
    elif plant == "symlinked-config":
        config = project.root / ".ml-git/config.yaml"
        elsewhere = write(project.root.parent / "elsewhere.yaml", config.read_bytes())
        config.unlink()
        os.symlink(elsewhere, config)
        args, needle = ["repository", "config", "show"], f"config.yaml is a symlink (to {elsewhere})"
    else:
        secret = write(project.root.parent / "id_rsa", b"-----BEGIN PRIVATE KEY-----\n")
        write(entity / "data" / "b.bin", b"more")
        project.repo.add("datasets", "ds", bumpversion=True)  # add refuses it; planted between add and commit
        (entity / "README.md").unlink()
        os.symlink(secret, entity / "README.md")
        args, needle = (
            ["datasets", "commit", "ds"],
            f"README {entity / 'README.md'} is a symlink (to {secret})",
        )
    res = run_cli(project.root, *args, timeout=30)
    assert res.returncode == 1, res.stderr
    assert needle in res.stderr and res.stderr.startswith("ERROR - ")
    assert "PRIVATE KEY" not in git(Path(project.remotes["datasets"]), "log", "--all", "-p")


@pytest.mark.parametrize(
    ("planted", "verb"),
    [
        ("datasets/index/metadata/ds", "add"),
        ("datasets/index", "add"),
        ("datasets/cache", "add"),
        ("datasets/refs/ds", "commit"),
        ("datasets/refs", "checkout"),
        ("datasets/index/metadata/ds", "checkout"),
        ("tmp", "checkout"),
    ],
)
def test_state_folders_swapped_for_symlinks_are_never_written_through(
    tmp_path: Path, project: Project, planted: str, verb: str
) -> None:
    """Another task on the worker swaps a folder of mlgit's own state under .ml-git/ (an entity's index,
    its HEAD's folder, the cache, the temp folder) for a symlink to a folder of its choosing, holding what
    the real one held: the verb refuses before it writes anything, with one line naming the symlink."""
    publish(project)
    entity = project.root / "datasets" / "ds"
    write(entity / "data" / "b.bin", b"more data")
    if verb == "commit":
        project.repo.add("datasets", "ds", bumpversion=True)
    if verb == "checkout":  # a file to build again: through .ml-git/tmp, then index and HEAD written
        (entity / "data" / "b.bin").unlink()
        (entity / "data" / "a.bin").unlink()
    real = project.root / ".ml-git" / planted
    outside = tmp_path / "outside"
    if real.is_dir():
        real.rename(outside)
    else:
        outside.mkdir()
    os.symlink(outside, real)
    before = {f: f.read_bytes() for f in outside.rglob("*") if f.is_file()}
    args = {
        "add": ["datasets", "add", "ds"],
        "commit": ["datasets", "commit", "ds"],
        "checkout": ["datasets", "checkout", "ds", "--force"],
    }[verb]
    res = run_cli(project.root, *args)
    assert res.returncode == 1, res.stderr
    assert f"{real} is a symlink (to {outside})" in res.stderr and res.stderr.startswith("ERROR - ")
    assert len(res.stderr.strip().splitlines()) == 1
    assert {f: f.read_bytes() for f in outside.rglob("*") if f.is_file()} == before  # nothing written there
    assert project.repo.metadata("datasets").tags("ds") == ["cv__ds__1"]
    if verb == "checkout":
        assert not (entity / "data" / "a.bin").exists()  # refused before any file was placed


@pytest.mark.parametrize("verb", ["unlock", "fsck", "reset"])
def test_entity_folder_swapped_for_a_symlink_is_never_written_through(
    tmp_path: Path, project: Project, verb: str
) -> None:
    """A data folder of a checked-out entity swapped for a symlink to another's folder holding a file of the
    same name: unlock (replaces the file), fsck (rebuilds it) and reset --hard (deletes it) leave it alone."""
    if verb == "reset":  # ds's only version on top of another entity's: reset --hard HEAD~1 deletes its files
        other = project.repo.create("datasets", "other", "cv", "flexible", "local", "bucket")
        write(other / "o.bin", b"other")
        project.repo.add("datasets", "other")
        project.repo.commit("datasets", "other")
    path = project.repo.create("datasets", "ds", "cv", "flexible", "local", "bucket")
    write(path / "data" / "a.bin", b"genuine data\n")
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    outside = write(tmp_path / "outside" / "a.bin", b"another's file\n").parent
    if verb == "unlock":  # the same bytes: unlock would take it for the tracked file
        (outside / "a.bin").write_bytes(b"genuine data\n")
    (path / "data" / "a.bin").unlink()
    (path / "data").rmdir()
    os.symlink(outside, path / "data")
    before = (outside / "a.bin").read_bytes(), (outside / "a.bin").stat().st_ino
    if verb == "fsck":
        res = project.repo.fsck("datasets")
        assert res.unfixable == ["ds/data/a.bin"]
    else:
        with pytest.raises(UnsafePath, match=rf"{path / 'data'} is a symlink \(to {outside}\)"):
            if verb == "unlock":
                project.repo.unlock("datasets", "ds", "data/a.bin")
            else:
                project.repo.reset("datasets", "ds", "hard", "head~1")
        assert project.repo.metadata("datasets").tags("ds") == ["cv__ds__1"]  # refused before the reset
    assert ((outside / "a.bin").read_bytes(), (outside / "a.bin").stat().st_ino) == before


# -- 2. YAML aliases ---------------------------------------------------------------------------------------
_BOMB = "".join(
    f"  {c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.mark.parametrize("where", ["spec", "manifest", "config", "index"])
def test_yaml_alias_bombs_are_refused(
    tmp_path: Path, remotes: dict[str, str], project: Project, where: str
) -> None:
    """A 700-byte billion-laughs document: refused before anything is built from it, in bounded time
    and memory (the child process has 2 GiB of address space)."""
    publish(project)
    bomb = "bomb:\n" + _BOMB
    assert len(bomb) < 800
    if where in ("spec", "manifest"):
        evil = Attacker(remotes["datasets"], tmp_path / "attacker")
        spec = _bumped_spec(evil, 2)
        if where == "spec":
            evil.put(
                "ds/ds.spec",
                spec + b"  metadata:\n" + "".join("  " + line + "\n" for line in bomb.splitlines()).encode(),
            )
            needle = "spec cv__ds__2:ds/ds.spec: malformed YAML (found YAML anchor &a at line"
        else:
            evil.put("ds/ds.spec", spec)
            evil.put("ds/MANIFEST.yaml", bomb.encode())
            needle = "manifest cv__ds__2:ds/MANIFEST.yaml: malformed YAML (found YAML anchor &a"
        evil.commit("v2", tag="cv__ds__2")
        evil.push("HEAD:refs/heads/master", "refs/tags/cv__ds__2")
        v = victim(tmp_path, remotes)
        args = ["datasets", "checkout", "cv__ds__2"]
        error: type[Exception] = SpecError if where == "spec" else ManifestError

        def api() -> object:
            return v.repo.checkout("datasets", "cv__ds__2")
    elif where == "config":
        v = project
        config = v.root / ".ml-git" / "config.yaml"
        config.write_text(config.read_text() + bomb)
        args, needle, error = (
            ["repository", "config", "show"],
            "config.yaml: malformed YAML (found YAML anchor",
            ConfigError,
        )

        def api() -> object:
            return Repository(v.root)
    else:
        v = project
        index = v.root / ".ml-git/datasets/index/metadata/ds/INDEX.yaml"
        index.write_text(bomb)
        args, needle, error = (
            ["datasets", "status", "ds"],
            "INDEX.yaml: malformed YAML (found YAML anchor",
            ManifestError,
        )

        def api() -> object:
            return v.repo.status("datasets", "ds")

    with pytest.raises(error, match="anchors or aliases"):
        api()
    res = run_cli(v.root, *args, timeout=30)
    assert res.returncode == 1, res.stderr
    assert needle in res.stderr and "ML-Git never writes them" in res.stderr


def test_what_mlgit_writes_has_no_anchors(tmp_path: Path, project: Project) -> None:
    """The same object twice in a config (a shared dict) is written twice, not as an alias we would refuse."""
    shared = {"profile": "default"}
    project.repo.set_config(
        "storages", {"s3h": {"a": {"aws-credentials": shared}, "b": {"aws-credentials": shared}}}
    )
    text = (project.root / ".ml-git" / "config.yaml").read_text()
    assert "&" not in text and "*" not in text
    assert Repository(project.root).config["storages"]["s3h"]["b"]["aws-credentials"] == shared


# -- 3. version tags are immutable ---------------------------------------------------------------------------
def _move_tag(remotes: dict[str, str], tmp_path: Path, tag: str) -> tuple[str, str]:
    """Force-push ``tag`` onto a commit with other content; returns (old, new) commit."""
    evil = Attacker(remotes["datasets"], tmp_path / "attacker")
    old = evil.git("rev-parse", f"{tag}^{{commit}}")
    evil.put("ds/README.md", b"# other content under the same version\n")
    new = evil.commit("rewrite", tag=tag, force_tag=True)
    evil.push(f"refs/tags/{tag}", force=True)
    return old, new


def test_a_moved_tag_is_refused_on_fetch(tmp_path: Path, remotes: dict[str, str], project: Project) -> None:
    tag = publish(project)
    old, new = _move_tag(remotes, tmp_path, tag)
    with pytest.raises(
        TagMoved, match=rf"version tag {tag} moved .* commit {old} here .* now says {new}"
    ) as info:
        project.repo.update("datasets")
    assert (info.value.tag, info.value.old, info.value.new) == (tag, old, new)
    res = Cli(project.root)("datasets update", ok=False)
    assert res.exit_code == 1 and tag in res.output and old in res.output and new in res.output
    write(project.root / "datasets" / "ds" / "data" / "b.bin", b"more")
    project.repo.add("datasets", "ds", bumpversion=True)
    with pytest.raises(TagMoved):  # commit fetches first: refused too, nothing committed
        project.repo.commit("datasets", "ds")
    assert project.repo.metadata("datasets").tag_sha(tag) == old  # ours never moved


def test_a_moved_tag_is_neither_pushed_over_nor_taken_at_push(
    tmp_path: Path, remotes: dict[str, str], project: Project
) -> None:
    """Push compares tags with the remote too: a pushed tag the remote moved is not mistaken for a version
    another worker took first (which would drop our genuine tag and take the rewritten one)."""
    tag = publish(project)
    write(project.root / "datasets" / "ds" / "data" / "b.bin", b"more")
    project.repo.add("datasets", "ds", bumpversion=True)
    v2 = project.repo.commit("datasets", "ds")  # committed before the tag was moved
    old, new = _move_tag(remotes, tmp_path, tag)
    with pytest.raises(TagMoved, match=rf"version tag {tag} moved .*commit {old} here .*now says {new}"):
        project.repo.push("datasets", "ds")
    res = Cli(project.root)("datasets push ds", ok=False)
    assert res.exit_code == 1 and tag in res.output and new in res.output
    md = project.repo.metadata("datasets")
    assert md.tag_sha(tag) == old and md.tag_sha(str(v2.tag)) == v2.sha  # ours kept, nothing dropped
    assert str(v2.tag) not in git(Path(remotes["datasets"]), "tag")  # and nothing pushed


def test_lineage_and_checkout_by_link_verify_the_recorded_sha(
    tmp_path: Path, remotes: dict[str, str], project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    tag = publish(project)
    publish(project, "m", "models", data=b"weights", dataset="ds")
    assert "not pushed yet" not in caplog.text  # a link to a pushed version: no warning
    old, new = _move_tag(remotes, tmp_path, tag)
    v = victim(tmp_path, remotes)  # a fresh clone: it never saw the genuine tag
    with pytest.raises(
        LinkMismatch, match=rf"models cv__m__1 records datasets {tag} at commit {old}.*commit {new}"
    ):
        v.repo.lineage("models", "cv__m__1")
    res = Cli(v.root)("models lineage cv__m__1", ok=False)
    assert res.exit_code == 1 and old in res.output and new in res.output
    for link in (Link(tag, old), {"tag": tag, "sha": old}):
        with pytest.raises(
            LinkMismatch, match=rf"checkout of the link {tag} records datasets {tag} at commit {old}"
        ):
            v.repo.checkout("datasets", link)  # type: ignore[arg-type]
    assert not (v.root / "datasets").exists()
    # the genuine link still works where the genuine tag is
    assert project.repo.lineage("models", "cv__m__1").upstream[0].sha == old
    assert project.repo.checkout("datasets", Link(tag, old), force=True).sha == old


def test_a_link_to_a_version_replayed_by_its_push_is_still_valid(
    project: Project, second: Project, caplog: pytest.LogCaptureFixture
) -> None:
    """Not an attack: labels linked to a dataset version committed but not pushed yet; another worker
    pushes first, so the dataset's commit is replayed and its tag moves (before anyone saw it). The link's
    commit holds the same entity folder: lineage and checkout by link accept it."""
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    write(path / "a.bin", b"data")
    project.repo.add("datasets", "ds")
    first = project.repo.commit("datasets", "ds").sha
    publish(second, "other")  # the remote's branch moves on
    lb = project.repo.create("labels", "lb", "cv", "strict", "local", "bucket")
    write(lb / "l.json", b"{}")
    project.repo.add("labels", "lb")
    project.repo.commit("labels", "lb", dataset="ds")
    assert "link to datasets cv__ds__1" in caplog.text and "not pushed yet" in caplog.text
    replayed = project.repo.push("datasets", "ds").sha
    project.repo.push("labels", "lb")
    assert first and replayed and first != replayed
    graph = project.repo.lineage("labels", "cv__lb__1")
    assert graph.root.dataset == Link("cv__ds__1", first) and graph.upstream[0].sha == replayed
    assert project.repo.checkout("datasets", Link("cv__ds__1", first), force=True).sha == replayed


# -- 4. git URLs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% {marker}",
        "ext://sh -c touch% {marker}",
        "fd::7",
        "FD::7,8",
        "--upload-pack=touch {marker}",
    ],
)
def test_code_running_transports_are_refused(tmp_path: Path, project: Project, url: str) -> None:
    marker = tmp_path / "PWNED-ext"
    url = url.format(marker=marker)
    publish(project)
    config = (project.root / ".ml-git" / "config.yaml").read_bytes()
    with pytest.raises(UnsafeRemote, match="git URL"):
        project.repo.remote_add("datasets", url)
    res = Cli(project.root)(f"repository remote datasets add -- '{url}'", ok=False)
    assert res.exit_code == 1 and "git URL" in res.output
    assert (project.root / ".ml-git" / "config.yaml").read_bytes() == config
    # the same URL written behind our back (a cloned project's config, a git config edit): refused at each call
    git(project.repo.metadata("datasets").path, "config", "remote.origin.url", url)
    fresh = make_project(tmp_path / "fresh", {}, tmp_path / "bucket")
    fresh.repo.set_config("datasets", {"git": url})
    for verb in (
        lambda: project.repo.update("datasets"),
        lambda: project.repo.tags("datasets", "ds", fetch=True),
        lambda: project.repo.push("datasets", "ds"),
        lambda: fresh.repo.entity_init("datasets"),
    ):
        with pytest.raises(UnsafeRemote, match="git URL"):
            verb()
    res = Cli(fresh.root)("datasets init", ok=False)
    assert res.exit_code == 1 and "git URL" in res.output
    assert not marker.exists()


def test_only_safe_transports_reach_git(
    tmp_path: Path, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote helper installed on the worker (git-remote-NAME) is not run for a URL from a config:
    GIT_ALLOW_PROTOCOL is set on every git call (this one passes GitPython's own check)."""
    marker = tmp_path / "PWNED-helper"
    bin_dir = tmp_path / "bin"
    helper = write(bin_dir / "git-remote-evil", f"#!/bin/sh\ntouch {marker}\n".encode())
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    git(project.repo.metadata("datasets").path, "config", "remote.origin.url", "evil::whatever")
    with pytest.raises(MetadataError, match="transport 'evil' not allowed"):
        project.repo.update("datasets")
    res = Cli(project.root)("datasets update", ok=False)
    assert res.exit_code == 1 and "transport 'evil' not allowed" in res.output
    assert not marker.exists()
    subprocess.run(
        ["git", "ls-remote", "evil::x"], capture_output=True
    )  # the helper runs when git may run it
    assert marker.exists()


TOKEN = "ghp_S3cretT0kenForMlgitTests0123456789"


def test_a_token_in_a_git_url_is_never_shown(
    tmp_path: Path, project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    publish(project)
    caplog.set_level(logging.DEBUG)
    url = f"https://mlgit:{TOKEN}@127.0.0.1:{closed_port()}/team/datasets.git"
    cli = Cli(project.root)
    outputs = [cli(f"repository remote datasets add {url}").output, cli("repository config show").output]
    assert "https://***@127.0.0.1" in outputs[1]
    outputs.append(cli("--verbose datasets update", ok=False).output)
    fresh = make_project(tmp_path / "fresh", {}, tmp_path / "bucket")
    fresh.repo.set_config("datasets", {"git": url})
    outputs.append(Cli(fresh.root)("--verbose datasets init", ok=False).output)
    errors = []
    for verb in (
        lambda: project.repo.push("datasets", "ds"),
        lambda: project.repo.update("datasets"),
        lambda: fresh.repo.entity_init("datasets"),
    ):
        with pytest.raises(MetadataError) as info:
            verb()
        errors.append(f"{info.value} {info.value!r}")
    everything = "\n".join([*outputs, *errors, caplog.text])
    assert "127.0.0.1" in everything and TOKEN not in everything
