"""mlgit.sampling: ML-Git's group/range/random samples, as positions, then as manifest subsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit import sampling
from mlgit.cid import cid_of
from mlgit.errors import InvalidSample, MutabilityError
from mlgit.sampling import Sample, select

from .strategies import UNIT


@UNIT
@given(st.integers(1, 200), st.data())
def test_range_is_pythons_range(n: int, data: st.DataObject) -> None:
    stop = data.draw(st.integers(1, n))
    start = data.draw(st.integers(0, stop - 1))
    step = data.draw(st.integers(1, max(1, stop - 1))) if stop > 1 else 1
    if step >= stop:
        with pytest.raises(InvalidSample, match="STEP"):
            select(Sample("range", f"{start}:{stop}:{step}"), n)
        return
    assert select(Sample("range", f"{start}:{stop}:{step}"), n) == list(range(start, stop, step))
    assert select(Sample("range", f"{start}:all"), n) == list(range(start, n))


@UNIT
@given(st.integers(3, 300), st.integers(1, 5), st.integers(2, 20), st.integers(0, 2**32))
def test_random_draws_distinct_positions_reproducibly(n: int, amount: int, freq: int, seed: int) -> None:
    s = Sample("random", f"{amount}:{freq}", seed)
    if amount >= freq or freq >= n:
        with pytest.raises(InvalidSample, match="must be smaller than"):
            select(s, n)
        return
    chosen = select(s, n)
    assert len(chosen) == len(set(chosen)) == round(amount * n / freq)
    assert all(0 <= i < n for i in chosen)
    assert select(Sample("random", f"{amount}:{freq}", str(seed)), n) == chosen  # same seed, same files


@UNIT
@given(st.integers(3, 300), st.integers(1, 5), st.integers(2, 20), st.integers(0, 1000))
def test_group_draws_within_each_group_but_its_last_position(
    n: int, amount: int, size: int, seed: int
) -> None:
    s = Sample("group", f"{amount}:{size}", seed)
    try:
        chosen = select(s, n)
    except InvalidSample as exc:
        assert amount >= size or size >= n or "reaches past" in str(exc)
        return
    assert len(chosen) == len(set(chosen)) == amount * round(n / size)
    for i in chosen:
        assert i % size != size - 1 and i < n


@pytest.mark.parametrize(
    ("sample", "n", "says"),
    [
        (Sample("range", "5:2"), 10, "START \\(5\\) must be smaller than STOP"),
        (Sample("range", "0:11"), 10, "must not exceed the number of files"),
        (Sample("range", "a:b"), 10, "expected START:STOP"),
        (Sample("range", "0:all"), 0, "lists no file"),
        (Sample("group", "0:2", 1), 10, "AMOUNT must be greater than zero"),
        (Sample("group", "1:2", -1), 10, "seed must be a non-negative integer"),
        (Sample("group", "1:2", True), 10, "seed must be a non-negative integer"),
        (Sample("random", "1", 1), 10, "AMOUNT:FREQUENCY"),
        (Sample("random", "1:0", 1), 10, "FREQUENCY must be greater than zero"),
    ],
)
def test_bad_samples(sample: Sample, n: int, says: str) -> None:
    with pytest.raises(InvalidSample, match=says):
        select(sample, n)


def test_sample_forms() -> None:
    assert Sample.of({"group": "1:2", "seed": "10"}) == Sample("group", "1:2", "10")
    assert Sample.of({"range": "0:10:2"}) == Sample("range", "0:10:2")
    assert Sample.of({"type": "random", "sampling": "1:2", "seed": 3}) == Sample("random", "1:2", 3)
    s = Sample("group", "1:2", "10")
    assert Sample.of(s) is s and Sample.of(s.to_dict()) == s
    assert str(s) == "--sample-type=group --sampling=1:2 --seed=10"
    for bad, says in [
        ({"group": "1:2"}, "a seed is needed"),
        ({"group": "1:2", "range": "0:1"}, "exactly one"),
        ({"type": "all"}, "expected group, range or random"),
        ("group", "expected a mapping"),
    ]:
        with pytest.raises(InvalidSample, match=says):
            Sample.of(bad)  # type: ignore[arg-type]


def test_apply_keeps_every_path_of_a_chosen_key() -> None:
    keys = [cid_of(bytes([i])) for i in range(4)]
    manifest = {"a": keys[0], "a2": keys[0], "b": keys[1], "c": keys[2], "d": keys[3]}
    assert sampling.apply({"range": "0:4:2"}, manifest, "d__1") == {"a": keys[0], "a2": keys[0], "c": keys[2]}
    with pytest.raises(InvalidSample, match="d__1: .*STOP \\(9\\)"):
        sampling.apply({"range": "0:9"}, manifest, "d__1")


def test_the_flag_refuses_a_version_of_a_sample(tmp_path: Path) -> None:
    index_dir = tmp_path / "index" / "d"
    sampling.refuse_if_sampled(index_dir, "datasets", "d", "add")
    sampling.mark(index_dir, {"group": "1:2", "seed": "1"})
    assert sampling.is_sampled(index_dir)
    with pytest.raises(MutabilityError, match="sampled checkout .*\\(ml-git datasets checkout d\\)"):
        sampling.refuse_if_sampled(index_dir, "datasets", "d", "add")
    sampling.mark(index_dir, None)
    assert not sampling.is_sampled(index_dir)
