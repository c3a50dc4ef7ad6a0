"""Airflow Assets of mlgit entities: ``mlgit://<entity_type>/<name>``.

A DAG scheduled on ``mlgit_asset("datasets", "imagenet8")`` runs when a push of a new version of
that dataset lands; the event's extra carries ``{tag, sha, version, metrics}``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

from mlgit_airflow._entities import plural_entity_type

SCHEME = "mlgit"


def asset_uri(entity_type: str, name: str) -> str:
    return f"{SCHEME}://{plural_entity_type(entity_type)}/{name}"


def mlgit_asset(entity_type: str, name: str) -> Asset:
    """The Asset a push of ``entity_type``/``name`` updates (and a DAG can be scheduled on)."""
    uri = asset_uri(entity_type, name)
    return Asset(uri=uri, name=uri, group="mlgit")


def event_extra(result: dict[str, Any]) -> dict[str, Any]:
    """The Asset event extra of a pushed version: what a downstream DAG needs to check it out."""
    return {
        "tag": result.get("tag"),
        "sha": result.get("sha"),
        "version": result.get("version"),
        "metrics": dict(result.get("metrics") or {}),
    }


def latest_version_extra(inlet_events: Any, entity_type: str, name: str) -> dict[str, Any]:
    """The extra of the newest Asset event of an entity, read from a task's ``inlet_events``.

    Raises LookupError when no push of that entity was ever recorded.
    """
    events = inlet_events[mlgit_asset(entity_type, name)]
    if not len(events):
        raise LookupError(f"no Asset event for {asset_uri(entity_type, name)}: nothing was pushed yet")
    return dict(events[-1].extra)
