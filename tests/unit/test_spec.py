"""mlgit.spec: the `.spec` file, validated field by field, written as ML-Git writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit import spec
from mlgit.errors import InvalidName, SpecError
from mlgit.names import SPEC_KEYS, parse_tag

from .strategies import UNIT

TYPES = {"dataset": "datasets", "labels": "labels", "model": "models"}


def _specs(written: dict[str, dict[str, bytes]]) -> list[tuple[str, str, bytes]]:
    return [(t, p, d) for t, files in written.items() for p, d in files.items() if p.endswith(".spec")]


def test_mlgit_specs_parse_and_write_back_byte_for_byte(mlgit_written: dict[str, dict[str, bytes]]) -> None:
    found = _specs(mlgit_written)
    assert len(found) == 4
    for tag, path, data in found:
        et = next(TYPES[k] for k in TYPES if data.startswith(f"{k}:".encode()))
        parsed_tag = parse_tag(tag)
        assert parsed_tag is not None
        body = spec.parse(data, et, path, name=parsed_tag[1])
        assert spec.tag_parts(body) == parsed_tag
        assert spec.dumps(et, body) == data, path


def test_model_spec_keeps_metrics_and_links(mlgit_written: dict[str, dict[str, bytes]]) -> None:
    files = mlgit_written["vision__wildlife__birdnet__1"]
    data = next(d for p, d in files.items() if p.endswith("birdnet.spec"))
    body = spec.parse(data, "models", "birdnet.spec", "birdnet")
    assert body["metrics"] == {"accuracy": 0.91, "f1": 0.88}
    assert body["dataset"]["tag"] == "vision__wildlife__birds__2"  # extra keys survive
    assert body["labels"]["tag"] == "vision__wildlife__birds-boxes__1"


GOOD: dict[str, Any] = {
    "name": "d",
    "version": 1,
    "categories": ["c"],
    "mutability": "strict",
    "manifest": {"storage": "local://b", "files": "MANIFEST.yaml"},
}
bodies = st.fixed_dictionaries(
    {
        "name": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        "version": st.integers(1, 10**9),
        "categories": st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=1, max_size=3),
        "mutability": st.sampled_from(["strict", "flexible", "mutable"]),
        "manifest": st.fixed_dictionaries(
            {"storage": st.sampled_from(["s3h://b", "local://x", "azureblobh://c"])}
        ),
    },
    optional={
        "metrics": st.dictionaries(
            st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.floats(-1e9, 1e9) | st.integers()
        ),
        "metadata": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    },
)


@UNIT
@given(st.sampled_from(sorted(SPEC_KEYS)), bodies)
def test_round_trip(tmp_path: Path, et: str, body: dict[str, Any]) -> None:
    path = spec.spec_file(tmp_path, body["name"])
    spec.save(path, et, body)
    assert spec.load(path, et, body["name"]) == body
    assert spec.dumps(et, spec.load(path, et)) == path.read_bytes()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"version": 0}, "'version' to be a positive integer"),
        ({"version": "2"}, "'version' to be a positive integer"),
        ({"version": True}, "'version' to be a positive integer"),
        ({"categories": []}, "'categories' to be a non-empty list"),
        ({"categories": ["a/b"]}, "category: expected"),
        ({"mutability": "frozen"}, "mutability strict, flexible or mutable"),
        ({"manifest": {"files": "MANIFEST.yaml"}}, "manifest: {storage"),
        ({"manifest": None}, "manifest: {storage"),
        ({"metrics": [1]}, "'metrics' to be a mapping"),
        ({"metrics": {"acc": "high"}}, "metric 'acc' to be a number"),
        ({"metrics": {"acc": True}}, "metric 'acc' to be a number"),
        ({"name": 3}, "'name' to be a string"),
    ],
)
def test_bad_fields(change: dict[str, Any], says: str) -> None:
    body = {**GOOD, **change}
    with pytest.raises(SpecError, match=says.replace("{", "\\{").replace("(", "\\(")) as info:
        spec.parse(spec.dumps("datasets", body), "datasets", "ws/d/d.spec")
    assert "ws/d/d.spec" in str(info.value)


def test_bad_documents() -> None:
    with pytest.raises(SpecError, match="expected a top-level 'dataset:' mapping, found \\['model'\\]"):
        spec.parse(spec.dumps("models", GOOD), "datasets", "x.spec")
    with pytest.raises(SpecError, match="malformed YAML"):
        spec.parse(b"dataset: [", "datasets", "x.spec")
    with pytest.raises(SpecError, match="expected name 'other', found 'd'"):
        spec.parse(spec.dumps("datasets", GOOD), "datasets", "x.spec", name="other")
    with pytest.raises(InvalidName):
        spec.parse(spec.dumps("datasets", {**GOOD, "name": "../d"}), "datasets", "x.spec")


def test_missing_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is missing"):
        spec.load(tmp_path / "d.spec", "datasets")


def test_reading_never_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "d.spec"
    path.write_bytes(b"# a comment ML-Git would drop\n" + spec.dumps("datasets", GOOD))
    before = path.read_bytes(), path.stat().st_mtime_ns
    spec.load(path, "datasets")
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_with_changes_copies() -> None:
    body = {**GOOD, "metrics": {"a": 1.0}}
    new = spec.with_changes(body, version=2, metrics=None)
    assert new["version"] == 2 and "metrics" not in new
    new["manifest"]["storage"] = "changed"
    assert body["manifest"]["storage"] == "local://b" and body["metrics"] == {"a": 1.0}


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 Bytes"),
        (1, "1 Byte"),
        (21, "21 Bytes"),
        (999, "999 Bytes"),
        (1000, "1.0 kB"),
        (2_500_000, "2.5 MB"),
        (1_000_001, "1.0 MB"),
        (10**12, "1.0 TB"),
        (999_999, "1000.0 kB"),
    ],
)
def test_natural_size_as_mlgit_writes_it(n: int, text: str) -> None:
    assert spec.natural_size(n) == text
