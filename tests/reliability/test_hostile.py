"""Hostile input: whatever comes in a spec, manifest, config, index, name or file tree gets one clear
MLGitError subclass (or a documented behaviour), never a raw KeyError/TypeError, and nothing outside
the workspace is read or written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import Project, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgit import (
    ConfigError,
    InvalidName,
    ManifestError,
    MLGitError,
    Repository,
    SpecError,
    UnsafePath,
    VersionConflict,
)
from mlgit import config as cfg
from mlgit import index as idx
from mlgit import manifest as mf
from mlgit import spec as specs
from mlgit.cid import cid_of, descriptor_bytes
from mlgit.names import check_name, safe_relpath

FIXTURE_OK = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SOME = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CID = cid_of(b"x")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.binary(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), kids, max_size=4),
    ),
    max_leaves=12,
)
hostile_paths = st.one_of(
    st.sampled_from(
        [
            "../x",
            "../../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            "./a",
            "a//b",
            "C:/w",
            "\\\\srv\\x",
            "..",
            ".",
            "",
            "a/\x00b",
            "a\nb",
            "\x1b[31m",
            "a/" * 300 + "b",
        ]
    ),
    st.text(max_size=40),
)


def _yaml_or_bytes(doc: object) -> bytes:
    try:
        return yaml.safe_dump(doc).encode()
    except yaml.YAMLError:
        return repr(doc).encode()


@FIXTURE_OK
@given(doc=documents, raw=st.binary(max_size=200))
def test_any_spec_document_is_a_spec_error_or_valid(doc: object, raw: bytes) -> None:
    for data in (_yaml_or_bytes({"dataset": doc}), _yaml_or_bytes(doc), raw):
        try:
            body = specs.parse(data, "datasets", "hostile.spec", "ds")
        except (SpecError, InvalidName):
            continue
        assert body["name"] == "ds"


@FIXTURE_OK
@given(doc=documents, raw=st.binary(max_size=200), path=hostile_paths)
def test_any_manifest_is_a_manifest_error_or_safe_paths(doc: object, raw: bytes, path: str) -> None:
    for data in (
        _yaml_or_bytes(doc),
        raw,
        _yaml_or_bytes({CID: [path]}),
        _yaml_or_bytes({CID: {path: None}}),
    ):
        try:
            manifest = mf.parse(data, "hostile/MANIFEST.yaml")
        except ManifestError:  # UnsafePath is one
            continue
        for rel in manifest:
            assert not rel.startswith("/") and ".." not in rel.split("/") and safe_relpath(rel, "t") == rel


@FIXTURE_OK
@given(doc=documents, raw=st.binary(max_size=200), path=hostile_paths)
def test_any_index_is_a_manifest_error(
    tmp_path_factory: pytest.TempPathFactory, doc: object, raw: bytes, path: str
) -> None:
    f = tmp_path_factory.mktemp("index") / "INDEX.yaml"
    entry = {"hash": CID, "size": 1, "mtime_ns": 1, "ino": 1}
    for data in (
        _yaml_or_bytes(doc),
        raw,
        json.dumps({path: entry}).encode(),
        json.dumps({"a": doc}, default=str).encode(),
    ):
        f.write_bytes(data)
        try:
            index = idx.load(f)
        except ManifestError:
            continue
        assert all(safe_relpath(rel, "t") == rel for rel in index)


@FIXTURE_OK
@given(doc=documents, raw=st.binary(max_size=200))
def test_any_config_is_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, doc: object, raw: bytes
) -> None:
    root = tmp_path_factory.mktemp("proj")
    (root / ".ml-git").mkdir()
    for data in (
        _yaml_or_bytes(doc),
        raw,
        _yaml_or_bytes({"datasets": doc, "storages": doc, "push_threads_count": doc}),
    ):
        cfg.config_path(root).write_bytes(data)
        try:
            Repository(root)
        except ConfigError:
            continue


@FIXTURE_OK
@given(
    name=st.one_of(
        st.text(max_size=120),
        st.sampled_from(
            ["../x", "a/b", "a__b", "..", ".", "x" * 101, "a\x00", "a\x7f", "é", "CON", "-x", "a."]
        ),
    )
)
def test_any_name_is_checked_before_any_io(name: str) -> None:
    try:
        check_name(name)
    except InvalidName:
        return
    assert "/" not in name and ".." not in name and "__" not in name and len(name) <= 100
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace that nothing may read or write."""
    d = tmp_path / "outside"
    write(d / "secret.txt", b"outside the workspace")
    write(d / "sub" / "x.bin", b"x" * 100)
    return d


@SOME
@given(name=st.text(min_size=1, max_size=150))
def test_hostile_names_through_the_api_write_nothing_outside(
    project: Project, outside: Path, name: str
) -> None:
    before = _snapshot(outside)
    beside = sorted(p.name for p in project.root.parent.iterdir())
    for call in (
        lambda: project.repo.create("datasets", name, "cv", "strict", "local", "bucket"),
        lambda: project.repo.status("datasets", name),
        lambda: project.repo.checkout("datasets", name),
        lambda: project.repo.create("datasets", "ok", name, "strict", "local", "bucket"),
    ):
        try:
            call()
        except MLGitError:
            pass
    assert _snapshot(outside) == before
    assert sorted(p.name for p in project.root.parent.iterdir()) == beside  # nothing new beside the workspace


def test_symlinked_folder_and_symlink_out_of_the_dataset_are_refused(project: Project, outside: Path) -> None:
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    write(path / "ok.bin", b"ok")
    (path / "link-dir").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match="symlinked folders are not followed"):
        project.repo.add("datasets", "ds")
    (path / "link-dir").unlink()
    (path / "link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(UnsafePath, match="symlink points outside the entity folder"):
        project.repo.add("datasets", "ds")
    (path / "link.txt").unlink()
    (path / "inside.txt").symlink_to(path / "ok.bin")  # a symlink inside the entity is read as a file
    assert project.repo.add("datasets", "ds").files == 2
    assert not list(project.repo.layout.objects("datasets").root.rglob("*secret*"))


def test_non_utf8_file_name_is_refused_clearly(project: Project) -> None:
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    write(path / "ok.bin", b"ok")
    with open(os.path.join(os.fsencode(path), b"bad-\xff.bin"), "wb") as fh:
        fh.write(b"x")
    with pytest.raises(UnsafePath, match="not valid UTF-8"):
        project.repo.add("datasets", "ds")


def test_empty_dataset_and_zero_byte_files_round_trip(project: Project, second: Project) -> None:
    """Documented behaviour: an entity with no data files versions its spec alone; empty files are files."""
    path = project.repo.create("datasets", "empty", "cv", "strict", "local", "bucket")
    project.repo.add("datasets", "empty")
    res = project.repo.commit("datasets", "empty")
    assert res.files == 0 and project.repo.push("datasets", "empty").tag == "cv__empty__1"
    assert second.repo.checkout("datasets", "empty").files == 0
    write(path / "zero.bin", b"")
    write(path / "sub" / "zero2.bin", b"")
    project.repo.add("datasets", "empty")
    project.repo.commit("datasets", "empty", version=2)
    project.repo.push("datasets", "empty")
    second.repo.update(
        "datasets"
    )  # as in ML-Git: a name checks out the latest version the local metadata knows
    out = second.repo.checkout("datasets", "empty", force=True)
    assert out.files == 2 and (Path(out.path) / "zero.bin").read_bytes() == b""
    assert second.repo.fsck("datasets").total == 0


def test_a_tag_that_exists_with_other_content(project: Project, second: Project) -> None:
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    write(path / "a.bin", b"a")
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    project.repo.push("datasets", "ds")
    path2 = second.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    write(path2 / "b.bin", b"b")
    second.repo.add("datasets", "ds")
    with pytest.raises(VersionConflict, match="already tagged cv__ds__1 with other content"):
        second.repo.commit("datasets", "ds")


def _hostile_commit(p: Project, files: dict[str, bytes], tag: str) -> None:
    """A colleague's (hostile) metadata commit, pushed straight to the remote."""
    md = p.repo.metadata("datasets")
    md.commit_entity("ds", files, "hostile", tag)
    subprocess.run(
        ["git", "-C", str(md.path), "push", "-q", "origin", "HEAD:refs/heads/master", f"refs/tags/{tag}"],
        check=True,
    )


def _spec(name: str = "ds") -> bytes:
    return yaml.safe_dump(
        {
            "dataset": {
                "name": name,
                "version": 1,
                "categories": ["cv"],
                "mutability": "strict",
                "manifest": {"storage": "local://bucket", "files": "MANIFEST.yaml"},
            }
        }
    ).encode()


@pytest.mark.parametrize(
    "chunk", ["../../outside/secret.txt", "/etc/passwd", "zdj7W/../../../outside/x", "not-a-cid"]
)
def test_descriptor_with_hostile_chunk_links_is_refused(
    project: Project, second: Project, outside: Path, chunk: str
) -> None:
    desc = descriptor_bytes([(chunk, 21)])
    key = cid_of(desc)
    (project.bucket / key).write_bytes(desc)  # a valid CID for hostile content
    _hostile_commit(
        project, {"ds.spec": _spec(), "MANIFEST.yaml": f"{key}: !!set\n  f.bin: null\n".encode()}, "cv__ds__1"
    )
    before = _snapshot(outside)
    with pytest.raises(MLGitError):
        second.repo.checkout("datasets", "ds")
    assert _snapshot(outside) == before
    assert not (second.root / "datasets" / "ds" / "f.bin").exists()
    res = project.repo.remote_fsck("datasets", "ds")
    assert res.unfixable == [key]


@pytest.mark.parametrize("evil", ["../../outside/pwned", "/tmp/pwned-by-mlgit", "sub/../../x"])
def test_hostile_manifest_path_is_refused_and_nothing_written(
    project: Project, second: Project, outside: Path, evil: str
) -> None:
    _hostile_commit(
        project, {"ds.spec": _spec(), "MANIFEST.yaml": yaml.safe_dump({CID: [evil]}).encode()}, "cv__ds__1"
    )
    before = _snapshot(outside)
    with pytest.raises(UnsafePath):
        second.repo.checkout("datasets", "ds")
    assert _snapshot(outside) == before and not Path("/tmp/pwned-by-mlgit").exists()


def test_hostile_spec_in_the_metadata_repo_is_a_spec_error(project: Project, second: Project) -> None:
    _hostile_commit(
        project,
        {"ds.spec": b"dataset: {name: ds, version: [1], categories: cv}\n", "MANIFEST.yaml": b"{}\n"},
        "cv__ds__1",
    )
    with pytest.raises(SpecError, match="expected 'version' to be a positive integer"):
        second.repo.checkout("datasets", "ds")
    with pytest.raises(SpecError):
        second.repo.lineage("datasets", "cv__ds__1")
