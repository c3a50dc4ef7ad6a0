"""Objects per second of mlgit's transfer layer (parallel, retried, CID-verified) against the plain SDK
loop (one object after the other, as a script or ML-Git's SFTP storage does), on the same server in
the same run: SFTP (Debian's OpenSSH sshd on loopback, paramiko) and Azure Blob (Azurite on
loopback, azure-storage-blob).

    python3 -m uv run --frozen --all-extras python bench/bench_storages.py                 # both, 1 round
    python3 -m uv run --frozen --all-extras python bench/bench_storages.py --backends sftph --rounds 3
    ... --objects 200                                                                      # a smoke run

The servers come from the test fixtures (tests/sftpserver.py, tests/azurite.py): sshd must be
installed (apt-get install openssh-server); Azurite is installed from npm into the test cache
folder on first use. Uploads go to an empty folder/container; downloads into an empty local
store. Not a test: pytest never collects it. Figures are ratios within one run (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from azurite import find_azurite, start_azurite  # noqa: E402
from sftpserver import start_sshd  # noqa: E402

from mlgit import transfer  # noqa: E402
from mlgit.cid import cid_of  # noqa: E402
from mlgit.objects import HashFS  # noqa: E402
from mlgit.storage.base import Storage  # noqa: E402

SEED = 20240611


def make_objects(n: int, size: int) -> dict[str, bytes]:
    rnd = random.Random(SEED)
    out = {}
    for _ in range(n):
        data = rnd.randbytes(size)
        out[cid_of(data)] = data
    return out


# -- per backend: a fresh bucket, mlgit's storage on it, and the plain SDK loop ------------------


class SFTPBench:
    name = "sftph"

    def __init__(self, base: Path) -> None:
        self.server = start_sshd(base / "sshd")

    def fresh(self) -> str:
        name = f"b{uuid.uuid4().hex[:8]}"
        (self.server.root / name).mkdir()
        return name

    def storage(self, bucket: str) -> Storage:
        from mlgit.storage.sftp import SFTPStorage

        return SFTPStorage.from_config(bucket, self.server.settings())

    def plain_put(self, bucket: str, objects: dict[str, bytes]) -> None:
        import io

        with self._sftp() as sftp:
            for key, data in objects.items():
                sftp.putfo(io.BytesIO(data), f"{bucket}/{key}", confirm=False)

    def plain_get(self, bucket: str, keys: list[str], dest: Path) -> None:
        with self._sftp() as sftp:
            for key in keys:
                with open(dest / key, "wb") as fh:
                    sftp.getfo(f"{bucket}/{key}", fh)

    def _sftp(self) -> Any:
        import paramiko

        client = paramiko.SSHClient()
        client.load_host_keys(str(self.server.known_hosts))
        s = self.server
        client.connect(s.host, port=s.port, username=s.username, key_filename=str(s.private_key))

        class _Ctx:
            def __enter__(self_inner) -> Any:
                self_inner.sftp = client.open_sftp()
                return self_inner.sftp

            def __exit__(self_inner, *exc: object) -> None:
                self_inner.sftp.close()
                client.close()

        return _Ctx()

    def stop(self) -> None:
        self.server.stop()


class AzureBench:
    name = "azureblobh"

    def __init__(self, base: Path) -> None:
        exe, reason = find_azurite()
        if exe is None:
            raise SystemExit(f"Azure not benched: {reason}")
        self.server = start_azurite(exe, base / "azurite")
        from azure.storage.blob import BlobServiceClient

        self.service = BlobServiceClient.from_connection_string(self.server.connection_string)

    def fresh(self) -> str:
        name = f"b{uuid.uuid4().hex[:8]}"
        self.service.create_container(name)
        return name

    def storage(self, bucket: str) -> Storage:
        from mlgit.storage.azure import AzureStorage

        return AzureStorage(bucket, connection_string=self.server.connection_string)

    def plain_put(self, bucket: str, objects: dict[str, bytes]) -> None:
        container = self.service.get_container_client(bucket)
        for key, data in objects.items():
            container.upload_blob(key, data, overwrite=True)

    def plain_get(self, bucket: str, keys: list[str], dest: Path) -> None:
        container = self.service.get_container_client(bucket)
        for key in keys:
            (dest / key).write_bytes(container.download_blob(key).readall())

    def stop(self) -> None:
        self.server.stop()


BACKENDS: dict[str, Callable[[Path], Any]] = {"sftph": SFTPBench, "azureblobh": AzureBench}


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def one_round(bench: Any, objects: dict[str, bytes], threads: int, tmp: Path) -> dict[str, float]:
    keys = sorted(objects)
    src = HashFS(tmp / "src")
    for k, d in objects.items():
        src.put(k, d)
    row: dict[str, float] = {}
    # plain SDK loop
    bucket = bench.fresh()
    row["plain_put_s"] = _timed(lambda: bench.plain_put(bucket, objects))
    dest = tmp / "plain-get"
    dest.mkdir()
    row["plain_get_s"] = _timed(lambda: bench.plain_get(bucket, keys, dest))
    # mlgit: a fresh bucket, its own storage object (its connections are part of the cost)
    bucket = bench.fresh()
    st = bench.storage(bucket)
    try:
        row["mlgit_put_s"] = _timed(lambda: transfer.upload(st, src, keys, threads=threads))
    finally:
        st.close()
    st = bench.storage(bucket)
    try:
        row["mlgit_get_s"] = _timed(lambda: transfer.download(st, HashFS(tmp / "dst"), keys, threads=threads))
    finally:
        st.close()
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="sftph,azureblobh")
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--size", type=int, default=16 * 1024, help="bytes per object")
    ap.add_argument(
        "--threads", type=int, default=10, help="mlgit's push_threads_count (ML-Git's default: 10)"
    )
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args(argv)
    objects = make_objects(args.objects, args.size)
    lines = [
        "| backend | plain put obj/s | mlgit put obj/s | put ratio | plain get obj/s | mlgit get obj/s | get ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-storages-") as d:
        base = Path(d)
        for name in args.backends.split(","):
            bench = BACKENDS[name](base / name)
            rows = []
            try:
                for rnd in range(args.rounds):
                    tmp = base / f"{name}-{rnd}"
                    tmp.mkdir()
                    row = one_round(bench, objects, args.threads, tmp)
                    rows.append(row)
                    print(
                        f"{name} round {rnd + 1}: " + ", ".join(f"{k}={v:.2f}" for k, v in row.items()),
                        flush=True,
                    )
            finally:
                bench.stop()
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            n = len(objects)
            pp, mp = n / med["plain_put_s"], n / med["mlgit_put_s"]
            pg, mg = n / med["plain_get_s"], n / med["mlgit_get_s"]
            lines.append(
                f"| {name} | {pp:.0f} | {mp:.0f} | {mp / pp:.2f}x | {pg:.0f} | {mg:.0f} | {mg / pg:.2f}x |"
            )
    print()
    print(
        f"{len(objects)} objects x {args.size} B, loopback, {os.cpu_count()} CPUs, mlgit threads={args.threads}, "
        f"medians of {args.rounds} round(s)"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
