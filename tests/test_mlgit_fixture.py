"""What ML-Git 2.9.9 itself wrote (tests/data/mlgit-2.9.9) checks out byte for byte."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import FIXTURE, serve_fixture

from mlgit import Repository
from mlgit.cid import cid_of

EXPECTED = yaml.safe_load((FIXTURE / "expected.yaml").read_text())


@pytest.fixture
def mirror(tmp_path: Path) -> Repository:
    remotes = serve_fixture(tmp_path / "remotes")
    bucket = tmp_path / "bucket"
    shutil.copytree(FIXTURE / "bucket", bucket)
    repo = Repository.init(tmp_path / "ws")
    for et, url in remotes.items():
        repo.remote_add(et, url)
        repo.entity_init(et)
    # the specs say s3h://mlgit-fixture: serve that bucket from a folder (an offline mirror)
    repo.set_config("storages", {"s3h": {"mlgit-fixture": {"path": str(bucket)}}})
    return repo


def test_bucket_objects_match_their_keys() -> None:
    objects = list((FIXTURE / "bucket").iterdir())
    assert len(objects) == EXPECTED["objects"]
    for obj in objects:
        assert cid_of(obj.read_bytes()) == obj.name


@pytest.mark.parametrize("tag", sorted(EXPECTED["tags"]))
def test_every_tag_checks_out_byte_for_byte(mirror: Repository, tag: str) -> None:
    et = {"birds": "datasets", "birds-boxes": "labels", "birdnet": "models"}[tag.split("__")[2]]
    result = mirror.checkout(et, tag)
    root = Path(result.path)
    got = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".spec" and p.name != "README.md"
    }
    assert got == EXPECTED["tags"][tag]
    assert result.files == len(EXPECTED["tags"][tag])
    if et == "datasets":
        assert root.relative_to(mirror.root).as_posix() == "datasets/zoo/air/birds"
        assert mirror.status(et, "birds").clean
    assert mirror.fsck(et).total == 0


def test_lineage_and_metrics_as_mlgit_recorded(mirror: Repository) -> None:
    for tag, links in EXPECTED["lineage"].items():
        et = "models" if "birdnet" in tag else "labels"
        graph = mirror.lineage(et, tag)
        assert graph.root.tag == tag
        for kind, target in links.items():
            link = getattr(graph.root, kind)
            assert link is not None and link.tag == target
            assert link.sha == mirror.metadata("datasets" if kind == "dataset" else "labels").tag_sha(target)
    for tag, metrics in EXPECTED["metrics"].items():
        assert mirror.metrics("models", "birdnet")[tag] == metrics
    full = mirror.lineage("models", "vision__wildlife__birdnet__1")
    assert [n.tag for n in full.upstream] == [
        "vision__wildlife__birds__2",
        "vision__wildlife__birds-boxes__1",
    ]


def test_versions_we_write_read_like_mlgits(mirror: Repository, tmp_path: Path) -> None:
    """A new version on top of ML-Git's history keeps its formats: spec keys, manifest sets, tag."""
    mirror.checkout("datasets", "vision__wildlife__birds__2")
    entity = mirror.entity_path("datasets", "birds")
    (entity / "data" / "new.txt").write_bytes(b"new\n")
    mirror.add("datasets", "birds", bumpversion=True)
    v = mirror.commit("datasets", "birds")
    assert v.tag == "vision__wildlife__birds__3"
    md = mirror.metadata("datasets")
    ours = yaml.safe_load(md.show(v.tag, "zoo/air/birds/birds.spec"))
    theirs = yaml.safe_load(md.show("vision__wildlife__birds__2", "zoo/air/birds/birds.spec"))
    assert set(ours["dataset"]) == set(theirs["dataset"])
    assert ours["dataset"]["manifest"]["amount"] == theirs["dataset"]["manifest"]["amount"] + 1
    manifest = md.show(v.tag, "zoo/air/birds/MANIFEST.yaml").decode()
    assert "!!set" in manifest and "data/new.txt: null" in manifest
    assert md.show(v.tag, "zoo/air/birds/README.md") == md.show(
        "vision__wildlife__birds__2", "zoo/air/birds/README.md"
    )
