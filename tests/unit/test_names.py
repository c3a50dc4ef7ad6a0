"""mlgit.names: entity types (singular/plural), name and category rules, tags, safe relative paths."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit import names
from mlgit.errors import InvalidName, UnsafePath

from .strategies import UNIT

valid_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True).filter(
    lambda n: "__" not in n and ".." not in n and not n.endswith(".")
)


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("datasets", "datasets"),
        ("dataset", "datasets"),
        (" Labels ", "labels"),
        ("label", "labels"),
        ("MODEL", "models"),
        ("models", "models"),
    ],
)
def test_entity_type_singular_or_plural(given_: str, expected: str) -> None:
    assert names.entity_type(given_) == expected


@pytest.mark.parametrize("bad", ["", "data", "datasetss", "model s", "pipelines"])
def test_entity_type_refused(bad: str) -> None:
    with pytest.raises(InvalidName, match="expected datasets, labels or models"):
        names.entity_type(bad)


@pytest.mark.parametrize("good", ["a", "birds", "birds-boxes", "v1.2", "A_b-c.d", "x" * 100])
def test_good_names(good: str) -> None:
    assert names.check_name(good) == good


@pytest.mark.parametrize(
    "bad", ["", "-a", ".a", "_a", "a/b", "a__b", "a..b", "a.", "x" * 101, "a b", "a\nb", "é", "../x"]
)
def test_bad_names(bad: str) -> None:
    with pytest.raises(InvalidName, match="entity name: expected"):
        names.check_name(bad)


def test_categories() -> None:
    assert names.parse_categories("vision, wildlife,,") == ["vision", "wildlife"]
    assert names.parse_categories(["a", " b "]) == ["a", "b"]
    with pytest.raises(InvalidName, match="at least one category"):
        names.parse_categories(" , ")
    with pytest.raises(InvalidName, match="category: expected"):
        names.parse_categories("ok,not/ok")


@UNIT
@given(st.lists(valid_names, min_size=1, max_size=3), valid_names, st.integers(0, 10**6))
def test_tag_round_trip(categories: list[str], name: str, version: int) -> None:
    # a name or category ending in '_' makes '___' in the tag: see test_a_trailing_underscore_...
    if any(part.endswith("_") for part in [*categories, name]):
        return
    tag = names.make_tag(categories, name, version)
    assert names.parse_tag(tag) == (categories, name, version)


def test_a_trailing_underscore_is_refused_its_tag_would_not_parse_back() -> None:
    # 'birds_' would make the tag 'vision__birds___1', which parses as name '_1'... : refused up front
    with pytest.raises(InvalidName, match="not ending in"):
        names.check_name("birds_")
    assert names.parse_tag(names.make_tag(["vision"], names.check_name("birds"), 1)) == (
        ["vision"],
        "birds",
        1,
    )


@pytest.mark.parametrize("not_a_tag", ["birds", "vision__birds", "vision__birds__v1", "a__b__", ""])
def test_not_tags(not_a_tag: str) -> None:
    assert names.parse_tag(not_a_tag) is None


def test_a_tag_needs_a_category() -> None:
    assert names.parse_tag("birds__3") is None  # ML-Git tags always hold a category
    assert names.parse_tag("c__birds__3") == (["c"], "birds", 3)


@UNIT
@given(st.text(max_size=30))
def test_safe_relpath_never_escapes(path: str) -> None:
    try:
        rel = names.safe_relpath(path, "where")
    except UnsafePath as exc:
        assert "where" in str(exc)
        return
    assert not rel.startswith("/") and "\\" not in rel
    assert posixpath.normpath(rel) == rel and ".." not in rel.split("/")
    assert posixpath.normpath(posixpath.join("/root", rel)).startswith("/root/")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("../a", "escapes"),
        ("a/../b", "escapes"),
        ("a//b", "escapes"),
        ("./a", "escapes"),
        ("a/", "escapes"),
        ("/etc/passwd", "absolute"),
        ("C:\\x", "absolute"),
        ("a\nb", "expected a relative"),
        ("", "expected a relative"),
        ("..\\..\\x", "escapes"),
    ],
)
def test_unsafe_paths(bad: str, says: str) -> None:
    with pytest.raises(UnsafePath, match=says):
        names.safe_relpath(bad, "manifest m")


def test_windows_separators_are_read_as_slashes() -> None:
    assert names.safe_relpath("data\\img\\0.bin", "m") == "data/img/0.bin"


@pytest.mark.parametrize(
    ("bad", "says"), [("a\\b", "backslash"), ("a\tb", "control character"), ("a\udcffb", "UTF-8")]
)
def test_added_names_refused(bad: str, says: str) -> None:
    with pytest.raises(UnsafePath, match=says):
        names.check_added_name(bad, f"/ws/{bad}")


def test_drive_like_names_are_refused_yet_added() -> None:
    added = names.check_added_name("x:y.txt", "/ws/datasets/d/x:y.txt")
    assert names.safe_relpath(added, "index") == added
