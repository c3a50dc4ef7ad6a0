"""What the pipeline processes and the test agree on: the names, the model a run trains, the digest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

DATASET = "stream"
MODEL = "stream-model"


def digest_of(folder: Path) -> str:
    """The data files of an entity folder (spec and README excluded), by path and content."""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).as_posix()
        if (
            f.is_file()
            and not f.name.endswith(".spec")
            and f.name != "README.md"
            and not f.name.startswith(".")
        ):
            h.update(rel.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def train(dataset_path: str, dataset_tag: str, model_path: str, run: str) -> dict[str, str]:
    """The "model": which dataset version it saw, a digest of exactly the files it read, and its run."""
    model = {"dataset": dataset_tag, "digest": digest_of(Path(dataset_path)), "run": run}
    (Path(model_path) / "model.json").write_text(json.dumps(model, sort_keys=True))
    return model
