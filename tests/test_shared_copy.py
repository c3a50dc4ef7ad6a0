"""tests/data is a verbatim copy of ../shared (ML-Git 2.9.9's own output): prove it never drifts."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
from helpers import DATA

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside this clone")
@pytest.mark.parametrize("sub", ["fixtures/mlgit-2.9.9", "vectors"])
def test_copy_matches_shared(sub: str) -> None:
    ours = DATA / Path(sub).name
    theirs = SHARED / sub
    names = sorted(p.relative_to(theirs).as_posix() for p in theirs.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(ours).as_posix() for p in ours.rglob("*") if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(theirs, ours, names, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert len(match) == len(names) > 0
