"""Bytes flipped in local objects, cache and workspace files: fsck finds every one, repairs from the
storage what it can and names what it cannot. remote-fsck finds objects missing from (or rotten in)
the bucket and uploads them again from the local store."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from helpers import Cli, Project, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgit.cid import cid_of


def _flip(path: Path, rng: random.Random, keep_stat: bool = True) -> None:
    """Flip one byte in place, as bit rot does (size, mtime and inode unchanged)."""
    st_ = path.stat()
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:
        offset = rng.randrange(st_.st_size)
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))
    os.chmod(path, st_.st_mode & 0o7777)
    if keep_stat:
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns))


def _pushed(
    p: Project, name: str = "ds", mutability: str = "strict", files: int = 6, size: int = 300_000
) -> Path:
    path = p.repo.create("datasets", name, "rot", mutability, "local", "bucket")
    rng = random.Random(name)
    for i in range(files):
        write(path / f"f{i}.bin", rng.randbytes(size))
    p.repo.add("datasets", name)
    p.repo.commit("datasets", name)
    p.repo.push("datasets", name)
    return path


def test_fsck_finds_and_repairs_every_flipped_object_cache_entry_and_workspace_file(project: Project) -> None:
    path = _pushed(project)
    originals = {f.name: f.read_bytes() for f in path.glob("*.bin")}
    rng = random.Random(1)
    objects, cache = project.repo.layout.objects("datasets"), project.repo.layout.cache("datasets")
    bad_objects = rng.sample(sorted(objects), 5)
    for cid in bad_objects:
        _flip(objects.path(cid), rng)
    bad_cache = rng.sample(sorted(cache), 2)  # strict: the workspace file is the same inode
    for cid in bad_cache:
        _flip(cache.path(cid), rng)
    res = project.repo.fsck("datasets", fix=False)
    assert sorted(res.corrupted_objects) == sorted(bad_objects)
    assert sorted(res.corrupted_index) == sorted(bad_cache)
    assert len(res.corrupted_workspace) == 2 and res.fixed == []
    res = project.repo.fsck("datasets")
    assert sorted(res.corrupted_objects) == sorted(bad_objects) and res.unfixable == []
    assert set(bad_objects) <= set(res.fixed)
    assert {f.name: f.read_bytes() for f in path.glob("*.bin")} == originals
    assert project.repo.fsck("datasets").total == 0
    assert project.repo.status("datasets", "ds").clean


def test_fsck_names_what_the_storage_cannot_give_back(project: Project) -> None:
    _pushed(project)
    rng = random.Random(2)
    objects = project.repo.layout.objects("datasets")
    lost = rng.sample(sorted(objects), 3)
    for cid in lost:
        _flip(objects.path(cid), rng)
        (project.bucket / cid).unlink()
    res = project.repo.fsck("datasets")
    assert sorted(res.corrupted_objects) == sorted(lost)
    assert sorted(res.unfixable) == sorted(lost)
    assert not any(objects.exists(c) for c in lost)  # a rotten object is never served again


def test_fsck_repairs_a_rewritten_workspace_file_of_a_strict_entity(project: Project) -> None:
    path = _pushed(project)
    target = path / "f0.bin"
    good = target.read_bytes()
    target.unlink()  # a tool rewrote it (a new inode, the cache untouched)
    target.write_bytes(b"garbage" + good[7:])
    res = project.repo.fsck("datasets")
    assert res.corrupted_workspace == ["ds/f0.bin"] and res.fixed == ["ds/f0.bin"]
    assert target.read_bytes() == good


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fsck_finds_any_set_of_flipped_objects(project: Project, data: st.DataObject) -> None:
    if not (project.root / "datasets" / "ds").exists():
        _pushed(project, files=3)
    objects = project.repo.layout.objects("datasets")
    cids = sorted(objects)
    chosen = data.draw(st.sets(st.sampled_from(cids), min_size=1, max_size=len(cids)))
    seed = data.draw(st.integers(0, 2**32))
    rng = random.Random(seed)
    for cid in chosen:
        _flip(objects.path(cid), rng)
    res = project.repo.fsck("datasets")
    assert sorted(res.corrupted_objects) == sorted(chosen) and res.unfixable == []
    assert all(cid_of(objects.path(c).read_bytes()) == c for c in chosen)


def test_remote_fsck_uploads_missing_objects_and_thorough_replaces_rotten_ones(project: Project) -> None:
    _pushed(project)
    rng = random.Random(3)
    keys = sorted(f.name for f in project.bucket.iterdir())
    gone, rotten = keys[:3], keys[3:5]
    for k in gone:
        (project.bucket / k).unlink()
    for k in rotten:
        _flip(project.bucket / k, rng)
    quick = project.repo.remote_fsck("datasets", "ds", fix=False)
    assert quick.missing == sorted(gone) and quick.corrupted == [] and quick.fixed == []
    assert quick.objects_checked == len(keys) and quick.versions == ["rot__ds__1"]
    res = project.repo.remote_fsck("datasets", "ds", thorough=True)
    assert res.missing == sorted(gone) and res.corrupted == sorted(rotten)
    assert res.fixed == sorted(gone + rotten) and res.unfixable == []
    assert all(cid_of((project.bucket / k).read_bytes()) == k for k in keys)
    assert project.repo.remote_fsck("datasets", "ds", thorough=True).total == 0
    assert res.to_dict()["fixed"] == res.fixed


def test_remote_fsck_from_a_workspace_without_the_objects_reports_them_unfixable(
    project: Project, second: Project
) -> None:
    _pushed(project)
    key = sorted(f.name for f in project.bucket.iterdir())[0]
    (project.bucket / key).unlink()
    res = second.repo.remote_fsck("datasets", "ds")
    assert res.missing == [key] and res.unfixable == [key] and res.fixed == []


def test_remote_fsck_cli(project: Project, cli: Cli) -> None:
    _pushed(project)
    key = sorted(f.name for f in project.bucket.iterdir())[0]
    (project.bucket / key).unlink()
    out = cli("datasets remote-fsck ds --thorough --verbose", cwd=project.root).output
    assert "[1] missing object(s) in the storage" in out and f"    {key}" in out and "Fixed: 1" in out
    assert (project.bucket / key).exists()
    out = cli("datasets remote-fsck ds", cwd=project.root).output
    assert "[0] missing object(s) in the storage" in out


@pytest.mark.slow
def test_many_rounds_of_random_rot(project: Project) -> None:
    path = _pushed(project, files=20)
    originals = {f.name: f.read_bytes() for f in path.glob("*.bin")}
    objects, cache = project.repo.layout.objects("datasets"), project.repo.layout.cache("datasets")
    found = flipped = 0
    for round_ in range(30):
        rng = random.Random(round_)
        chosen_objects = rng.sample(sorted(objects), rng.randint(1, 6))
        chosen_cache = rng.sample(sorted(cache), rng.randint(0, 3))
        for cid in chosen_objects:
            _flip(objects.path(cid), rng)
        for cid in chosen_cache:
            _flip(cache.path(cid), rng)
        flipped += len(chosen_objects) + len(chosen_cache)
        res = project.repo.fsck("datasets")
        assert sorted(res.corrupted_objects) == sorted(chosen_objects) and sorted(
            res.corrupted_index
        ) == sorted(chosen_cache)
        found += len(res.corrupted_objects) + len(res.corrupted_index)
        assert res.unfixable == []
        assert {f.name: f.read_bytes() for f in path.glob("*.bin")} == originals
    print(f"FIGURE corruption rounds=30 flipped={flipped} found={found}")
    assert found == flipped


def test_fsck_no_fix_only_reports(project: Project) -> None:
    """Regression: fsck(fix=False) (``--no-fix: Only report``) deleted the corrupted objects and cache
    entries, so the next fsck no longer saw them and the evidence was gone."""
    _pushed(project, files=2)
    rng = random.Random(4)
    objects, cache = project.repo.layout.objects("datasets"), project.repo.layout.cache("datasets")
    obj, cached = sorted(objects)[0], sorted(cache)[0]
    _flip(objects.path(obj), rng)
    _flip(cache.path(cached), rng)
    for _ in range(2):
        res = project.repo.fsck("datasets", fix=False)
        assert res.corrupted_objects == [obj] and res.corrupted_index == [cached] and res.fixed == []
        assert objects.exists(obj) and cache.exists(cached)
