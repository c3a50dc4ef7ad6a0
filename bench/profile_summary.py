"""Summarize py-spy raw (collapsed) stacks that ``bench_s3.py --profile DIR`` wrote.

    python bench/profile_summary.py DIR/W1-checkout.txt [--top 25] [--under checkout.py:123]

Prints the share of samples by leaf function, by the innermost frame of mlgit's own code (where our
code spends, itself or through what it calls), and by the outermost mlgit frame below the step's
``<module>`` (imports vs the verb). Not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>[^():]*?)(?::(?P<line>\d+))?\)$")


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) of each frame, outermost first."""
    out = []
    for raw in stack.split(";"):
        m = _FRAME.match(raw)
        out.append((m["fn"], m["file"]) if m else (raw, ""))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    for path in args.files:
        leaf: Counter[str] = Counter()
        ours: Counter[str] = Counter()
        area: Counter[str] = Counter()
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            fr = frames(stack)
            fn, file = fr[-1]
            leaf[f"{fn} ({file})"] += n
            mine = [f for f in fr if f[1].startswith("mlgit/")]
            ours[f"{mine[-1][0]} ({mine[-1][1]})" if mine else "(no mlgit frame)"] += n
            if any("importlib" in f[1] for f in fr):
                area["imports"] += n
            elif mine:
                area[mine[0][1].split("/")[-1] + ":" + mine[0][0]] += n
            else:
                area["(other)"] += n
        print(f"== {path}: {total} samples")
        for title, counter in (("area", area), ("innermost mlgit frame", ours), ("leaf", leaf)):
            print(f"-- by {title}")
            for name, n in counter.most_common(args.top):
                print(f"{100 * n / total:6.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
