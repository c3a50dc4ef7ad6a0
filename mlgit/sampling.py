"""Sampled checkout: a subset of a version's files, chosen exactly as ML-Git 2.9.9 chooses it.

The unit is a manifest key (a file's content), in the order the keys appear in ``MANIFEST.yaml``;
a chosen key brings every path listed under it. Three kinds, each parameter a non-negative integer:

- ``range`` ``START:STOP[:STEP]`` (``STOP`` may be ``all`` or ``-1``: every key): the keys at
  ``range(START, STOP, STEP)``.
- ``random`` ``AMOUNT:FREQUENCY`` with ``seed``: ``round(AMOUNT * n / FREQUENCY)`` keys drawn with
  ``random.Random(seed).sample(range(n), ...)``.
- ``group`` ``AMOUNT:GROUP_SIZE`` with ``seed``: for each of ``round(n / GROUP_SIZE)`` consecutive
  groups, ``AMOUNT`` keys drawn from the group without its last position (ML-Git's rule, kept so
  the same seed picks the same files).

The seed feeds a private ``random.Random`` (ML-Git seeded the process-wide generator; the draws are
the same). Where ML-Git failed (a group past the last key, nothing chosen), this raises
``InvalidSample`` instead of an error that was only logged. After a sampled checkout the entity's
index folder holds a ``sampling`` file, as ML-Git's does: add and commit refuse to make a version out
of a sample.
"""

from __future__ import annotations

import os
import random
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from .atomic import atomic_write, refuse_symlinked_state
from .errors import InvalidSample, MutabilityError, UnsafePath

SampleType = Literal["group", "range", "random"]
TYPES: tuple[str, ...] = ("group", "range", "random")
#: ML-Git's CLI defaults for ``--sampling`` and ``--seed``
DEFAULT_SAMPLING = "1:1000"
DEFAULT_SEED = "1"
#: the flag file ML-Git leaves in ``.ml-git/<type>/index/metadata/<name>/`` after a sampled checkout
FLAG = "sampling"

# ASCII digits only, at most 18 of them (a seed 64), matched to the end: a 5,000-digit number or a
# trailing newline is an InvalidSample, not a ValueError; every bound below is then <= the key count
_PAIR = re.compile(r"([0-9]{1,18}):([0-9]{1,18})\Z")
_RANGE = re.compile(r"([0-9]{1,18}):(all|-1|[0-9]{1,18})(?::([0-9]{1,18}))?\Z")
_SEED = re.compile(r"([0-9]{1,64})\Z")


@dataclass(frozen=True)
class Sample:
    """``checkout --sample-type=TYPE --sampling=SAMPLING --seed=SEED``."""

    type: SampleType
    sampling: str = DEFAULT_SAMPLING
    seed: str | int = DEFAULT_SEED

    @classmethod
    def of(cls, value: Sample | Mapping[str, Any]) -> Sample:
        """A ``Sample`` as is, or ML-Git's API form: ``{"group": "1:2", "seed": "10"}``, ``{"range": "0:10:2"}``;
        ours is accepted too: ``{"type": "group", "sampling": "1:2", "seed": 10}``."""
        if isinstance(value, Sample):
            return value
        if not isinstance(value, Mapping):
            raise InvalidSample(
                f"sample: expected a mapping like {{'group': '1:2', 'seed': '10'}}, found {value!r}"
            )
        if "type" in value:
            kind, sampling = value["type"], value.get("sampling", DEFAULT_SAMPLING)
        else:
            kinds = [t for t in TYPES if t in value]
            if len(kinds) != 1:
                raise InvalidSample(
                    f"sample: expected exactly one of group, range, random as a key, found {sorted(value)}"
                )
            kind, sampling = kinds[0], value[kinds[0]]
        if kind not in TYPES:
            raise InvalidSample(f"sample type: expected group, range or random, found {kind!r}")
        if kind != "range" and "seed" not in value:
            raise InvalidSample(f"sample {kind}: a seed is needed, e.g. {{'{kind}': '1:2', 'seed': '10'}}")
        return cls(kind, str(sampling), value.get("seed", DEFAULT_SEED))

    def to_dict(self) -> dict[str, str]:
        """ML-Git's form."""
        out: dict[str, str] = {self.type: self.sampling}
        if self.type != "range":
            out["seed"] = str(self.seed)
        return out

    def __str__(self) -> str:
        seed = "" if self.type == "range" else f" --seed={_shown(self.seed)}"
        return f"--sample-type={self.type} --sampling={_shown(self.sampling)}{seed}"


def _shown(value: object) -> str:
    """A parameter as a message shows it: one line, at most 70 characters."""
    return str(value)[:70].encode("unicode_escape").decode("ascii")


def _seed(sample: Sample) -> int:
    if isinstance(sample.seed, bool) or not _SEED.match(str(sample.seed)):
        raise InvalidSample(
            f"{sample}: the seed must be a non-negative integer of at most 64 digits, found {str(sample.seed)[:60]!r}"
        )
    return int(sample.seed)


def select(sample: Sample, n: int) -> list[int]:
    """The positions (0..n-1) of the keys ML-Git's rule chooses from ``n`` keys, in its order."""
    if sample.type == "range":
        return _range(sample, n)
    m = _PAIR.match(str(sample.sampling))
    if not m:
        what = "AMOUNT:GROUP_SIZE" if sample.type == "group" else "AMOUNT:FREQUENCY"
        raise InvalidSample(
            f"{sample}: expected {what} as two non-negative integers (at most 18 digits), "
            f"found {str(sample.sampling)[:60]!r}"
        )
    seed = _seed(sample)
    amount, size = int(m.group(1)), int(m.group(2))
    if sample.type == "group":
        return _group(sample, amount, size, seed, n)
    return _random(sample, amount, size, seed, n)


def _range(sample: Sample, n: int) -> list[int]:
    m = _RANGE.match(str(sample.sampling))
    if not m:
        raise InvalidSample(
            f"{sample}: expected START:STOP or START:STOP:STEP (STOP may be all or -1; numbers of at most "
            f"18 digits), found {str(sample.sampling)[:60]!r}"
        )
    start = int(m.group(1))
    stop = n if m.group(2) in ("all", "-1") else int(m.group(2))
    step = int(m.group(3)) if m.group(3) is not None else 1
    if n == 0:
        raise InvalidSample(f"{sample}: the version lists no file")
    if start >= stop:
        raise InvalidSample(f"{sample}: START ({start}) must be smaller than STOP ({stop})")
    if step >= stop:
        raise InvalidSample(f"{sample}: STEP ({step}) must be smaller than STOP ({stop})")
    if stop > n:
        raise InvalidSample(f"{sample}: STOP ({stop}) must not exceed the number of files ({n})")
    if step == 0:
        raise InvalidSample(f"{sample}: STEP must be greater than zero")
    return list(range(start, stop, step))


def _check_size(sample: Sample, amount: int, size: int, label: str, n: int) -> None:
    """AMOUNT out of every ``size`` (GROUP_SIZE, FREQUENCY) files of ``n``: 0 < AMOUNT < size < n."""
    if size <= 0:
        raise InvalidSample(f"{sample}: {label} must be greater than zero")
    if n == 0:
        raise InvalidSample(f"{sample}: the version lists no file")
    if amount >= size:
        raise InvalidSample(f"{sample}: AMOUNT ({amount}) must be smaller than {label} ({size})")
    if size >= n:
        raise InvalidSample(f"{sample}: {label} ({size}) must be smaller than the number of files ({n})")


def _group(sample: Sample, amount: int, group_size: int, seed: int, n: int) -> list[int]:
    if amount == 0:
        raise InvalidSample(f"{sample}: AMOUNT must be greater than zero")
    _check_size(sample, amount, group_size, "GROUP_SIZE", n)
    rnd = random.Random(seed)
    chosen: list[int] = []
    end = group_size
    for _ in range(round(n / group_size)):
        chosen.extend(rnd.sample(range(end - group_size, end - 1), amount))
        end += group_size
    beyond = [i for i in chosen if i >= n]
    if beyond:
        # ML-Git failed here (an index past the list, logged); say why instead
        raise InvalidSample(
            f"{sample}: the last group reaches past the {n} files (position {beyond[0]}); "
            f"choose a GROUP_SIZE that divides {n} more evenly"
        )
    return list(dict.fromkeys(chosen))


def _random(sample: Sample, amount: int, frequency: int, seed: int, n: int) -> list[int]:
    _check_size(sample, amount, frequency, "FREQUENCY", n)
    return random.Random(seed).sample(range(n), round(amount * n / frequency))


def apply(sample: Sample | Mapping[str, Any], manifest: Mapping[str, str], where: str) -> dict[str, str]:
    """The part of ``manifest`` (path -> key, in the file's order) that the sample keeps."""
    s = Sample.of(sample)
    keys: Sequence[str] = list(dict.fromkeys(manifest.values()))
    try:
        chosen = {keys[i] for i in select(s, len(keys))}
    except InvalidSample as exc:
        raise InvalidSample(f"{where}: {exc}") from None
    if not chosen:
        raise InvalidSample(f"{where}: {s} chooses no file of the {len(keys)}")
    return {rel: key for rel, key in manifest.items() if key in chosen}


def mark(index_dir: Path, sample: Sample | Mapping[str, Any] | None) -> None:
    """Leave (or clear, after a whole checkout) ML-Git's flag: this workspace holds a sample."""
    flag = _flag(index_dir)
    refuse_symlinked_state(flag)  # the index folder swapped for a symlink: nothing deleted or written there
    if sample is None:
        flag.unlink(missing_ok=True)
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(flag, yaml.safe_dump(Sample.of(sample).to_dict(), default_flow_style=False).encode())


def _flag(index_dir: Path) -> Path:
    """The flag's path; a folder (or a FIFO, a device) in its place, planted by another task, is
    refused by name instead of failing in unlink/rename with an internal error."""
    flag = index_dir / FLAG
    try:
        mode = flag.lstat().st_mode
    except FileNotFoundError:
        return flag
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise UnsafePath(
            f"{flag}: expected ML-Git's sampling flag (a file) or nothing, found "
            f"{'a folder' if stat.S_ISDIR(mode) else 'a special file'}; remove it"
        )
    return flag


def is_sampled(index_dir: Path) -> bool:
    return os.path.lexists(_flag(index_dir))


def refuse_if_sampled(index_dir: Path, et: str, name: str, verb: str) -> None:
    """A version made from a sample would drop every file left out: refuse, as ML-Git's add does."""
    if is_sampled(index_dir):
        raise MutabilityError(
            f"{et} {name}: the workspace holds a sampled checkout ({index_dir / FLAG}); {verb} would make a "
            f"version of the sample only. Check out the whole version first (ml-git {et} checkout {name})"
        )
