"""The ML-Git quick how-to, word for word, through the CLI, on the local storage and real git."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import yaml
from helpers import Cli, write

from mlgit import Repository


def _rand(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".spec") and p.name != "README.md"
    }


def _setup(cli: Cli, ws: Path, remotes: dict[str, str], bucket: Path) -> None:
    ws.mkdir()
    cli("repository init", cwd=ws)
    for et in ("datasets", "labels", "models"):
        cli(f"repository remote {et} add {remotes[et]}", cwd=ws)
    for name in ("mlgit-datasets", "mlgit-labels", "mlgit-models"):
        cli(f"repository storage add {name} --type=local --path={bucket}", cwd=ws)
    for et in ("datasets", "labels", "models"):
        cli(f"{et} init", cwd=ws)


def test_howto_end_to_end(tmp_path: Path, cli: Cli, remotes: dict[str, str]) -> None:
    ws, bucket = tmp_path / "mlgit-project", tmp_path / "bucket"
    _setup(cli, ws, remotes, bucket)
    shown = cli("repository config show", cwd=ws).output
    assert shown.startswith("config:\n{'batch_size': 20,")
    assert "'push_threads_count': 10" in shown and "'mlgit-datasets': {'path':" in shown

    # 2. Uploading a dataset (with --entity-dir), and one without
    cli(
        'datasets create imagenet8 --categories="computer-vision, images" --mutability=strict '
        "--storage-type=local --bucket-name=mlgit-datasets --entity-dir=folderA/folderB",
        cwd=ws,
    )
    entity = ws / "datasets" / "folderA" / "folderB" / "imagenet8"
    spec = yaml.safe_load((entity / "imagenet8.spec").read_text())
    assert spec == {
        "dataset": {
            "categories": ["computer-vision", "images"],
            "manifest": {"storage": "local://mlgit-datasets"},
            "mutability": "strict",
            "name": "imagenet8",
            "version": 1,
        }
    }
    cli(
        "datasets create mscoco --categories=computer-vision,images --mutability=strict "
        "--storage-type=local --bucket-name=mlgit-datasets",
        cwd=ws,
    )
    assert (ws / "datasets" / "mscoco" / "mscoco.spec").is_file()

    write(entity / "README.md", b"# imagenet8\n")
    for i in range(1, 4):
        write(entity / "data" / "train" / f"train_data_batch_{i}", _rand(i, 100_000 * i))
    write(entity / "data" / "val" / "val_data", _rand(9, 300_000))
    before = cli("datasets status imagenet8", cwd=ws).output
    assert "untracked files\n    imagenet8.spec\n    README.md\n    data/train/train_data_batch_1" in before
    cli("datasets add imagenet8", cwd=ws)
    after = cli("datasets status imagenet8", cwd=ws).output
    assert "Changes to be committed\n    new file:   data/train/train_data_batch_1" in after
    assert "untracked files\n\ncorrupted files" in after
    cli("datasets commit imagenet8", cwd=ws)
    cli("datasets push imagenet8", cwd=ws)
    v1 = _tree(entity)

    # 3. Adding data to a dataset
    os.chmod(entity / "data" / "val", 0o755)
    write(entity / "data" / "val" / "val_data_2", _rand(10, 1000))
    cli("datasets add imagenet8 --bumpversion", cwd=ws)
    cli("datasets commit imagenet8", cwd=ws)
    cli("datasets push imagenet8", cwd=ws)
    v2 = _tree(entity)
    assert len(v2) == len(v1) + 1

    write(ws / "datasets" / "mscoco" / "data" / "img.bin", _rand(11, 5000))
    cli("datasets add mscoco", cwd=ws)
    cli("datasets commit mscoco", cwd=ws)
    cli("datasets push mscoco", cwd=ws)

    # 4. Labels linked to a dataset
    cli(
        'labels create mscoco-captions --categories="computer-vision, captions" --mutability=mutable '
        "--storage-type=local --bucket-name=mlgit-labels --version=1",
        cwd=ws,
    )
    labels = ws / "labels" / "mscoco-captions"
    write(labels / "annotations" / "captions_train2014.json", b'{"a": 1}')
    write(labels / "annotations" / "captions_val2014.json", b'{"b": 2}')
    cli("labels add mscoco-captions", cwd=ws)
    cli("labels commit mscoco-captions --dataset=mscoco", cwd=ws)
    cli("labels push mscoco-captions", cwd=ws)
    shown = cli("labels show mscoco-captions", cwd=ws).output
    assert shown.startswith(
        "-- labels : mscoco-captions --\ncategories:\n- computer-vision\n- captions\ndataset:\n"
    )
    assert "tag: computer-vision__images__mscoco__1" in shown

    # 5. Models with metrics, linked to dataset and labels
    cli(
        'models create imagenet-model --categories="computer-vision, images" --storage-type=local '
        "--mutability=mutable --bucket-name=mlgit-models",
        cwd=ws,
    )
    model = ws / "models" / "imagenet-model"
    write(model / "data" / "model_file", _rand(12, 70_000))
    metrics_csv = write(tmp_path / "metrics.csv", b"f1,loss\n0.5,1.25\n")
    cli("models add imagenet-model --metric accuracy 10 --metric precision 20 --metric recall 30", cwd=ws)
    body = yaml.safe_load((model / "imagenet-model.spec").read_text())["model"]
    assert body["metrics"] == {"accuracy": 10.0, "precision": 20.0, "recall": 30.0}
    cli(f"models add imagenet-model --metrics-file='{metrics_csv}'", cwd=ws)
    cli("models commit imagenet-model --dataset=imagenet8 --labels=mscoco-captions", cwd=ws)
    cli("models push imagenet-model", cwd=ws)
    table = cli("models metrics imagenet-model", cwd=ws).output.splitlines()  # ML-Git 2.9.9's layout
    assert table[0] == "Tag: computer-vision__images__imagenet-model__1"
    assert [c.strip() for c in table[2].split("|")[1:3]] == ["Name", "Value"]
    cells = {r.split("|")[1].strip(): r.split("|")[2].strip() for r in table[4:] if r.startswith("|")}
    assert (
        cells["f1"] == "0.5"
        and cells["loss"] == "1.25"
        and cells["Related dataset - (version)"] == "imagenet8 - (2)"
    )

    # 6. Downloading in a second project
    ws2 = tmp_path / "your-mlgit-repository"
    _setup(cli, ws2, remotes, bucket)
    cli("datasets update", cwd=ws2)
    cli("repository update", cwd=ws2)
    listing = cli("datasets list", cwd=ws2).output
    assert listing == "ML datasets\n|-- folderA\n|   |-- folderB\n|   |   |-- imagenet8\n|-- mscoco\n\n"
    tags = cli("datasets tag list imagenet8", cwd=ws2).output.split()
    assert tags == ["computer-vision__images__imagenet8__1", "computer-vision__images__imagenet8__2"]
    cli("datasets checkout computer-vision__images__imagenet8__1", cwd=ws2)
    entity2 = ws2 / "datasets" / "folderA" / "folderB" / "imagenet8"
    assert _tree(entity2) == v1
    assert (entity2 / "README.md").read_bytes() == b"# imagenet8\n"
    cli("datasets checkout imagenet8 --version=2", cwd=ws2)
    assert _tree(entity2) == v2
    cli("datasets checkout imagenet8 --version=1", cwd=ws2)
    assert _tree(entity2) == v1
    cli("datasets checkout imagenet8", cwd=ws2)
    assert _tree(entity2) == v2
    branch = cli("datasets branch imagenet8", cwd=ws2).output.strip()
    sha = Repository(ws2).metadata("datasets").tag_sha("computer-vision__images__imagenet8__2")
    assert branch == f"('computer-vision__images__imagenet8__2', '{sha}')"

    # lineage of the model, read from the second workspace
    cli("models checkout imagenet-model", cwd=ws2)
    assert _tree(ws2 / "models" / "imagenet-model") == _tree(model)
    lineage = cli("models lineage imagenet-model", cwd=ws2).output
    lines = [line.split(" (")[0] for line in lineage.splitlines()]
    assert lines == [  # a tree: the labels' dataset indented under the labels
        "models computer-vision__images__imagenet-model__1",
        "|-- datasets computer-vision__images__imagenet8__2",
        "`-- labels computer-vision__captions__mscoco-captions__1",
        "    `-- datasets computer-vision__images__mscoco__1",
    ], lineage

    # 7. fsck finds a corrupted object and fixes it from the storage
    repo2 = Repository(ws2)
    victim = next(iter(repo2.layout.objects("datasets")))
    path = repo2.layout.objects("datasets").path(victim)
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")
    out = cli("datasets fsck", cwd=ws2).output
    assert "[1] corrupted file(s) in Local Repository" in out and "Total of corrupted files: 1" in out
    assert repo2.layout.objects("datasets").get(victim)  # restored and verified
    assert "Total of corrupted files: 0" in cli("datasets fsck", cwd=ws2).output


def test_entry_point_runs_as_a_program(tmp_path: Path) -> None:
    import subprocess
    import sys

    bindir = Path(sys.executable).parent
    out = subprocess.run([str(bindir / "ml-git"), "--version"], capture_output=True, text=True, check=True)
    assert "ml-git" in out.stdout
    err = subprocess.run(
        [str(bindir / "mlgit"), "-C", str(tmp_path), "datasets", "status", "x"],
        capture_output=True,
        text=True,
    )
    assert err.returncode == 1
    assert err.stderr.count("\n") == 1 and "Traceback" not in err.stderr
    assert "no .ml-git/config.yaml" in err.stderr
    verbose = subprocess.run(
        [str(bindir / "ml-git"), "-C", str(tmp_path), "datasets", "fsck", "--verbose"],
        capture_output=True,
        text=True,
    )
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and verbose.stderr.rstrip().splitlines()[-1].startswith("ERROR - ")


def test_clone_a_project_then_download(tmp_path: Path, cli: Cli, remotes: dict[str, str]) -> None:
    """`ml-git clone URL`: a git repository holding a project's .ml-git/config.yaml, then checkout."""
    import subprocess

    ws, bucket = tmp_path / "orig", tmp_path / "bucket"
    _setup(cli, ws, remotes, bucket)
    cli(
        "datasets create imagenet8 --categories=cv --mutability=strict --storage-type=local "
        "--bucket-name=mlgit-datasets",
        cwd=ws,
    )
    write(ws / "datasets" / "imagenet8" / "data" / "x.bin", b"x" * 10)
    for verb in ("add", "commit", "push"):
        cli(f"datasets {verb} imagenet8", cwd=ws)
    cfg = tmp_path / "cfg"
    (cfg / ".ml-git").mkdir(parents=True)
    (cfg / ".ml-git" / "config.yaml").write_bytes((ws / ".ml-git" / "config.yaml").read_bytes())
    subprocess.run(["git", "init", "-q", str(cfg)], check=True)
    subprocess.run(["git", "-C", str(cfg), "add", ".ml-git/config.yaml"], check=True)
    subprocess.run(["git", "-C", str(cfg), "commit", "-qm", "config"], check=True)
    out = cli(f"clone {cfg} your-mlgit-repository", cwd=tmp_path).output
    assert "Project cloned into" in out
    clone = tmp_path / "your-mlgit-repository"
    cli("datasets checkout imagenet8", cwd=clone)
    assert (clone / "datasets" / "imagenet8" / "data" / "x.bin").read_bytes() == b"x" * 10
