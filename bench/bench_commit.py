"""Commit benchmark: the time of ``commit`` alone (add excluded), one small version after another, in a
metadata repository that already holds ENTITIES other entities (packed, as a clone gets them).

    python3 -m uv run --frozen python bench/bench_commit.py [--versions 15] [--entities 300]

To compare two checkouts of mlgit, run it with ``PYTHONPATH=<checkout>`` for each, alternating; it prints
the mlgit it imported, the median and the quartiles of the commit times, and the git processes per commit
(counted with a logging ``git`` first on PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@mlgit.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@mlgit.invalid",
}


def _remote(work: Path, entities: int) -> Path:
    """A bare metadata remote with ``entities`` entities of one version each, packed (git gc)."""
    bare = work / "datasets.git"
    seed = work / "seed"
    subprocess.run(["git", "init", "-q", "--initial-branch=master", str(seed)], check=True)
    for i in range(entities):
        folder = seed / "bench" / f"e{i:04d}"
        folder.mkdir(parents=True)
        (folder / f"e{i:04d}.spec").write_text(f"dataset:\n  name: e{i:04d}\n  version: 1\n")
        (folder / "MANIFEST.yaml").write_text(f"zdj7W{i:040d}:\n- f{i}.bin\n")
    subprocess.run(["git", "add", "-A"], cwd=seed, check=True)
    subprocess.run(["git", "commit", "-qm", "seed"], cwd=seed, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    subprocess.run(["git", "gc", "-q"], cwd=bare, check=True)
    return bare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", type=int, default=15)
    ap.add_argument("--entities", type=int, default=300)
    args = ap.parse_args()
    os.environ.update(GIT_ENV)
    import mlgit
    from mlgit import Repository

    work = Path(tempfile.mkdtemp(prefix="mlgit-bench-commit-"))
    try:
        log = work / "git.log"
        wrap = work / "bin"
        wrap.mkdir()
        real = shutil.which("git")
        (wrap / "git").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec {real} "$@"\n')
        (wrap / "git").chmod(0o755)
        bare = _remote(work, args.entities)
        repo = Repository.init(work / "ws")
        repo.remote_add("datasets", str(bare))
        repo.entity_init("datasets")
        repo.storage_add("bench", "local", path=str(work / "bucket"))
        path = repo.create("datasets", "timed", "bench", "strict", "local", "bench")
        os.environ["PATH"] = f"{wrap}{os.pathsep}{os.environ['PATH']}"
        times, processes = [], []
        for v in range(args.versions):
            (path / f"f{v}.csv").write_text(f"v,{v}\n")
            repo.add("datasets", "timed", bumpversion=v > 0)
            log.unlink(missing_ok=True)
            t0 = time.perf_counter()
            repo.commit("datasets", "timed")
            times.append(time.perf_counter() - t0)
            processes.append(len(log.read_text().splitlines()))
        q = statistics.quantiles(times, n=4)
        print(
            json.dumps(
                {
                    "mlgit": str(Path(mlgit.__file__).parent),
                    "median_s": round(statistics.median(times), 4),
                    "q1_s": round(q[0], 4),
                    "q3_s": round(q[2], 4),
                    "git_processes": sorted(set(processes)),
                    "load": os.getloadavg()[0],
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
