"""A/B of mlgit's fresh checkout CPU: one push, then checkouts alternated between source trees.

    python3 -m uv run --frozen --all-extras python bench/checkout_ab.py --trees /work/main,. --rounds 4

Starts SeaweedFS (as ``bench_s3.py`` does), pushes the workload once with this tree's mlgit, then runs
``checkout`` in a child process per round and per tree (``PYTHONPATH`` set to that tree), alternating
trees so both see the same noise; prints each run's wall, user and system CPU seconds of the client
and the server's CPU, then per tree the medians. The loop of ``bench_s3.py`` (``--limit``) runs in
the same alternation, so ratios to it come from the same minutes. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_s3 as b

_RUSAGE = (
    "import os,subprocess,sys\n"
    "p=subprocess.Popen(sys.argv[1:])\n"
    "_,status,ru=os.wait4(p.pid,0)\n"
    "sys.stderr.write(f'RU={ru.ru_utime:.3f} {ru.ru_stime:.3f}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run(cmd: list[str], env: dict[str, str], server: b.Server) -> tuple[float, float, float, float, str]:
    os.sync()
    cpu0 = server.cpu() or 0.0
    t0 = time.perf_counter()
    # run from / : with ``python -c`` the current folder comes first on sys.path, before PYTHONPATH
    proc = subprocess.run([sys.executable, "-c", _RUSAGE, *cmd], env=env, capture_output=True, cwd="/")
    wall = time.perf_counter() - t0
    server_cpu = (server.cpu() or 0.0) - cpu0
    if proc.returncode:
        raise RuntimeError(proc.stderr.decode()[-3000:])
    line = [x for x in proc.stderr.decode().splitlines() if x.startswith("RU=")][-1]
    user, system = map(float, line[3:].split())
    return wall, user, system, server_cpu, proc.stdout.decode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trees", default=f"/work/main,{b.HERE.parent}", help="source trees, comma-separated")
    ap.add_argument("--workload", default="W1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=10)
    ap.add_argument("--limit", action="store_true", help="also the plain 16-thread SDK loop")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument(
        "--tmp",
        help="where the workspaces go (default: the system's temp folder); /dev/shm takes the "
        "disk's state out of the figures (on ext4 without a journal, files deleted in the last minutes "
        "make each file creation cost more)",
    )
    ap.add_argument(
        "--wrap",
        default="",
        help="a prefix for mlgit's checkouts, {n} the run's number: "
        "'strace -f -c -o /tmp/st-{n}.txt' (figures then include its cost)",
    )
    args = ap.parse_args()
    trees = [str(Path(t).resolve()) for t in args.trees.split(",")]
    for t in trees:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j", "0", f"{t}/mlgit"], stdout=subprocess.DEVNULL
        )
    b.compile_bytecode(None)
    w = b.WORKLOADS[args.workload].scaled(args.scale)
    server = b.Server("seaweedfs")
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ab-", dir=args.tmp) as d:
            tmp = Path(d)
            env = b._env(tmp, server)
            b.STEPS.discard("checkout")
            # the push of bench_s3's round, with its checkout left out: the bucket stays for ours
            drop, b.Server.drop = b.Server.drop, lambda self, name: None
            try:
                from mlgit import Repository  # noqa: F401 - imported by mlgit_round

                b.mlgit_round(w, server, tmp, env, args.threads)
            finally:
                b.Server.drop = drop
            bucket = server.buckets[-1]
            remote = tmp / "datasets.git"
            limit_args = []
            if args.limit:
                lb = server.bucket("limit-ab")
                limit_args = [
                    server.endpoint,
                    server.access,
                    server.secret,
                    lb,
                    json.dumps(b.limit_sizes(w)),
                    "16",
                ]
                run([sys.executable, "-c", b._LIMIT_STEP, "push", *limit_args], env, server)
            n = 0
            for rnd in range(args.rounds):
                for tree in trees + (["limit"] if args.limit else []):
                    n += 1
                    if tree == "limit":
                        cmd = [sys.executable, "-c", b._LIMIT_STEP, "checkout", *limit_args]
                        tenv = env
                    else:
                        ws2 = tmp / f"co-{n}"
                        cmd = [
                            sys.executable,
                            "-c",
                            b._MLGIT_STEP,
                            "checkout",
                            str(ws2),
                            str(remote),
                            bucket,
                            server.endpoint,
                            str(args.threads),
                            "auto",
                        ]
                        tenv = {**env, "PYTHONPATH": tree}
                        if args.wrap:
                            cmd = [*args.wrap.format(n=n).split(), *cmd]
                    wall, user, system, scpu, out = run(cmd, tenv, server)
                    extra = ""
                    if tree != "limit":
                        got = b._last_json(out)
                        assert got["files"] == w.files, got
                        extra = f" (the verb: cpu {got['verb_cpu_s']:.2f}, botocore session {got['botocore_session']})"
                        # kept until the end: deleting 20,000 inodes before the next run would make its
                        # file creations slower (ext4 without a journal skips recently freed inodes)
                    rows.setdefault(tree, []).append((wall, user, system, scpu))
                    print(
                        f"run {n}: round {rnd + 1} {tree}: wall {wall:.2f} user {user:.2f} sys {system:.2f} "
                        f"cpu {user + system:.2f} server {scpu:.2f}{extra}",
                        flush=True,
                    )
    finally:
        server.stop()
    print(f"\nmedians of {args.rounds} ({w.name}, load {b._load()}):")
    for tree, r in rows.items():
        med = [statistics.median(x[i] for x in r) for i in range(4)]
        cpu = statistics.median(x[1] + x[2] for x in r)
        print(
            f"{tree}: wall {med[0]:.2f} user {med[1]:.2f} sys {med[2]:.2f} cpu {cpu:.2f} server {med[3]:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
