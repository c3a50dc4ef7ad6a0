"""``log`` (--stat/--fullstat), ``diff``, ``models metrics --export-path/--export-type``."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from helpers import Cli


def test_log_layout_and_stat(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version(
        "datasets", "ds", {"data/train/a": b"a", "data/train/b": b"b", "top": b"t"}, commit_args="-m first"
    )
    version("datasets", "ds", {"data/val/c": b"c"}, commit_args="-m second")
    out = cli("datasets log ds", cwd=ws).output
    assert out.startswith(
        "INFO - Repository: \n\nTag: cat__ds__1\nAuthor: mlgit tests\nEmail: tests@mlgit.invalid\nDate: "
    )
    assert re.search(r"\nDate: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\nMessage: first\n\nTag: cat__ds__2\n", out)
    stat = cli("datasets log ds --stat", cwd=ws).output
    assert "Added files [3]:\n\tdata/train/\t-> \t2 FILES\n\t./\t-> \t1 FILES" in stat
    assert "Added files [1]:\n\tdata/val/\t-> \t1 FILES" in stat
    assert "Amount of files: 4" in stat
    assert "Total of files: 4\tWorkspace size: 4 Bytes" in stat
    full = cli("datasets log ds --fullstat", cwd=ws).output
    assert "Added files [3]:\n\tdata/train/a\n\tdata/train/b\n\ttop" in full


def test_log_of_unknown_entity_errors(cli: Cli, ws: Path) -> None:
    assert "No log found for entity [nope]" in cli("datasets log nope", ok=False, cwd=ws).output


def test_log_shows_model_metrics(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    cli(
        "models create m --categories=cat --mutability=mutable --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    (ws / "models" / "m" / "w").write_bytes(b"w")
    cli("models add m --metric accuracy 0.5", cwd=ws)
    cli("models commit m", cwd=ws)
    out = cli("models log m", cwd=ws).output
    assert (
        "\nmetrics:\n+----------+-------+\n| Name     | Value |\n+----------+-------+\n| accuracy | 0.5   |"
        in out
    )


def test_diff(cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"d/a": b"a", "d/b": b"b", "gone": b"g"})
    folder = ws / "datasets" / "ds"
    (folder / "gone").unlink()
    version("datasets", "ds", {"d/b": b"B", "d/n1": b"1", "d/n2": b"2"})
    out = cli("datasets diff ds cat__ds__1 cat__ds__2", cwd=ws).output
    assert out == "Added files:\n\td/\t->\t2 FILES\n\nUpdated files:\n\td/b\n\nDeleted files:\n\tgone\n"
    full = cli("datasets diff ds cat__ds__1 cat__ds__2 --full", cwd=ws).output
    assert "Added files:\n\td/n1\n\td/n2\n" in full
    bad = cli("datasets diff ds cat__ds__1 cat__other__2", ok=False, cwd=ws)
    assert "The tags do not match the entity name" in bad.output


def test_metrics_export(tmp_path: Path, cli: Cli, ws: Path, version) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"a": b"a"})
    cli(
        "models create m --categories=cat --mutability=mutable --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    (ws / "models" / "m" / "w").write_bytes(b"w")
    cli("models add m --metric accuracy 0.5 --metric loss 2", cwd=ws)
    cli("models commit m --dataset=ds", cwd=ws)
    out = cli(f"models metrics m --export-path={tmp_path / 'exp'} --export-type=csv", cwd=ws).output
    path = tmp_path / "exp" / "m-metrics.csv"
    assert f"INFO - MLGit: The metrics were exported to the file: {path}" in out
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["Tag"] == "cat__m__1" and rows[0]["accuracy"] == "0.5" and rows[0]["loss"] == "2.0"
    assert rows[0]["Related dataset - (version)"] == "ds - (1)"
    cli(f"models metrics m --export-path={tmp_path / 'exp'}", cwd=ws)
    doc = json.loads((tmp_path / "exp" / "m-metrics.json").read_text())
    assert doc["model_name"] == "m" and doc["tags_metrics"][0]["metrics"] == {"accuracy": 0.5, "loss": 2.0}
    assert cli("models metrics m --export-type=csv", ok=False, cwd=ws).exit_code == 2


def test_metrics_table_per_tag(cli: Cli, ws: Path) -> None:
    cli(
        "models create m --categories=cat --mutability=mutable --storage-type=local --bucket-name=bucket",
        cwd=ws,
    )
    (ws / "models" / "m" / "w").write_bytes(b"w")
    cli("models add m --metric Accuracy 10 --metric Recall 10", cwd=ws)
    cli("models commit m", cwd=ws)
    lines = cli("models metrics m", cwd=ws).output.splitlines()
    assert lines[0] == "Tag: cat__m__1"
    width = len(lines[1])
    assert lines[1] == "+" + "-" * 29 + "+" + "-" * 21 + "+"  # PrettyTable's rule, widest cell + 2
    assert all(len(line) == width for line in lines[1:10])
    assert lines[2] == "|             Name            |        Value        |"
    assert lines[5] == "| Related dataset - (version) |         None        |"
    assert lines[7] == "|           Accuracy          |         10.0        |"
    assert lines[10] == ""
