"""Another workspace that keeps pushing new versions of the dataset while the pipelines run:
``python publisher.py JOB_JSON``; prints the versions it pushed and when each push returned."""

from __future__ import annotations

import json
import sys
import time

from mlgit import Repository


def main(job: dict) -> list[dict]:  # type: ignore[type-arg]
    repo = Repository(job["root"])
    path = repo.entity_path("datasets", "stream")
    pushed = []
    for n in range(job["first"], job["first"] + job["versions"]):
        (path / f"shard-{n:03d}.csv").write_text("".join(f"{n},{i},{i * n % 7}\n" for i in range(200)))
        repo.add("datasets", "stream", bumpversion=True)
        repo.commit("datasets", "stream", message=f"shard {n}")
        res = repo.push("datasets", "stream")
        pushed.append({"tag": res.tag, "sha": res.sha, "version": res.version, "at": time.time()})
        time.sleep(job.get("pause", 1.0))
    return pushed


if __name__ == "__main__":
    out = main(json.loads(sys.argv[1]))
    sys.stdout.write("\nREPORT " + json.dumps(out) + "\n")
