"""Push and fresh checkout of W1 (5,000 x 16 KiB in 50 folders) and W2 (8 x 64 MiB) to a moto_server
on loopback, with mlgit (the Repository API) and, in the same run against the same server, DVC.

    python3 -m uv run --frozen --all-extras python bench/bench_s3.py            # everything, 1 round
    python3 -m uv run --frozen --all-extras python bench/bench_s3.py --rounds 2 --workloads W2
    ... --scale 0.02 --tools mlgit                                               # a quick smoke run

DVC (``dvc[s3]``) is installed by this script into its own venv, ``bench/.venv-dvc``, with
``python3 -m uv venv`` + ``uv pip install``. moto_server runs as its own process, so neither tool
shares a GIL with it. Every timed step runs in a child process: its peak memory (max RSS, from
``wait4``) is that step's alone. Not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DVC_VENV = HERE / ".venv-dvc"
ACCESS, SECRET, REGION = "bench-access-key", "bench-secret-key", "us-east-1"
SEED = 20240611


@dataclass(frozen=True)
class Workload:
    name: str
    files: int
    size: int
    folders: int

    def scaled(self, scale: float) -> Workload:
        if scale == 1:
            return self
        if self.files >= 100:
            return Workload(self.name, max(self.folders, int(self.files * scale)), self.size, self.folders)
        return Workload(self.name, self.files, max(256 * 1024, int(self.size * scale)), self.folders)

    def objects_mlgit(self) -> int:
        """ML-Git's format: one descriptor per file plus one object per 256 KiB chunk."""
        return self.files * (1 + -(-self.size // (256 * 1024)))

    def objects_dvc(self) -> int:
        return self.files + 1  # plus the .dir listing

    def write(self, root: Path) -> None:
        rnd = random.Random(f"{SEED}-{self.name}")
        for i in range(self.files):
            folder = root / f"f{i % self.folders:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i:05d}.bin").write_bytes(rnd.randbytes(self.size))


WORKLOADS = {
    "W1": Workload("W1", 5000, 16 * 1024, 50),
    "W2": Workload("W2", 8, 64 * 1024 * 1024, 1),
}


# -- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("moto_server did not start")

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=30).close()

    def bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=ACCESS,
                     aws_secret_access_key=SECRET).create_bucket(Bucket=name)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# -- timed steps in child processes ---------------------------------------------------------------


def _env(tmp: Path) -> dict[str, str]:
    creds = tmp / "aws-credentials"
    creds.write_text(f"[default]\naws_access_key_id = {ACCESS}\naws_secret_access_key = {SECRET}\n")
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = master\n[user]\n\tname = bench\n\temail = bench@mlgit.invalid\n")
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(tmp / "aws-config"),
        "AWS_EC2_METADATA_DISABLED": "true", "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site"),
    }


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, float, str]:
    """Run ``cmd`` (wrapped by ``peak``); (seconds, peak RSS MiB, CPU seconds of the client, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    figures = dict(line.split("=", 1) for line in err.decode().splitlines() if line.startswith(("PEAK_RSS_KIB=", "CPU_S=")))
    return seconds, int(figures["PEAK_RSS_KIB"]) / 1024, float(figures["CPU_S"]), out.decode()


# a tiny wrapper that runs a command and prints its peak RSS (wait4 gives the child's own figure)
_PEAK = (
    "import os,subprocess,sys\n"
    "p=subprocess.Popen(sys.argv[1:])\n"
    "_,status,ru=os.wait4(p.pid,0)\n"
    "sys.stderr.write(f'CPU_S={ru.ru_utime + ru.ru_stime:.2f}\\nPEAK_RSS_KIB={ru.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def peak(cmd: list[str]) -> list[str]:
    return [sys.executable, "-c", _PEAK, *cmd]


# -- mlgit ---------------------------------------------------------------------------------------

_MLGIT_STEP = r'''
import json, sys, time
from pathlib import Path
from mlgit import Repository
step, ws, remote, bucket, endpoint, threads, sdk = sys.argv[1:8]
ws = Path(ws)
t0 = time.perf_counter()
phases = {}
def progress(phase, done, total):
    now = time.perf_counter() - t0
    first, _ = phases.get(phase, (now, now))
    phases[phase] = (first, now)
if step == "push":
    repo = Repository(ws)
    res = repo.push("datasets", "bench", progress=progress)
    out = {"uploaded": res.uploaded, "skipped": res.skipped}
elif step == "checkout":
    repo = Repository.init(ws)
    repo.set_config("push_threads_count", int(threads))
    repo.remote_add("datasets", remote)
    repo.entity_init("datasets")
    repo.storage_add(bucket, "s3h", endpoint_url=endpoint)
    storages = repo.config["storages"]
    storages["s3h"][bucket]["sdk"] = sdk
    repo.set_config("storages", storages)
    t0 = time.perf_counter()
    res = repo.checkout("datasets", "bench", progress=progress)
    out = {"downloaded": res.downloaded, "files": res.files}
out["phases"] = {k: [round(a, 2), round(b, 2)] for k, (a, b) in phases.items()}
print(json.dumps({**out, "seconds": time.perf_counter() - t0}))
'''


def mlgit_round(w: Workload, server: MotoServer, tmp: Path, env: dict[str, str], threads: int,
                sdk: str = "auto") -> dict[str, Any]:
    from mlgit import Repository

    bucket = f"mlgit-{w.name.lower()}"
    server.bucket(bucket)
    remote = tmp / "datasets.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(remote)], check=True, env=env)
    ws = tmp / "ws"
    old = dict(os.environ)
    os.environ.update(env)
    try:
        repo = Repository.init(ws)
        repo.set_config("push_threads_count", threads)
        repo.remote_add("datasets", str(remote))
        repo.entity_init("datasets")
        repo.storage_add(bucket, "s3h", endpoint_url=server.endpoint)
        storages = repo.config["storages"]
        storages["s3h"][bucket]["sdk"] = sdk
        repo.set_config("storages", storages)
        entity = repo.create("datasets", "bench", categories=["bench"], storage_type="s3h", bucket=bucket)
        w.write(entity / "data")
        t0 = time.perf_counter()
        repo.add("datasets", "bench")
        repo.commit("datasets", "bench")
        add_s = time.perf_counter() - t0
    finally:
        os.environ.clear()
        os.environ.update(old)
    args = [str(remote), bucket, server.endpoint, str(threads), sdk]
    push_s, push_mb, push_cpu, out = timed(peak([sys.executable, "-c", _MLGIT_STEP, "push", str(ws), *args]), env)
    pushed = json.loads(out.strip().splitlines()[-1])
    ws2 = tmp / "ws2"
    co_s, co_mb, co_cpu, out = timed(peak([sys.executable, "-c", _MLGIT_STEP, "checkout", str(ws2), *args]), env)
    got = json.loads(out.strip().splitlines()[-1])
    if got["files"] != w.files:
        raise RuntimeError(f"mlgit checkout gave {got['files']} files, expected {w.files}")
    return {"add+commit_s": add_s, "push_s": push_s, "push_mb": push_mb, "checkout_s": co_s, "checkout_mb": co_mb,
            "push_cpu_s": push_cpu, "checkout_cpu_s": co_cpu, "objects": pushed["uploaded"], "push_inner_s": pushed["seconds"], "checkout_inner_s": got["seconds"],
            "push_phases": pushed["phases"], "checkout_phases": got["phases"]}


# -- DVC -----------------------------------------------------------------------------------------


def ensure_dvc() -> Path:
    dvc = DVC_VENV / "bin" / "dvc"
    if not dvc.exists():
        uv = [sys.executable, "-m", "uv"]
        subprocess.run([*uv, "venv", "-q", "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
                        str(DVC_VENV)], check=True)
        subprocess.run([*uv, "pip", "install", "-q", "--python", str(DVC_VENV / "bin" / "python"), "dvc[s3]"],
                       check=True)
    return dvc


def dvc_round(w: Workload, server: MotoServer, tmp: Path, env: dict[str, str], dvc: Path) -> dict[str, Any]:
    bucket = f"dvc-{w.name.lower()}"
    server.bucket(bucket)
    proj = tmp / "dvc"
    proj.mkdir()

    def run(*args: str, cwd: Path = proj) -> None:
        subprocess.run([str(dvc), *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)

    run("init", "--no-scm", "-q")
    run("remote", "add", "-d", "bench", f"s3://{bucket}/store")
    run("remote", "modify", "bench", "endpointurl", server.endpoint)
    w.write(proj / "data")
    t0 = time.perf_counter()
    run("add", "-q", "data")
    add_s = time.perf_counter() - t0
    push_s, push_mb, push_cpu, _ = timed(peak([str(dvc), "push", "-q"]), env, cwd=proj)
    clone = tmp / "dvc-clone"
    clone.mkdir()
    shutil.copytree(proj / ".dvc", clone / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    shutil.copy(proj / "data.dvc", clone / "data.dvc")
    pull_s, pull_mb, pull_cpu, _ = timed(peak([str(dvc), "pull", "-q"]), env, cwd=clone)
    n = sum(1 for p in (clone / "data").rglob("*") if p.is_file())
    if n != w.files:
        raise RuntimeError(f"dvc pull gave {n} files, expected {w.files}")
    return {"add+commit_s": add_s, "push_s": push_s, "push_mb": push_mb, "checkout_s": pull_s, "checkout_mb": pull_mb,
            "push_cpu_s": push_cpu, "checkout_cpu_s": pull_cpu, "objects": w.objects_dvc()}


# -- report ----------------------------------------------------------------------------------------


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


def report(results: dict[str, dict[str, list[dict[str, Any]]]], workloads: list[Workload]) -> str:
    lines = ["| workload | tool | push s | push obj/s | push peak MiB | checkout s | checkout obj/s | checkout peak MiB | objects |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for w in workloads:
        for tool, rows in results.get(w.name, {}).items():
            objs = rows[0]["objects"] or (w.objects_mlgit() if tool.startswith("mlgit") else w.objects_dvc())
            p, c = _median(rows, "push_s"), _median(rows, "checkout_s")
            lines.append(f"| {w.name} | {tool} | {p:.1f} | {objs / p:.0f} | {_median(rows, 'push_mb'):.0f} | {c:.1f} | "
                         f"{objs / c:.0f} | {_median(rows, 'checkout_mb'):.0f} | {objs} |")
    lines.append("")
    for w in workloads:
        r = results.get(w.name, {})
        if "mlgit" in r and "dvc" in r:
            m, d = r["mlgit"], r["dvc"]
            mo, do = m[0]["objects"], d[0]["objects"]
            lines.append(
                f"{w.name}: time DVC/mlgit push {_median(d, 'push_s') / _median(m, 'push_s'):.2f}x, checkout "
                f"{_median(d, 'checkout_s') / _median(m, 'checkout_s'):.2f}x; objects/s mlgit/DVC push "
                f"{(mo / _median(m, 'push_s')) / (do / _median(d, 'push_s')):.2f}x, checkout "
                f"{(mo / _median(m, 'checkout_s')) / (do / _median(d, 'checkout_s')):.2f}x; peak MiB mlgit/DVC push "
                f"{_median(m, 'push_mb'):.0f}/{_median(d, 'push_mb'):.0f}, checkout "
                f"{_median(m, 'checkout_mb'):.0f}/{_median(d, 'checkout_mb'):.0f}"
            )
    return "\n".join(lines)


def _save(path: Path | None, results: dict[str, Any]) -> None:
    if path:
        path.write_text(json.dumps(results, indent=2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument("--tools", default="mlgit,dvc", help="any of mlgit (minio SDK on endpoints), mlgit-boto3, dvc")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=10, help="push_threads_count for mlgit (ML-Git's default: 10)")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the workloads for a smoke run")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args(argv)
    workloads = [WORKLOADS[n].scaled(args.scale) for n in args.workloads.split(",")]
    tools = args.tools.split(",")
    dvc = ensure_dvc() if "dvc" in tools else None
    server = MotoServer()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        for w in workloads:
            for rnd in range(args.rounds):
                for tool in tools:
                    server.reset()
                    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-{w.name}-") as d:
                        tmp = Path(d)
                        env = _env(tmp)
                        if tool == "mlgit":
                            row = mlgit_round(w, server, tmp, env, args.threads)
                        elif tool == "mlgit-boto3":
                            row = mlgit_round(w, server, tmp, env, args.threads, sdk="boto3")
                        else:
                            assert dvc is not None
                            row = dvc_round(w, server, tmp, env, dvc)
                    results.setdefault(w.name, {}).setdefault(tool, []).append(row)
                    print(f"{w.name} {tool} round {rnd + 1}: " + ", ".join(
                        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
                    _save(args.json, results)
    finally:
        server.stop()
    print()
    print(f"moto_server on loopback, {os.cpu_count()} CPUs, medians of {args.rounds}, mlgit threads={args.threads}"
          + (f", scale={args.scale}" if args.scale != 1 else ""))
    print(report(results, workloads))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
