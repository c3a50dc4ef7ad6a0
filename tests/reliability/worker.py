"""One pipeline worker, run as its own process by the reliability tests.

``python worker.py JOB_JSON`` versions an entity ``versions`` times in its own workspace (add,
commit, push, as an Airflow/Prefect task does) and prints one JSON report on stdout: every version
it was told was pushed, with its tag, sha, manifest and the sha256 of each file it wrote, so the
test can check that all of them exist afterwards, whole and unchanged.

Job keys: ``root`` (workspace), ``remotes`` ({type: url}), ``storage`` ({"type": "local", "path"} or
{"type": "s3h", "bucket", "settings"}), ``name`` (entity), ``versions``, ``worker`` (an id),
``auto_bump`` (take the next free version on a conflict), ``size`` (bytes per file), ``retries``;
``mode: update`` with ``stop_file`` runs ``update`` in a loop until that file exists.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from mlgit import MetadataError, Repository, VersionConflict


def setup(job: dict[str, Any]) -> tuple[Repository, str]:
    """A workspace on the shared remotes and storage; returns the repo and the storage bucket name."""
    repo = Repository.init(job["root"])
    for et, url in job["remotes"].items():
        repo.remote_add(et, url)
        repo.entity_init(et)
    st = job["storage"]
    if st["type"] == "local":
        repo.storage_add("bucket", "local", path=st["path"])
        return repo, "bucket"
    repo.set_config("storages", {"s3h": {st["bucket"]: st["settings"]}})
    return repo, st["bucket"]


def open_entity(repo: Repository, job: dict[str, Any], bucket: str) -> Path:
    """The entity folder: checked out at its latest version when another worker made it, else created."""
    name = job["name"]
    stype = "local" if job["storage"]["type"] == "local" else "s3h"
    repo.update("datasets")
    if repo.tags("datasets", name):
        return Path(repo.checkout("datasets", name, force=True).path)
    try:
        return repo.create("datasets", name, "reliability", "strict", stype, bucket)
    except Exception:
        return repo.entity_path("datasets", name)


def one_version(repo: Repository, job: dict[str, Any], path: Path, n: int) -> dict[str, Any]:
    """Write a file only this worker writes, then add, commit and push it as a new version."""
    rel = f"w{job['worker']}/v{n}.bin"
    data = f"worker {job['worker']} version {n} ".encode() * max(1, job.get("size", 64) // 24)
    data += os.urandom(16)
    target = path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    name = job["name"]
    conflicts = 0
    for attempt in range(job.get("retries", 60)):
        try:
            repo.add(
                "datasets", name, bumpversion=True
            )  # bumps only past a version tagged with other content
            committed = repo.commit(
                "datasets",
                name,
                message=f"worker {job['worker']} v{n}",
                auto_bump=job.get("auto_bump", False),
            )
            pushed = repo.push("datasets", name, auto_bump=job.get("auto_bump", False))
            break
        except VersionConflict:
            conflicts += 1
            if not job.get("auto_bump", False) or attempt == job.get("retries", 60) - 1:
                raise
            time.sleep(random.uniform(0.0, 0.2))
    else:  # pragma: no cover
        raise RuntimeError("unreachable")
    files = {}
    for f in sorted(path.rglob("*.bin")):
        files[f.relative_to(path).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return {
        "tag": pushed.tag,
        "sha": pushed.sha,
        "version": pushed.version,
        "committed": committed.tag,
        "rel": rel,
        "sha256": hashlib.sha256(data).hexdigest(),
        "files": files,
        "conflicts": conflicts,
    }


def keep_updating(repo: Repository, job: dict[str, Any]) -> dict[str, Any]:
    """What a replayed push does to a shared workspace: ``update`` again and again until told to stop."""
    out: dict[str, Any] = {"worker": job["worker"], "pushed": [], "errors": [], "updates": 0}
    stop = Path(job["stop_file"])
    while not stop.exists():
        try:
            repo.update("datasets")
            out["updates"] += 1
            if job.get("ready_file"):
                Path(job["ready_file"]).touch()
        except MetadataError as exc:
            out["errors"].append(f"{type(exc).__name__}: {exc}")
    return out


def run(job: dict[str, Any]) -> dict[str, Any]:
    repo, bucket = setup(job)
    if job.get("mode") == "update":
        return keep_updating(repo, job)
    path = open_entity(repo, job, bucket)
    out: dict[str, Any] = {"worker": job["worker"], "pushed": [], "errors": []}
    for n in range(1, job["versions"] + 1):
        try:
            out["pushed"].append(one_version(repo, job, path, n))
        except (VersionConflict, MetadataError) as exc:
            out["errors"].append(f"{type(exc).__name__}: {exc}")
            if not job.get("keep_going", False):
                break
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    result = run(json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps(result) + "\n")
