"""Sampled checkout (``--sample-type=group|range|random --sampling=... --seed=...``) chooses the same files
as ML-Git 2.9.9, byte for byte: tests/data/sampling/expected.yaml holds what ML-Git's own sampling code
selected from these versions (the fixture ML-Git wrote, and a 41-key version made here)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import DATA, FIXTURE, Cli, make_remotes, sampling_files, serve_fixture

from mlgit import InvalidSample, MutabilityError, Repository, Sample, sampling
from mlgit import manifest as mf

EXPECTED = yaml.safe_load((DATA / "sampling" / "expected.yaml").read_text())["selected"]
FIXTURE_FILES = yaml.safe_load((FIXTURE / "expected.yaml").read_text())["tags"]
CASES = [(tag, case) for tag, cases in EXPECTED.items() for case in cases]


def _sample(case: str) -> dict[str, str]:
    kind, value, seed = case.split(" ")
    return {kind: value, "seed": seed.removeprefix("seed=")}


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".spec" and p.name != "README.md"
    }


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, mf.Manifest]:
    """The MANIFEST.yaml of each version, as the metadata repository holds it."""
    base = tmp_path_factory.mktemp("manifests")
    repo = _fixture_repo(base)
    out = {}
    for tag in ("vision__wildlife__birds__1", "vision__wildlife__birds__2"):
        out[tag] = repo._read_version("datasets", tag)[1]
    many = _many_repo(base / "many")
    out["sampling__many__1"] = many._read_version("datasets", "sampling__many__1")[1]
    return out


def _fixture_repo(base: Path) -> Repository:
    remotes = serve_fixture(base / "remotes")
    bucket = base / "bucket"
    shutil.copytree(FIXTURE / "bucket", bucket)
    repo = Repository.init(base / "ws")
    for et, url in remotes.items():
        repo.remote_add(et, url)
        repo.entity_init(et)
    repo.set_config("storages", {"s3h": {"mlgit-fixture": {"path": str(bucket)}}})
    return repo


def _many_repo(base: Path) -> Repository:
    remotes = make_remotes(base / "remotes")
    repo = Repository.init(base / "ws")
    repo.remote_add("datasets", remotes["datasets"])
    repo.entity_init("datasets")
    repo.storage_add("bucket", "local", path=str(base / "bucket"))
    entity = repo.create("datasets", "many", categories=["sampling"], storage_type="local", bucket="bucket")
    for rel, data in sampling_files().items():
        (entity / rel).parent.mkdir(parents=True, exist_ok=True)
        (entity / rel).write_bytes(data)
    repo.add("datasets", "many")
    assert repo.commit("datasets", "many").tag == "sampling__many__1"
    repo.push("datasets", "many")
    return repo


@pytest.mark.parametrize(("tag", "case"), CASES, ids=[f"{t.split('__')[2]}{t[-1]}-{c}" for t, c in CASES])
def test_selects_what_mlgit_selected(manifests: dict[str, mf.Manifest], tag: str, case: str) -> None:
    expected = EXPECTED[tag][case]
    if expected == "error":
        with pytest.raises(InvalidSample) as err:
            sampling.apply(_sample(case), manifests[tag], tag)
        assert str(err.value).startswith(f"{tag}: ") and "\n" not in str(err.value)
    else:
        assert sorted(sampling.apply(_sample(case), manifests[tag], tag)) == expected


def test_cli_sampled_checkout_then_add_is_refused_until_a_whole_checkout(tmp_path: Path, cli: Cli) -> None:
    repo = _fixture_repo(tmp_path)
    ws = repo.root
    tag = "vision__wildlife__birds__2"
    out = cli(f"datasets checkout {tag} --sample-type=group --sampling=1:3 --seed=1", cwd=ws).output
    assert "4 file(s)" in out, out
    entity = ws / "datasets" / "zoo" / "air" / "birds"
    assert sorted(_tree(entity)) == EXPECTED[tag]["group 1:3 seed=1"]
    assert all(FIXTURE_FILES[tag][rel] == digest for rel, digest in _tree(entity).items())
    flag = ws / ".ml-git" / "datasets" / "index" / "metadata" / "birds" / "sampling"
    assert yaml.safe_load(flag.read_text()) == {"group": "1:3", "seed": "1"}
    (entity / "data" / "new.txt").write_text("new\n")
    out = cli("datasets add birds", ok=False, cwd=ws).output.strip()
    assert out.count("\n") == 0 and "sampled checkout" in out, out
    cli("datasets commit birds", ok=False, cwd=ws)
    # the files left out are no local change, a user's new file still is
    out = cli(f"datasets checkout {tag} --sample-type=range --sampling=2:all", ok=False, cwd=ws).output
    assert "1 local change(s)" in out and "data/new.txt" in out, out
    (entity / "data" / "new.txt").unlink()
    # another sample replaces the first; a range needs no seed
    cli(f"datasets checkout {tag} --sample-type=range --sampling=2:all", cwd=ws)
    assert sorted(_tree(entity)) == EXPECTED[tag]["range 2:all seed=1"]
    cli(f"datasets checkout {tag} --sample-type=random --sampling=2:5 --seed=42", cwd=ws)
    assert sorted(_tree(entity)) == EXPECTED[tag]["random 2:5 seed=42"]
    # the whole version: every file back, the flag gone, add works again
    cli(f"datasets checkout {tag}", cwd=ws)
    assert _tree(entity) == FIXTURE_FILES[tag] and not flag.exists()
    (entity / "data" / "new.txt").write_text("new\n")
    cli("datasets add birds", cwd=ws)


def test_cli_defaults_are_mlgits(tmp_path: Path, cli: Cli) -> None:
    """--sampling defaults to 1:1000 and --seed to 1, as in ML-Git: 1:1000 on 12 keys is refused."""
    repo = _fixture_repo(tmp_path)
    out = cli(
        "datasets checkout vision__wildlife__birds__2 --sample-type=random", ok=False, cwd=repo.root
    ).output
    assert (
        out.strip().count("\n") == 0
        and "FREQUENCY (1000) must be smaller than the number of files (12)" in out
    )
    assert not (repo.root / "datasets" / "zoo").exists()  # nothing written


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            "--sample-type=group --sampling=3:2",
            "AMOUNT (3) must be smaller than GROUP_SIZE (2)",
            id="amount",
        ),
        pytest.param(
            "--sample-type=group --sampling=1:2 --seed=-3", "seed must be a non-negative integer", id="seed"
        ),
        pytest.param(
            "--sample-type=range --sampling=5:3", "START (5) must be smaller than STOP (3)", id="start"
        ),
        pytest.param(
            "--sample-type=range --sampling=x", "expected START:STOP or START:STOP:STEP", id="range"
        ),
        pytest.param("--sample-type=random --sampling=1", "expected AMOUNT:FREQUENCY", id="pair"),
        pytest.param(
            "--sample-type=group --sampling=1:8 --seed=2",
            "the last group reaches past the 12 files",
            id="past",
        ),
        pytest.param("--sample-type=random --sampling=0:3", "chooses no file of the 12", id="none"),
    ],
)
def test_cli_bad_samples_are_one_line_and_write_nothing(
    tmp_path: Path, cli: Cli, options: str, message: str
) -> None:
    repo = _fixture_repo(tmp_path)
    out = cli(
        f"datasets checkout vision__wildlife__birds__2 {options}", ok=False, cwd=repo.root
    ).output.strip()
    assert out.count("\n") == 0 and message in out and "vision__wildlife__birds__2" in out, out
    assert not (repo.root / "datasets" / "zoo").exists()


def test_api_sample_forms_and_a_bigger_version(tmp_path: Path) -> None:
    repo = _many_repo(tmp_path / "a")
    other = Repository.init(tmp_path / "b")
    other.remote_add("datasets", str(tmp_path / "a" / "remotes" / "datasets.git"))
    other.entity_init("datasets")
    other.storage_add("bucket", "local", path=str(tmp_path / "a" / "bucket"))
    tag = "sampling__many__1"
    for form in (
        {"group": "2:5", "seed": "7"},  # ML-Git's API form
        {"type": "group", "sampling": "2:5", "seed": 7},  # ours
        Sample("group", "2:5", 7),
    ):
        res = other.checkout("datasets", "many", sample=form, force=True)
        got = _tree(Path(res.path))
        assert sorted(got) == EXPECTED[tag]["group 2:5 seed=7"] and res.files == len(got)
        assert all(hashlib.sha256(sampling_files()[rel]).hexdigest() == d for rel, d in got.items())
    res = other.checkout("datasets", "many", sample={"range": "0:13"})
    assert sorted(_tree(Path(res.path))) == EXPECTED[tag]["range 0:13 seed=1"]
    with pytest.raises(MutabilityError, match="sampled checkout"):
        other.add("datasets", "many")
    with pytest.raises(InvalidSample, match="a seed is needed"):
        other.checkout("datasets", "many", sample={"random": "1:2"})
    with pytest.raises(InvalidSample, match="exactly one of group, range, random"):
        other.checkout("datasets", "many", sample={"group": "1:2", "range": "0:3", "seed": "1"})
    assert len(_tree(Path(other.checkout("datasets", "many").path))) == 42
    assert repo.root != other.root
