"""A toy dataset and its labels, so the example flows run anywhere without downloads.

Two clusters of 2-D points (``data/points.csv``) and their classes (``annotations/labels.csv``),
generated from a seed: the same seed always gives the same bytes, hence the same ML-Git objects.
"""

from __future__ import annotations

import random
from pathlib import Path


def write_points(folder: str | Path, n: int = 40, seed: int = 7) -> Path:
    """``folder/data/points.csv`` (id,x,y) and ``folder/annotations/labels.csv`` (id,label)."""
    rng = random.Random(seed)
    root = Path(folder)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    points, labels = ["id,x,y"], ["id,label"]
    for i in range(n):
        label = i % 2
        cx, cy = (0.0, 0.0) if label == 0 else (3.0, 3.0)
        points.append(f"{i},{cx + rng.gauss(0, 0.8):.4f},{cy + rng.gauss(0, 0.8):.4f}")
        labels.append(f"{i},{'a' if label == 0 else 'b'}")
    (root / "data" / "points.csv").write_text("\n".join(points) + "\n")
    (root / "annotations" / "labels.csv").write_text("\n".join(labels) + "\n")
    return root
