"""What a push leaves in Prefect: an asset event per version, a table of what was pushed, a lineage summary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize

from mlgit import Lineage
from mlgit.names import tag_name

from .runs import run_ids


def asset_key(entity_type: str, name: str) -> str:
    """``mlgit://<type>/<name>``: one Prefect asset per versioned entity."""
    return f"mlgit://{entity_type}/{name}"


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", "-".join(parts).lower())).strip("-")


def _upstream_name(tag: str) -> str:
    return tag_name(tag)


def emit_asset(result: Mapping[str, Any]) -> None:
    """Materialize ``mlgit://<type>/<name>`` with ``{tag, sha, version, metrics}``, downstream of its lineage."""
    et, name = str(result["entity_type"]), str(result["name"])
    deps: list[Asset | str] = [
        asset_key(kind, _upstream_name(link["tag"]))
        for kind, link in (("datasets", result.get("dataset")), ("labels", result.get("labels")))
        if link
    ]
    key = asset_key(et, name)
    asset = Asset(
        key=key,
        properties=AssetProperties(
            name=f"{et}/{name}", description=f"mlgit {et} entity {name} (ML-Git compatible)"
        ),
    )
    metadata = {
        "tag": result["tag"],
        "sha": result["sha"],
        "version": result["version"],
        "metrics": dict(result.get("metrics") or {}),
    }

    def record(tag: str) -> str:
        add_asset_metadata(key, metadata)
        return tag

    materialize(asset, by="mlgit", asset_deps=deps or None, task_run_name=f"mlgit-asset-{et}-{name}")(record)(
        str(result["tag"])
    )


def _metrics_text(metrics: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in sorted((metrics or {}).items()))


def pushed_table(result: Mapping[str, Any]) -> None:
    """A table artifact (keyed per entity, so the UI shows its history) of the version pushed."""
    row = {
        "entity_type": result["entity_type"],
        "name": result["name"],
        "version": result["version"],
        "tag": result["tag"],
        "sha": result["sha"],
        "files": result["files"],
        "size": result["size"],
        "uploaded": result.get("uploaded", 0),
        "metrics": _metrics_text(result.get("metrics")),
        "dataset": (result.get("dataset") or {}).get("tag", ""),
        "labels": (result.get("labels") or {}).get("tag", ""),
    }
    create_table_artifact(
        [row],
        key=artifact_key("mlgit-push", str(result["entity_type"]), str(result["name"])),
        description=f"mlgit push: {result['entity_type']}/{result['name']} version {result['version']}",
    )


def lineage_markdown(lineage: Lineage) -> str:
    root = lineage.root
    flow_run_id, task_run_id = run_ids()
    lines = [
        f"# Lineage of {root.entity_type}/{root.name} version {root.version}",
        "",
        "| role | type | name | version | tag | sha | metrics |",
        "|---|---|---|---|---|---|---|",
    ]
    for role, node in [("version", root), *(("upstream", n) for n in lineage.upstream)]:
        lines.append(
            f"| {role} | {node.entity_type} | {node.name} | {node.version} | `{node.tag}` | "
            f"`{node.sha[:12]}` | {_metrics_text(node.metrics)} |"
        )
    if not lineage.upstream:
        lines += ["", "No dataset or labels linked."]
    lines += ["", f"Flow run `{flow_run_id}`, task run `{task_run_id}`."]
    return "\n".join(lines) + "\n"


def lineage_summary(lineage: Lineage) -> None:
    root = lineage.root
    create_markdown_artifact(
        lineage_markdown(lineage),
        key=artifact_key("mlgit-lineage", root.entity_type, root.name),
        description=f"mlgit lineage: {root.entity_type}/{root.name} version {root.version}",
    )
