"""mlgit.config: `.ml-git/config.yaml` with ML-Git 2.9.9's keys, merged over the defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgit import config
from mlgit.errors import ConfigError, NotARepository, UnsafePath

from .conftest import FIXTURE


def _write(root: Path, doc: Any) -> Path:
    path = config.config_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def test_mlgits_config_loads_unchanged(tmp_path: Path) -> None:
    path = config.config_path(tmp_path)
    path.parent.mkdir()
    path.write_bytes((FIXTURE / "config.yaml").read_bytes())
    before = path.read_bytes(), path.stat().st_mtime_ns
    cfg = config.load(tmp_path)
    assert cfg["storages"]["s3h"]["mlgit-fixture"]["region"] == "us-east-1"
    assert cfg["datasets"]["git"] == "file:///tmp/fix/work/datasets.git"
    assert cfg["batch_size"] == 20 and cfg["push_threads_count"] == 10  # a default filled in
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before  # a read never rewrites


def test_save_load_round_trip(tmp_path: Path) -> None:
    doc = {**config.DEFAULTS, "datasets": {"git": "/r/d.git"}, "storages": {"local": {"b": {"path": "/x"}}}}
    config.save(tmp_path, doc)
    assert config.load(tmp_path) == doc
    assert not list((tmp_path / ".ml-git").glob(".tmp-*"))


def test_defaults_are_not_shared(tmp_path: Path) -> None:
    _write(tmp_path, {})
    cfg = config.load(tmp_path)
    cfg["datasets"]["git"] = "changed"
    assert config.DEFAULTS["datasets"]["git"] == ""
    assert config.load(tmp_path)["storages"] == {}


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(NotARepository, match="run: ml-git repository init"):
        config.load(tmp_path)


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ("- a\n", "expected a mapping of settings, found list"),
        ({"datasets": "url"}, "'datasets' must be a mapping"),
        ({"storages": ["s3"]}, "'storages' must be a mapping"),
        ({"storages": {"s3h": {"b": "region"}}}, "'storages.s3h' must be a mapping of bucket name"),
        ({"batch_size": 0}, "'batch_size' must be a positive integer"),
        ({"push_threads_count": "ten"}, "'push_threads_count' must be a positive integer"),
        ("a: [", "malformed YAML"),
    ],
)
def test_bad_config_names_the_file(tmp_path: Path, doc: Any, says: str) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(ConfigError, match=says.replace("(", "\\(")) as info:
        config.load(tmp_path)
    assert str(path) in str(info.value)


def test_a_symlinked_mlgit_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    _write(elsewhere, {})
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / ".ml-git").symlink_to(elsewhere / ".ml-git")
    with pytest.raises(UnsafePath, match="symlink"):
        config.load(tmp_path / "ws")
