"""Shared by the reliability tests: running worker processes and checking that nothing was lost."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlgit import Repository

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.py"


def git(*args: str, cwd: str | Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def remote_tags(bare: str) -> dict[str, str]:
    """tag -> commit sha in a bare metadata remote."""
    out = git(
        "-C", bare, "for-each-ref", "--format=%(refname:short) %(*objectname) %(objectname)", "refs/tags"
    )
    tags = {}
    for line in out.splitlines():
        name, peeled, obj = (line.split() + [""])[:3]
        tags[name] = peeled or obj
    return tags


def run_workers(jobs: Iterable[dict[str, Any]], timeout: float = 600) -> list[dict[str, Any]]:
    """Start one process per job at once; their JSON reports (a worker that crashed fails the test)."""
    procs = [
        (
            job,
            subprocess.Popen(
                [sys.executable, str(WORKER), json.dumps(job)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            ),
        )
        for job in jobs
    ]
    reports = []
    for job, proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"worker {job['worker']} exited {proc.returncode}:\n{err[-4000:]}"
        report = json.loads(out.strip().splitlines()[-1])
        report["rejected_pushes"] = err.count("metadata push rejected")
        reports.append(report)
    return reports


def files_sha256(folder: Path) -> dict[str, str]:
    """Data files by content; ``.tmp-*`` files (left by a killed process, ignored by every verb) excluded."""
    return {
        f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*.bin"))
        if not f.name.startswith(".tmp-")
    }


def check_nothing_lost(verifier: Repository, bare: str, reports: list[dict[str, Any]]) -> int:
    """Every version a worker reported pushed is in the remote under its own sha, and checks out
    (from the storage alone) byte for byte as the worker had it. Returns the versions checked."""
    tags = remote_tags(bare)
    claimed: dict[str, str] = {}
    checked = 0
    verifier.update("datasets")
    for report in reports:
        for v in report["pushed"]:
            assert v["tag"] in tags, (
                f"worker {report['worker']} pushed {v['tag']}, the remote does not have it"
            )
            assert tags[v["tag"]] == v["sha"], (
                f"{v['tag']}: worker {report['worker']} pushed {v['sha'][:12]}, remote has {tags[v['tag']][:12]} (overwritten)"
            )
            assert claimed.setdefault(v["tag"], v["sha"]) == v["sha"], f"{v['tag']} claimed by two workers"
            res = verifier.checkout("datasets", v["tag"], force=True)
            assert files_sha256(Path(res.path)) == v["files"], f"{v['tag']} does not check out as pushed"
            checked += 1
    return checked
