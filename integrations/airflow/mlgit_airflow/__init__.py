"""Airflow 3 provider for mlgit: hook, operators, sensor, Asset helpers.

Airflow loads this module through the ``apache_airflow_provider`` entry point while it reads its
own configuration, so importing it must not import Airflow: the public classes are loaded lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "MLGitAddOperator",
    "MLGitCheckoutOperator",
    "MLGitCommitOperator",
    "MLGitCreateOperator",
    "MLGitFsckOperator",
    "MLGitHook",
    "MLGitPushOperator",
    "MLGitRemoteFsckOperator",
    "MLGitUpdateOperator",
    "MLGitVersionSensor",
    "MLGitVersionTrigger",
    "get_provider_info",
    "mlgit_asset",
]

_LAZY = {
    "MLGitHook": "mlgit_airflow.hooks",
    "MLGitCreateOperator": "mlgit_airflow.operators",
    "MLGitCheckoutOperator": "mlgit_airflow.operators",
    "MLGitAddOperator": "mlgit_airflow.operators",
    "MLGitCommitOperator": "mlgit_airflow.operators",
    "MLGitPushOperator": "mlgit_airflow.operators",
    "MLGitFsckOperator": "mlgit_airflow.operators",
    "MLGitUpdateOperator": "mlgit_airflow.operators",
    "MLGitRemoteFsckOperator": "mlgit_airflow.operators",
    "MLGitVersionSensor": "mlgit_airflow.sensors",
    "MLGitVersionTrigger": "mlgit_airflow.triggers",
    "mlgit_asset": "mlgit_airflow.assets",
}

if TYPE_CHECKING:
    from mlgit_airflow.assets import mlgit_asset
    from mlgit_airflow.hooks import MLGitHook
    from mlgit_airflow.operators import (
        MLGitAddOperator,
        MLGitCheckoutOperator,
        MLGitCommitOperator,
        MLGitCreateOperator,
        MLGitFsckOperator,
        MLGitPushOperator,
        MLGitRemoteFsckOperator,
        MLGitUpdateOperator,
    )
    from mlgit_airflow.sensors import MLGitVersionSensor
    from mlgit_airflow.triggers import MLGitVersionTrigger


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlgit_airflow' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads: the ``mlgit`` connection type and our modules."""
    from mlgit_airflow._fields import CONN_FIELDS, provider_ui_field_behaviour

    return {
        "package-name": "mlgit",
        "name": "mlgit",
        "description": "Version datasets, labels and models (ML-Git compatible) from Airflow tasks.",
        "integrations": [
            {
                "integration-name": "mlgit",
                "external-doc-url": "https://github.com/HPInc/ml-git",
                "tags": ["software"],
            }
        ],
        "hooks": [{"integration-name": "mlgit", "python-modules": ["mlgit_airflow.hooks"]}],
        "operators": [{"integration-name": "mlgit", "python-modules": ["mlgit_airflow.operators"]}],
        "sensors": [{"integration-name": "mlgit", "python-modules": ["mlgit_airflow.sensors"]}],
        "triggers": [{"integration-name": "mlgit", "python-modules": ["mlgit_airflow.triggers"]}],
        "connection-types": [
            {
                "connection-type": "mlgit",
                "hook-class-name": "mlgit_airflow.hooks.MLGitHook",
                "hook-name": "mlgit (ML-Git)",
                "conn-fields": {name: dict(spec) for name, spec in CONN_FIELDS.items()},
                "ui-field-behaviour": provider_ui_field_behaviour(),
            }
        ],
    }
