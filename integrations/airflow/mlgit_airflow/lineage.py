"""OpenLineage inputs/outputs of the operators, with the version (tag) as a dataset-version facet.

The OpenLineage provider is optional: everything here imports it lazily and answers None without it.
Datasets are named like the Assets: namespace ``mlgit://<entity_type>``, name ``<entity name>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgit_airflow._entities import name_of_tag


@dataclass(frozen=True)
class LineageRef:
    """One entity version an operator read or wrote."""

    entity_type: str
    name: str
    tag: str | None
    sha: str | None

    @property
    def entity_name(self) -> str:
        return self.name or (name_of_tag(self.tag) if self.tag else "")


def _dataset(ref: LineageRef) -> Any:
    from openlineage.client.event_v2 import Dataset
    from openlineage.client.facet_v2 import dataset_version_dataset

    facets: dict[str, Any] = {}
    if ref.tag:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=ref.tag)
    return Dataset(namespace=f"mlgit://{ref.entity_type}", name=ref.entity_name, facets=facets)


def operator_lineage(inputs: list[LineageRef], outputs: list[LineageRef]) -> Any:
    """An ``OperatorLineage`` for the OpenLineage provider, or None when it is not installed."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return OperatorLineage(inputs=[_dataset(r) for r in inputs], outputs=[_dataset(r) for r in outputs])
