"""``log`` (with ``--stat``/``--fullstat``), ``diff`` and ``metrics --export-path``, laid out as ML-Git
prints and writes them (scripts written for ML-Git parse these)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import index as idx
from .. import manifest as mf
from ..atomic import atomic_write
from ..errors import EntityNotFound, InvalidName, MetadataError
from ..names import check_name, parse_tag
from ..spec import natural_size

if TYPE_CHECKING:
    from ..context import Context

DATASET_INFO = "Related dataset - (version)"
LABELS_INFO = "Related labels - (version)"


def table(rows: list[list[str]], align: str = "c") -> str:
    """A table drawn as PrettyTable draws it by default (what ML-Git printed)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(row: list[str]) -> str:
        cells = [c.ljust(w) if align == "l" else c.center(w) for c, w in zip(row, widths, strict=True)]
        return "| " + " | ".join(cells) + " |"

    return "\n".join([rule, line(rows[0]), rule, *(line(r) for r in rows[1:]), rule])


def _ordered_tags(ctx: Context, et: str, name: str) -> list[tuple[str, int]]:
    check_name(name)
    md = ctx.metadata(et)
    tags = md.tags(name)
    if not tags:
        raise EntityNotFound(f"No log found for entity [{name}] (no version in {md.path})")
    dated = [(t, int(md.git("log", "-1", "--format=%at", f"refs/tags/{t}^{{commit}}").strip())) for t in tags]
    return sorted(dated, key=lambda td: td[1])


def _manifest_at(ctx: Context, et: str, ref: str, folder: str) -> mf.Manifest | None:
    try:
        return mf.parse(ctx.metadata(et).show(ref, f"{folder}/MANIFEST.yaml"), f"{ref}:{folder}")
    except MetadataError:
        return None


def _grouped(paths: list[str]) -> str:
    counts: dict[str, int] = {}
    for p in paths:
        key = p[: p.rfind("/") + 1] if "/" in p else "./"
        counts[key] = counts.get(key, 0) + 1
    return "\n\t".join(f"{k}\t-> \t{n} FILES" for k, n in counts.items())


def log_text(ctx: Context, et: str, name: str, stat: bool = False, fullstat: bool = False) -> str:
    md = ctx.metadata(et)
    out = ""
    for tag, when in _ordered_tags(ctx, et, name):
        body, manifest, folder, sha = ctx.store.read_version(et, tag, name)
        author, email, message = md.git("log", "-1", "--format=%an%x00%ae%x00%B", sha).split("\x00", 2)
        out += "\n"
        out += f"\nTag: {tag}\nAuthor: {author}\nEmail: {email}"
        out += (
            f"\nDate: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(when))}\nMessage: {message.strip()}"
        )
        if stat or fullstat:
            parent = _manifest_at(ctx, et, f"{sha}^", folder) if _has_parent(ctx, et, sha) else None
            old, new = set(parent or {}), set(manifest)
            added, deleted = sorted(new - old), sorted(old - new)
            for label, files in (("Added files", added), ("Deleted files", deleted)):
                if files:
                    listing = "\n\t".join(files) if fullstat else _grouped(files)
                    out += f"\n\n{label} [{len(files)}]:\n\t{listing}"
            size, amount = body["manifest"].get("size"), body["manifest"].get("amount")
            if size is not None:
                out += f"\n\nFiles size: {size}"
            if amount is not None:
                out += f"\n\nAmount of files: {amount}"
        metrics = body.get("metrics") or {}
        if metrics:
            out += "\nmetrics:\n" + table(
                [["Name", "Value"], *([k, str(v)] for k, v in metrics.items())], "l"
            )
    if stat or fullstat:
        index = idx.load(ctx.layout.index_dir(et, name) / "INDEX.yaml")
        size = natural_size(sum(e.size for e in index.values()))
        out += f"\n------------------------------------------------- \nTotal of files: {len(index)}\tWorkspace size: {size}"
    return out


def _has_parent(ctx: Context, et: str, sha: str) -> bool:
    return len(ctx.metadata(et).git("rev-list", "--parents", "-n", "1", sha).split()) > 1


def diff(ctx: Context, et: str, name: str, first: str, second: str) -> tuple[list[str], list[str], list[str]]:
    """(added, updated, deleted) paths from ``first`` to ``second`` (two tags of ``name``)."""
    for tag in (first, second):
        parsed = parse_tag(tag)
        if parsed is None or parsed[1] != name:
            raise InvalidName(f"The tags do not match the entity name: {tag!r} is not a version of {name!r}")
    old = ctx.store.read_version(et, first, name)[1]
    new = ctx.store.read_version(et, second, name)[1]
    added = sorted(p for p in new if p not in old)
    updated = sorted(p for p in new if p in old and old[p] != new[p])
    deleted = sorted(p for p in old if p not in new)
    return added, updated, deleted


def short_listing(files: Iterable[str]) -> list[str]:
    """ML-Git's short file listing: a folder with several files is one line ``folder/\\t->\\tN FILES``."""
    groups: dict[str, list[str]] = {}
    for f in files:
        base, _, leaf = f.rpartition("/")
        groups.setdefault(base, []).append(leaf)
    lines = []
    for base, leaves in groups.items():
        if not base:
            lines += [f"\t{leaf}" for leaf in leaves]
        elif len(leaves) == 1:
            lines.append(f"\t{base}/{leaves[0]}")
        else:
            lines.append(f"\t{base}/\t->\t{len(leaves)} FILES")
    return lines


def metrics_info(ctx: Context, name: str) -> list[dict[str, Any]]:
    infos = []
    for tag, when in _ordered_tags(ctx, "models", name):
        body = ctx.store.read_version("models", tag, name)[0]
        info: dict[str, Any] = {"Date": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)), "Tag": tag}
        for key, label in (("dataset", DATASET_INFO), ("labels", LABELS_INFO)):
            link = body.get(key)
            parsed = parse_tag(str(link["tag"])) if isinstance(link, dict) and "tag" in link else None
            info[label] = f"{parsed[1]} - ({parsed[2]})" if parsed else None
        info["metrics"] = dict(body.get("metrics") or {})
        infos.append(info)
    return infos


def export_metrics(ctx: Context, name: str, folder: Path, kind: str) -> Path:
    """Write ``<folder>/<name>-metrics.json|csv`` as ML-Git's ``models metrics --export-path`` did."""
    infos = metrics_info(ctx, name)
    folder.mkdir(parents=True, exist_ok=True)
    kind = kind.lower()
    if kind == "json":
        path = folder / f"{name}-metrics.json"
        atomic_write(path, json.dumps({"model_name": name, "tags_metrics": infos}).encode())
        return path
    if kind != "csv":
        raise InvalidName(f"--export-type: expected csv or json, found {kind!r}")
    header = ["Date", "Tag", DATASET_INFO, LABELS_INFO]
    for info in infos:
        header += [k for k in info["metrics"] if k not in header]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    for info in infos:
        writer.writerow({**info, **info["metrics"]})
    path = folder / f"{name}-metrics.csv"
    atomic_write(path, buf.getvalue().encode())
    return path


def unpublished_commits(ctx: Context, et: str) -> int:
    """Commits of the type's metadata branch its remote-tracking branch lacks (ML-Git's status count;
    local refs only, no network)."""
    md = ctx.metadata(et)
    if not md.exists or not md.has_commits():
        return 0
    upstream = f"origin/{md.branch}"
    if not md.ref_exists(upstream):
        return int(md.git("rev-list", "--count", "HEAD").strip() or 0) if md.remote_url() else 0
    return int(md.git("rev-list", "--count", f"{upstream}..HEAD").strip() or 0)
