"""Core benchmark: add+commit, status, push, fresh checkout on the local storage, with the limits
measured in the same run (single-core sha256 over W2, ``cp -r`` of each workload).

    python3 -m uv run --frozen python bench/bench_core.py [--workloads W1,W2] [--runs 2]

W1 = 5,000 files x 16 KiB in 50 folders; W2 = 8 files x 64 MiB; fixed seed. Each step runs in its
own process so peak memory (ru_maxrss) is that step's alone. Figures are medians over --runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("MLGIT_BENCH_DIR", HERE / ".work"))
WORKLOADS = {"W1": (5000, 16 * 1024, 50), "W2": (8, 64 * 1024 * 1024, 1)}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@mlgit.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@mlgit.invalid",
}


def generate(name: str) -> Path:
    count, size, folders = WORKLOADS[name]
    src = WORK / "src" / name
    marker = src / ".done"
    if marker.exists():
        return src
    shutil.rmtree(src, ignore_errors=True)
    rng = random.Random(1234)
    for i in range(count):
        folder = src / f"d{i % folders:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"f{i:05d}.bin", "wb") as fh:
            left = size
            while left:
                n = min(left, 1 << 22)
                fh.write(rng.randbytes(n))
                left -= n
    marker.touch()
    return src


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name != ".done")


# -- steps, each run in a child process --------------------------------------------------------
def step(kind: str, workload: str, run_dir: Path) -> dict[str, float]:
    from mlgit import Repository

    src = WORK / "src" / workload
    t0 = time.perf_counter()
    if kind == "sha256-1core":
        for p in sorted(src.rglob("*.bin")):
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
    elif kind == "cp-r":
        subprocess.run(["cp", "-r", str(src), str(run_dir / "cp")], check=True)
    elif kind == "setup":
        for et in ("datasets",):
            subprocess.run(["git", "init", "-q", "--bare", str(run_dir / f"{et}.git")], check=True)
        repo = Repository.init(run_dir / "ws")
        repo.remote_add("datasets", str(run_dir / "datasets.git"))
        repo.entity_init("datasets")
        repo.storage_add("bench", "local", path=str(run_dir / "bucket"))
        path = repo.create("datasets", "data", "bench", "strict", "local", "bench")
        subprocess.run(["cp", "-r", str(src), str(path / "data")], check=True)
    elif kind == "add+commit":
        repo = Repository(run_dir / "ws")
        repo.add("datasets", "data")
        repo.commit("datasets", "data")
    elif kind == "status":
        st = Repository(run_dir / "ws").status("datasets", "data")
        assert st.clean, st
    elif kind == "add-again":
        Repository(run_dir / "ws").add("datasets", "data")
    elif kind == "push":
        Repository(run_dir / "ws").push("datasets", "data")
    elif kind == "checkout":
        repo = Repository.init(run_dir / "ws2")
        repo.remote_add("datasets", str(run_dir / "datasets.git"))
        repo.entity_init("datasets")
        repo.storage_add("bench", "local", path=str(run_dir / "bucket"))
        t0 = time.perf_counter()
        repo.checkout("datasets", "data")
    elif kind in ("dvc-add", "dvc-status"):
        dvc = os.environ["MLGIT_BENCH_DVC"]
        proj = run_dir / "dvc"
        env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(run_dir / "dvc-site")}
        if kind == "dvc-add":
            proj.mkdir()
            subprocess.run(["cp", "-r", str(src), str(proj / "data")], check=True)
            subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=proj, env=env, check=True)
            t0 = time.perf_counter()
            subprocess.run([dvc, "add", "-q", "data"], cwd=proj, env=env, check=True)
        else:
            t0 = time.perf_counter()
            subprocess.run([dvc, "status", "-q"], cwd=proj, env=env, check=True)
        secs = time.perf_counter() - t0
        return {"seconds": secs, "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    elif kind == "checkout-warm":
        repo = Repository(run_dir / "ws2")
        path = repo.entity_path("datasets", "data")
        shutil.rmtree(path / "data")
        t0 = time.perf_counter()
        repo.checkout("datasets", "data", force=True)
    else:
        raise SystemExit(f"unknown step {kind}")
    secs = time.perf_counter() - t0
    return {"seconds": secs, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_step(kind: str, workload: str, run_dir: Path) -> dict[str, float]:
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(
        [sys.executable, __file__, "--step", kind, workload, str(run_dir)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


STEPS = [
    "sha256-1core",
    "cp-r",
    "setup",
    "add+commit",
    "status",
    "add-again",
    "push",
    "checkout",
    "checkout-warm",
    "dvc-add",
    "dvc-status",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--step", nargs=3)
    ap.add_argument("--no-dvc", action="store_true", help="skip DVC (else installed into bench/.venv-dvc)")
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.step[0], args.step[1], Path(args.step[2]))))
        return
    results: dict[str, dict[str, dict[str, float]]] = {}
    steps = [s for s in STEPS if not (args.no_dvc and s.startswith("dvc"))]
    if not args.no_dvc:
        sys.path.insert(0, str(HERE))
        from bench_s3 import ensure_dvc

        os.environ["MLGIT_BENCH_DVC"] = str(ensure_dvc())
    for wl in args.workloads.split(","):
        src = generate(wl)
        mb = _dir_bytes(src) / 1e6
        samples: dict[str, list[dict[str, float]]] = {s: [] for s in steps}
        for r in range(args.runs):
            run_dir = WORK / "runs" / f"{wl}-{r}"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            for kind in steps:
                samples[kind].append(run_step(kind, wl, run_dir))
            shutil.rmtree(run_dir, ignore_errors=True)
        results[wl] = {}
        print(f"\n{wl}: {WORKLOADS[wl][0]} files, {mb:.0f} MB, median of {args.runs}")
        print(f"  {'step':<14} {'seconds':>8} {'MB/s':>8} {'peak MB':>8}")
        for kind in steps:
            if kind == "setup":
                continue
            secs = statistics.median(s["seconds"] for s in samples[kind])
            peak = max(s["peak_mb"] for s in samples[kind])
            results[wl][kind] = {"seconds": secs, "peak_mb": peak}
            print(f"  {kind:<14} {secs:8.3f} {mb / secs:8.0f} {peak:8.0f}")
        r = results[wl]
        print(
            f"  ratios: add+commit / sha256-1core = {r['add+commit']['seconds'] / r['sha256-1core']['seconds']:.2f}"
            f"  (sha256 limit / add = {r['sha256-1core']['seconds'] / r['add+commit']['seconds']:.2f}x)"
            f"; add / cp -r = {r['add+commit']['seconds'] / r['cp-r']['seconds']:.2f}"
            f"; checkout / cp -r = {r['checkout']['seconds'] / r['cp-r']['seconds']:.2f}"
        )
        if "dvc-add" in r:
            print(
                f"  vs DVC: add {r['dvc-add']['seconds'] / r['add+commit']['seconds']:.2f}x faster"
                f", status {r['dvc-status']['seconds'] / r['status']['seconds']:.2f}x faster (>1 = mlgit faster)"
            )
    (WORK / "last.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
