"""mlgit.bounds: a checkout writes no more than its spec declares and the disk holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit import bounds
from mlgit.errors import DescriptorError, SpecError, TooLarge
from mlgit.spec import natural_size

from .strategies import UNIT


@pytest.mark.parametrize(
    ("size", "most"),
    [
        (None, None),
        (21, 21),
        ("21 Bytes", 21),
        ("1 Byte", 1),
        ("2.5 MB", 2_550_001),
        ("1.0 kB", 1051),
        (" 3 gb ", 3_050_000_001),
    ],
)
def test_declared_max(size: object, most: int | None) -> None:
    assert bounds.declared_max(size) == most


@UNIT
@given(st.integers(0, 10**16))
def test_the_size_a_spec_records_bounds_the_bytes(n: int) -> None:
    most = bounds.declared_max(natural_size(n))
    assert most is not None and n <= most
    assert most <= n * 1.1 + 1  # one decimal: at most 10% more (at 1.0 kB), never 10x


@pytest.mark.parametrize("bad", ["big", "2.5", "MB", "-1 kB", "1e3 kB", True])
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(SpecError, match="manifest.size: expected a size"):
        bounds.declared_max(bad)


def _check(
    tmp_path: Path, body: dict, files: int = 2, sizes: dict | None = None, new_bytes: int = 10
) -> None:
    sizes = sizes or {"k1": 5, "k2": 5}
    jobs = {f"f{i}": (k, tmp_path / f"f{i}") for i, k in enumerate(sizes)}
    bounds.check_checkout("d__1", body, files, jobs, sizes.__getitem__, new_bytes, tmp_path)


def test_check_checkout(tmp_path: Path) -> None:
    _check(tmp_path, {"manifest": {"amount": 2, "size": "10 Bytes"}})
    _check(tmp_path, {"manifest": {}})  # no size declared: bounded by the free space only
    with pytest.raises(DescriptorError, match="declares manifest.amount 3 file\\(s\\), the manifest lists 2"):
        _check(tmp_path, {"manifest": {"amount": 3}})
    with pytest.raises(TooLarge, match="would write 10 bytes, but the spec declares manifest.size '9 Bytes'"):
        _check(tmp_path, {"manifest": {"size": "9 Bytes"}})
    with pytest.raises(TooLarge, match=f"needs {1 << 62} bytes in {tmp_path}"):
        _check(tmp_path, {"manifest": {}}, new_bytes=1 << 62)


def test_free_bytes_of_a_folder_not_made_yet(tmp_path: Path) -> None:
    # the nearest existing parent's device; other processes write meanwhile: equal within 256 MiB
    below, here = bounds.free_bytes(tmp_path / "a" / "b"), bounds.free_bytes(tmp_path)
    assert below > 0 and here > 0 and abs(below - here) < 256 * 2**20
