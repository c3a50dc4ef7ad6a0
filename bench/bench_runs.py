"""Run folders: what a new pipeline run pays to start from a warm per-host root.

    python3 -m uv run --frozen python bench/bench_runs.py [--runs 3]

W1 (5,000 files x 16 KiB, bench_core's generator) is pushed once to a bare remote and a local
bucket. Then, each in its own process: a cold checkout into a plain workspace (clone + download,
the figure without sharing), a first run folder (fills the host's cache/objects/mirror), and new run
folders on the warm root (prepare: config, mirror fetch, clone --reference; then checkout, which
hardlinks from the shared cache). Medians over --runs; the ratio warm/cold is the figure to quote.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import GIT_ENV, generate  # noqa: E402


def step(kind: str, base: Path, n: int) -> dict[str, float]:
    from mlgit import Repository, runs

    remotes = {"datasets": str(base / "datasets.git")}
    t0 = time.perf_counter()
    if kind == "cold":
        repo = Repository.init(base / f"plain{n}")
        repo.remote_add("datasets", remotes["datasets"])
        repo.entity_init("datasets")
    else:
        run = runs.prepare(base / "host", runs.run_key("bench", str(n)), remotes, {"n": n})
        repo = Repository(run.path)
    repo.storage_add("bucket", "local", path=str(base / "bucket"))
    t1 = time.perf_counter()
    res = repo.checkout("datasets", "w1", fetch=True)
    t2 = time.perf_counter()
    assert res.files == 5000, res.files
    return {"setup_s": t1 - t0, "checkout_s": t2 - t1, "total_s": t2 - t0}


def run_step(kind: str, base: Path, n: int) -> dict[str, float]:
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(
        [sys.executable, __file__, "--step", kind, str(base), str(n)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def publish(base: Path) -> None:
    from mlgit import Repository

    subprocess.run(
        ["git", "init", "-q", "--bare", "--initial-branch=master", str(base / "datasets.git")], check=True
    )
    repo = Repository.init(base / "publisher")
    repo.remote_add("datasets", str(base / "datasets.git"))
    repo.entity_init("datasets")
    repo.storage_add("bucket", "local", path=str(base / "bucket"))
    path = repo.create("datasets", "w1", "bench", "strict", "local", "bucket")
    shutil.copytree(generate("W1"), path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".done"))
    repo.add("datasets", "w1")
    repo.commit("datasets", "w1")
    repo.push("datasets", "w1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--step", nargs=3)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.step[0], Path(args.step[1]), int(args.step[2]))))
        return
    os.environ.update(GIT_ENV)
    with tempfile.TemporaryDirectory(prefix="mlgit-bench-runs-") as tmp:
        base = Path(tmp)
        publish(base)
        first = run_step("run", base, 0)
        cold = [run_step("cold", base, n) for n in range(args.runs)]
        warm = [run_step("run", base, n + 1) for n in range(args.runs)]
        cp = []
        for n in range(args.runs):  # the floor: a plain `cp -r` of the same tree, same filesystem
            t0 = time.perf_counter()
            subprocess.run(
                ["cp", "-r", str(base / "publisher" / "datasets"), str(base / f"cp{n}")], check=True
            )
            cp.append(time.perf_counter() - t0)
    load = os.getloadavg()
    med = {k: statistics.median(r["total_s"] for r in rows) for k, rows in (("cold", cold), ("warm", warm))}
    print(f"W1 cold checkout, plain workspace (clone + download): {med['cold']:.2f} s")
    print(f"W1 first run folder (fills the host root):            {first['total_s']:.2f} s")
    print(
        f"W1 new run folder on a warm root (prepare + checkout): {med['warm']:.2f} s "
        f"(prepare {statistics.median(r['setup_s'] for r in warm):.2f} s, "
        f"checkout {statistics.median(r['checkout_s'] for r in warm):.2f} s)"
    )
    print(f"cp -r of the same tree:                               {statistics.median(cp):.2f} s")
    print(f"ratio warm run folder / cold plain workspace: {med['warm'] / med['cold']:.2f}")
    print(f"ratio warm run folder / cp -r:                {med['warm'] / statistics.median(cp):.2f}")
    print(f"euid {os.geteuid()}, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
