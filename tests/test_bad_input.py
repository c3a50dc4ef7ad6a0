"""Every user error: one clear message (what was expected, what was found, where), nothing lost."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from helpers import Cli, Project, write

from mlgit import (
    ConfigError,
    EntityNotFound,
    GitIdentityMissing,
    InvalidName,
    LocalChanges,
    ManifestError,
    MutabilityError,
    NotARepository,
    Repository,
    SpecError,
    StorageNotFound,
    TagNotFound,
    UnsafePath,
    VersionConflict,
)


def _dataset(
    p: Project, name: str = "ds", mutability: str = "strict", files: dict[str, bytes] | None = None
) -> Path:
    path = p.repo.create("datasets", name, "cv, img", mutability, "local", "bucket")
    for rel, data in (files or {"data/a.bin": b"a" * 1000, "data/b.bin": b"b" * 10}).items():
        write(path / rel, data)
    return path


def _version(p: Project, name: str = "ds", **kw: object) -> None:
    p.repo.add("datasets", name)
    p.repo.commit("datasets", name, **kw)  # type: ignore[arg-type]
    p.repo.push("datasets", name)


@pytest.mark.parametrize("name", ["../evil", "a/b", "a__b", "", "x" * 101, "bad\nname", "-lead", "a b"])
def test_invalid_entity_name(project: Project, name: str) -> None:
    with pytest.raises(InvalidName, match="entity name: expected"):
        project.repo.create("datasets", name, "cv", "strict", "local", "bucket")
    assert not (project.root / "datasets").exists() or not any((project.root / "datasets").iterdir())


def test_invalid_categories_mutability_and_type(project: Project) -> None:
    with pytest.raises(InvalidName, match="category"):
        project.repo.create("datasets", "ds", "cv, a__b", "strict", "local", "bucket")
    with pytest.raises(InvalidName, match="mutability: expected strict, flexible or mutable, found 'rigid'"):
        project.repo.create("datasets", "ds", "cv", "rigid", "local", "bucket")
    with pytest.raises(InvalidName, match="entity type: expected datasets, labels or models, found 'tables'"):
        project.repo.status("tables", "ds")


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(NotARepository, match=r"no \.ml-git/config\.yaml"):
        Repository(tmp_path)


def test_missing_and_malformed_spec(project: Project) -> None:
    path = _dataset(project)
    spec = path / "ds.spec"
    good = spec.read_bytes()
    spec.write_text("dataset: [unclosed\n")
    with pytest.raises(SpecError, match=r"ds\.spec: malformed YAML"):
        project.repo.add("datasets", "ds")
    spec.write_text("model:\n  name: ds\n")
    with pytest.raises(SpecError, match=r"expected a top-level 'dataset:' mapping, found \['model'\]"):
        project.repo.add("datasets", "ds")
    spec.write_text(good.decode().replace("version: 1", "version: -3"))
    with pytest.raises(SpecError, match="expected 'version' to be a positive integer, found -3"):
        project.repo.add("datasets", "ds")
    spec.unlink()
    with pytest.raises(EntityNotFound, match="expected datasets/.../ds/ds.spec"):
        project.repo.add("datasets", "ds")
    assert (path / "data" / "a.bin").read_bytes() == b"a" * 1000  # nothing lost


def test_spec_extra_keys_are_kept_and_never_rewritten_by_a_read(project: Project) -> None:
    path = _dataset(project)
    spec = path / "ds.spec"
    spec.write_text(spec.read_text() + "  metadata:\n    owner:\n      name: Ana   # a comment\n")
    before = spec.read_bytes(), spec.stat().st_mtime_ns
    project.repo.status("datasets", "ds")
    project.repo.show("datasets", "ds")
    assert (spec.read_bytes(), spec.stat().st_mtime_ns) == before
    _version(project)
    committed = project.repo.show("datasets", "ds")
    assert committed["metadata"] == {"owner": {"name": "Ana"}}


def test_malformed_config(project: Project) -> None:
    (project.root / ".ml-git" / "config.yaml").write_text("datasets: {git: [\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: malformed YAML"):
        Repository(project.root)
    (project.root / ".ml-git" / "config.yaml").write_text("push_threads_count: many\n")
    with pytest.raises(ConfigError, match="'push_threads_count' must be a positive integer, found 'many'"):
        Repository(project.root)


def test_malformed_index(project: Project) -> None:
    _dataset(project)
    project.repo.add("datasets", "ds")
    index = project.root / ".ml-git" / "datasets" / "index" / "metadata" / "ds" / "INDEX.yaml"
    index.write_text("{data/a.bin: [\n")
    with pytest.raises(ManifestError, match=r"INDEX\.yaml: malformed YAML"):
        project.repo.commit("datasets", "ds")
    index.write_text('{"data/a.bin": {"hash": "not-a-cid", "size": 1, "mtime_ns": 1, "ino": 1}}')
    with pytest.raises(ManifestError, match="entry 'data/a.bin' has no valid CID, found 'not-a-cid'"):
        project.repo.status("datasets", "ds")


def test_malformed_manifest_in_metadata(project: Project, second: Project) -> None:
    _dataset(project)
    _version(project)
    md = project.repo.metadata("datasets")
    (md.path / "ds" / "MANIFEST.yaml").write_text("zdj7Wnot-a-cid: !!set\n  data/a.bin: null\n")
    (md.path / "ds" / "ds.spec").write_text(
        (md.path / "ds" / "ds.spec").read_text().replace("version: 1", "version: 2")
    )
    md.git("commit", "-qam", "broken")
    md.git("tag", "-a", "cv__img__ds__2", "-m", "broken")
    md.push(["cv__img__ds__2"])
    with pytest.raises(
        ManifestError,
        match=r"cv__img__ds__2:ds/MANIFEST.yaml: expected a CID key \(zdj7...\), found 'zdj7Wnot-a-cid'",
    ):
        second.repo.checkout("datasets", "ds")
    assert not (second.root / "datasets").exists()


def test_unknown_tag_and_version(project: Project) -> None:
    _dataset(project)
    _version(project)
    with pytest.raises(TagNotFound, match=r"no version matches 'ds version 7' .*tags of ds: cv__img__ds__1"):
        project.repo.checkout("datasets", "ds", version=7)
    with pytest.raises(TagNotFound, match="cv__img__ds__9"):
        project.repo.checkout("datasets", "cv__img__ds__9")
    with pytest.raises(TagNotFound):
        project.repo.checkout("datasets", "nothing")


def test_checkout_over_local_changes_needs_force(project: Project) -> None:
    path = _dataset(project, mutability="mutable")
    _version(project)
    (path / "data" / "a.bin").write_bytes(b"my edit")
    with pytest.raises(LocalChanges, match=r"would overwrite 1 local change\(s\) .*first: data/a.bin"):
        project.repo.checkout("datasets", "ds")
    assert (path / "data" / "a.bin").read_bytes() == b"my edit"  # nothing lost
    project.repo.checkout("datasets", "ds", force=True)
    assert (path / "data" / "a.bin").read_bytes() == b"a" * 1000


def test_no_git_identity(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    _dataset(project)
    project.repo.add("datasets", "ds")
    with pytest.raises(GitIdentityMissing, match="git config --global user.name"):
        project.repo.commit("datasets", "ds")
    assert project.repo.tags("datasets", "ds") == []


def test_no_git_identity_cli_fails_clearly(
    project: Project, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    _dataset(project)
    cli("datasets add ds", cwd=project.root)
    res = cli("datasets commit ds", ok=False, cwd=project.root)
    assert res.exit_code == 1 and res.output.startswith("ERROR - git has no identity")
    assert res.output.count("\n") == 1


@pytest.mark.parametrize("evil", ["../../outside.txt", "/tmp/abs.txt", "data/../../x", "C:/win.txt"])
def test_manifest_path_escaping_is_refused_before_writing(
    project: Project, second: Project, evil: str
) -> None:
    path = _dataset(project, mutability="mutable")
    _version(project)
    # another tool (or a hostile commit) rewrites the MANIFEST with a path that escapes
    md = project.repo.metadata("datasets")
    manifest = (md.path / "ds" / "MANIFEST.yaml").read_text()
    (md.path / "ds" / "MANIFEST.yaml").write_text(manifest.replace("data/b.bin", evil))
    (md.path / "ds" / "ds.spec").write_text(
        (path / "ds.spec").read_text().replace("version: 1", "version: 2")
    )
    md.git("commit", "-qam", "evil")
    md.git("tag", "-a", "cv__img__ds__2", "-m", "evil")
    md.push(["cv__img__ds__2"])
    before = sorted(p for p in second.root.parent.rglob("*") if ".ml-git" not in p.parts)
    with pytest.raises(ManifestError, match="expected a path inside the entity folder|absolute|escapes"):
        second.repo.checkout("datasets", "cv__img__ds__2")
    assert sorted(p for p in second.root.parent.rglob("*") if ".ml-git" not in p.parts) == before
    assert not (second.root / "datasets").exists()
    assert not (second.root.parent / "outside.txt").exists()


def test_checkout_through_a_symlinked_folder_is_refused(
    project: Project, second: Project, tmp_path: Path
) -> None:
    _dataset(project)
    _version(project)
    outside = tmp_path / "outside"
    outside.mkdir()
    (second.root / "datasets").mkdir()
    os.symlink(outside, second.root / "datasets" / "ds")
    with pytest.raises(
        UnsafePath, match=r"datasets/ds is a symlink \(to .*outside\); refusing to write through it"
    ):
        second.repo.checkout("datasets", "ds")
    assert list(outside.iterdir()) == []


def test_symlink_out_of_the_dataset_is_refused_on_add(project: Project, tmp_path: Path) -> None:
    path = _dataset(project)
    secret = write(tmp_path / "secret.txt", b"do not read")
    os.symlink(secret, path / "data" / "link.txt")
    with pytest.raises(UnsafePath, match="symlink points outside the entity folder"):
        project.repo.add("datasets", "ds")


def test_missing_storage(project: Project) -> None:
    with pytest.raises(
        ConfigError,
        match=r"storage local://nope is not configured .* run: ml-git repository storage add nope",
    ):
        project.repo.create("datasets", "ds", "cv", "strict", "local", "nope")
    path = _dataset(project)
    spec = path / "ds.spec"
    spec.write_text(spec.read_text().replace("local://bucket", "local://gone"))
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    with pytest.raises(StorageNotFound, match=r"storage local://gone is not configured"):
        project.repo.push("datasets", "ds")


def test_version_conflict_and_auto_bump(project: Project, second: Project) -> None:
    _dataset(project)
    _version(project)
    second.repo.update("datasets")
    p2 = _dataset(second, name="ds2")
    assert p2.exists()
    second.repo.checkout("datasets", "ds")
    entity = second.repo.entity_path("datasets", "ds")
    os.chmod(entity / "data", 0o755)
    write(entity / "data" / "c.bin", b"c")
    second.repo.add("datasets", "ds")
    with pytest.raises(VersionConflict, match=r"version 1 is already tagged cv__img__ds__1 .* --version=2"):
        second.repo.commit("datasets", "ds")
    v = second.repo.commit("datasets", "ds", auto_bump=True)
    assert v.version == 2 and v.tag == "cv__img__ds__2"


ROOT = os.geteuid() == 0


def test_mutability_rules(project: Project) -> None:
    strict = _dataset(project, "st", "strict")
    flex = _dataset(project, "fx", "flexible", {"data/a.bin": b"f" * 1000, "data/b.bin": b"g"})
    _version(project, "st")  # pushed: fsck can restore it from the storage
    project.repo.add("datasets", "fx")
    for path in (strict, flex):
        target = path / "data" / "a.bin"
        assert not os.access(target, os.W_OK) or os.geteuid() == 0
        assert target.stat().st_mode & 0o222 == 0  # read-only
        # hardlinked from the cache, unless 0444 does not protect it (root): then the cache has its own copy
        assert target.stat().st_nlink == (2 if not ROOT else 1)
    # an edit in place (as root can) is reported corrupted and refused by add
    os.chmod(strict / "data" / "a.bin", 0o644)
    (strict / "data" / "a.bin").write_bytes(b"edited")
    assert project.repo.status("datasets", "st").corrupted == ["data/a.bin"]
    with pytest.raises(MutabilityError, match="strict: 1 locked file"):
        project.repo.add("datasets", "st")
    with pytest.raises(MutabilityError, match="strict: its files cannot be unlocked"):
        project.repo.unlock("datasets", "st", "data/a.bin")
    # flexible: unlock, edit, add: a new version, and the cache is untouched
    target = project.repo.unlock("datasets", "fx", "data\\a.bin")
    assert target.stat().st_nlink == 1 and target.stat().st_mode & 0o200
    target.write_bytes(b"edited on purpose")
    assert project.repo.status("datasets", "fx").corrupted == []
    res = project.repo.add("datasets", "fx")
    assert res.files == 2
    report = project.repo.fsck("datasets")  # a shared inode: the strict edit hit the cache too; both restored
    assert (len(report.corrupted_index), report.corrupted_workspace, report.unfixable) == (
        0 if ROOT else 1,
        ["st/data/a.bin"],
        [],
    )
    assert project.repo.fsck("datasets").total == 0
    assert (strict / "data" / "a.bin").read_bytes() == b"a" * 1000
    assert target.read_bytes() == b"edited on purpose"
    assert (
        project.repo.layout.cache("datasets")
        .path(project.repo.store.staged("datasets", "fx")[0]["data/b.bin"].cid)
        .exists()
    )
    # an unpushed flexible file corrupted in place: as root the cache kept its own copy, so fsck restores
    # it; otherwise only root could have written it (the mode forbids it) and it has no other copy
    os.chmod(flex / "data" / "b.bin", 0o644)
    (flex / "data" / "b.bin").write_bytes(b"G")
    report = project.repo.fsck("datasets")
    assert report.corrupted_workspace == ["fx/data/b.bin"]
    assert report.unfixable == ([] if ROOT else ["fx/data/b.bin"])


def test_mutability_cannot_change_between_versions(project: Project) -> None:
    path = _dataset(project)
    _version(project)
    spec = path / "ds.spec"
    os.chmod(path / "data", 0o755)
    write(path / "data" / "c.bin", b"c")
    spec.write_text(spec.read_text().replace("mutability: strict", "mutability: mutable"))
    project.repo.add("datasets", "ds", bumpversion=True)
    with pytest.raises(MutabilityError, match="mutability cannot change between versions"):
        project.repo.commit("datasets", "ds")


def test_two_repositories_in_two_threads(project: Project, second: Project) -> None:
    errors: list[BaseException] = []

    def work(p: Project, name: str) -> None:
        try:
            _dataset(p, name, files={f"data/{i}.bin": os.urandom(5000) for i in range(30)})
            p.repo.add("datasets", name)
            p.repo.commit("datasets", name)
            p.repo.push("datasets", name)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p, n)) for p, n in ((project, "left"), (second, "right"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    project.repo.update("datasets")
    assert project.repo.tags("datasets", "right") == ["cv__img__right__1"]
    assert project.repo.tags("datasets", "left") == ["cv__img__left__1"]


def test_push_sends_every_version_it_makes_visible(project: Project, second: Project) -> None:
    """Two entities committed, one pushed: the branch carries both, so both versions' data go out."""
    _dataset(project, "one", files={"data/1.bin": b"1" * 100})
    _dataset(project, "two", files={"data/2.bin": b"2" * 100})
    for name in ("one", "two"):
        project.repo.add("datasets", name)
        project.repo.commit("datasets", name)
    res = project.repo.push("datasets", "one")
    assert res.uploaded == 4  # descriptor + chunk of each file
    second.repo.update("datasets")
    for name in ("one", "two"):
        assert second.repo.checkout("datasets", name).files == 1


def test_update_replays_local_commits_and_keeps_their_tags(project: Project, second: Project) -> None:
    _dataset(project, "one")
    _version(project, "one")
    _dataset(second, "two")
    second.repo.add("datasets", "two")
    local = second.repo.commit("datasets", "two")
    second.repo.update("datasets")  # pulls "one" under our unpushed "two"
    md = second.repo.metadata("datasets")
    moved = md.tag_sha(local.tag)  # type: ignore[arg-type]
    assert moved != local.sha and md.git("merge-base", "--is-ancestor", moved, "HEAD") == ""
    second.repo.push("datasets", "two")
    assert second.repo.branch("datasets", "two") == (local.tag, moved)
    project.repo.update("datasets")
    assert project.repo.checkout("datasets", "two").sha == moved


def test_push_refuses_a_strict_file_changed_after_add(project: Project) -> None:
    from mlgit import TransferError

    _dataset(project, files={"data/a.bin": b"a" * 300_000})
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    # in place in the cached file (the workspace file's inode, unless root: then the cache's own copy)
    cached = project.repo.layout.cache("datasets").path(
        project.repo.store.staged("datasets", "ds")[0]["data/a.bin"].cid
    )
    os.chmod(cached, 0o644)
    with open(cached, "r+b") as fh:
        fh.write(b"X")
    with pytest.raises(TransferError, match="does not match its CID: the file changed after add"):
        project.repo.push("datasets", "ds")
    assert project.repo.metadata("datasets").remote_tags() == {}  # nothing visible without its data
    from mlgit.cid import cid_of

    uploaded = list(project.bucket.iterdir())
    assert len(uploaded) < 3 and all(
        cid_of(p.read_bytes()) == p.name for p in uploaded
    )  # nothing corrupt sent


def test_checkout_and_fsck_remove_temps_of_killed_writers(project: Project) -> None:
    import subprocess

    path = _dataset(project)
    _version(project)
    proc = subprocess.Popen(["true"])  # a process that has exited: its pid names the stale temps
    proc.wait()
    tmp_dir = project.root / ".ml-git" / "tmp"  # workspace writes keep their temp files there
    tmp_dir.mkdir(exist_ok=True)
    stale = tmp_dir / f".tmp-{proc.pid}-1-a.bin"
    stale.write_bytes(b"half")
    live = tmp_dir / f".tmp-{os.getpid()}-1-b.bin"  # one being written right now: kept
    live.write_bytes(b"half")
    cached = project.repo.layout.cache("datasets").root / "hashfs" / f".tmp-{proc.pid}-7-x"
    cached.write_bytes(b"half")
    users = path / "data" / f".tmp-{proc.pid}-1-notes.txt"  # a user's file that looks like one: never touched
    os.chmod(path / "data", 0o755)
    users.write_bytes(b"mine")
    project.repo.checkout("datasets", "ds", force=True)
    assert not stale.exists() and not cached.exists() and live.exists() and users.read_bytes() == b"mine"
    live.unlink()
    stale.write_bytes(b"half")
    assert project.repo.fsck("datasets").total == 0 and not stale.exists() and users.read_bytes() == b"mine"


def test_bumpversion_is_safe_to_retry(project: Project) -> None:
    """A task retried after a crash must not mint a second version for the same data."""
    path = _dataset(project)
    _version(project)  # v1
    os.chmod(path / "data", 0o755)
    write(path / "data" / "c.bin", b"c")
    assert project.repo.add("datasets", "ds", bumpversion=True).version == 2
    assert project.repo.add("datasets", "ds", bumpversion=True).version == 2  # retried before commit
    project.repo.commit("datasets", "ds")
    assert project.repo.add("datasets", "ds", bumpversion=True).version == 2  # retried after commit
    again = project.repo.commit("datasets", "ds")
    assert (again.version, again.created) == (2, False)
    write(path / "data" / "d.bin", b"d")
    assert project.repo.add("datasets", "ds", bumpversion=True).version == 3  # new data: a new version
    assert "datasets/ds" not in project.repo.log("datasets", "ds") and "cv/img/ds" in project.repo.log(
        "datasets", "ds"
    )


def _race_for_version_2(project: Project, second: Project) -> None:
    """Both workspaces commit version 2 of one dataset with other data; the first one pushes."""
    path = _dataset(project)
    _version(project)  # v1, seen by both
    second.repo.update("datasets")
    second.repo.checkout("datasets", "ds")
    p2 = second.repo.entity_path("datasets", "ds")
    for p, data in ((path, b"mine"), (p2, b"theirs")):
        os.chmod(p / "data", 0o755)
        write(p / "data" / "new.bin", data)
    for p in (project, second):
        p.repo.add("datasets", "ds", bumpversion=True)
        assert p.repo.commit("datasets", "ds", message="v2 work").tag == "cv__img__ds__2"
    project.repo.push("datasets", "ds")


def test_a_version_taken_first_by_another_worker(project: Project, second: Project) -> None:
    _race_for_version_2(project, second)
    with pytest.raises(VersionConflict, match="cv__img__ds__2 was pushed first by another worker"):
        second.repo.push("datasets", "ds")
    md = second.repo.metadata("datasets")
    assert md.git("log", "--format=%s").count("v2 work") == 1  # our losing commit is off the branch
    assert second.repo.branch("datasets", "ds") is None  # our v2 is not a version
    again = second.repo.commit("datasets", "ds", message="v2 work", auto_bump=True)  # the staged data
    assert again.tag == "cv__img__ds__3"
    won = second.repo.push("datasets", "ds")
    assert (won.tag, won.created) == ("cv__img__ds__3", True)
    project.repo.update("datasets")
    assert project.repo.tags("datasets", "ds") == ["cv__img__ds__1", "cv__img__ds__2", "cv__img__ds__3"]
    got = Path(project.repo.checkout("datasets", "ds", version=3).path)
    assert (got / "data" / "new.bin").read_bytes() == b"theirs"
    assert md.git("log", "-1", "--format=%s", "cv__img__ds__3") == "v2 work"


def test_push_with_auto_bump_takes_the_next_free_version(project: Project, second: Project) -> None:
    _race_for_version_2(project, second)
    won = second.repo.push("datasets", "ds", auto_bump=True)
    assert (won.tag, won.created) == ("cv__img__ds__3", True)
    assert second.repo.branch("datasets", "ds") == (won.tag, won.sha)


def test_tags_fetch_sees_new_versions_without_moving_the_workspace(project: Project, second: Project) -> None:
    _dataset(project)
    _version(project)
    head = (
        second.repo.metadata("datasets").git("rev-parse", "HEAD")
        if second.repo.metadata("datasets").has_commits()
        else ""
    )
    assert second.repo.tags("datasets", "ds") == []
    assert second.repo.tags("datasets", "ds", fetch=True) == ["cv__img__ds__1"]
    after = (
        second.repo.metadata("datasets").git("rev-parse", "HEAD")
        if second.repo.metadata("datasets").has_commits()
        else ""
    )
    assert head == after
