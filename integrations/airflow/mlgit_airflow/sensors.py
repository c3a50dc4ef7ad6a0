"""MLGitVersionSensor: wait until a new version of a dataset, labels or model is in its remote."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from mlgit_airflow._entities import optional_int, plural_entity_type
from mlgit_airflow.hooks import MLGitHook
from mlgit_airflow.triggers import MLGitVersionTrigger
from mlgit_airflow.versions import find_version, wanted_version

if TYPE_CHECKING:
    from airflow.sdk import Context


class MLGitVersionSensor(BaseSensorOperator):
    """Succeeds when ``name`` has a version >= ``min_version`` in its metadata remote.

    Without ``min_version``, "new" means newer than the version checked out in this worker's
    workspace (any version when none is). Deferrable by default: the waiting happens in the
    triggerer, not in a worker slot. Returns ``{entity_type, name, tag, version}`` to XCom.
    """

    template_fields: Sequence[str] = ("mlgit_conn_id", "workspace", "entity_type", "name", "min_version")

    def __init__(
        self,
        *,
        entity_type: str,
        name: str,
        min_version: int | str | None = None,
        mlgit_conn_id: str = MLGitHook.default_conn_name,
        workspace: str | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.entity_type = entity_type
        self.name = name
        self.min_version = min_version
        self.mlgit_conn_id = mlgit_conn_id
        self.workspace = workspace
        self.deferrable = deferrable
        self._threshold: int | None = None

    def _check(self) -> tuple[int, dict[str, Any] | None]:
        """(the first version that counts as new, the version found or None)."""
        hook = MLGitHook(mlgit_conn_id=self.mlgit_conn_id, workspace=self.workspace or None, run_folder=False)
        repo = hook.get_repository()  # watching needs no run folder: the workspace root, as the trigger
        et = plural_entity_type(self.entity_type)
        if self._threshold is None:
            self._threshold = wanted_version(
                repo, et, self.name, optional_int(self.min_version, "min_version")
            )
        return self._threshold, find_version(repo, et, self.name, self._threshold)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        threshold, found = self._check()
        if found is None:
            self.log.info("mlgit: no version >= %s of %s yet", threshold, self.name)
            return False
        return PokeReturnValue(is_done=True, xcom_value=found)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        threshold, found = self._check()
        if found is not None:
            return found
        self.defer(
            trigger=MLGitVersionTrigger(
                mlgit_conn_id=self.mlgit_conn_id,
                entity_type=plural_entity_type(self.entity_type),
                name=self.name,
                min_version=threshold,
                workspace=self.workspace or None,
                poll_interval=float(self.poke_interval),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "success":
            raise AirflowException(f"mlgit: waiting for {self.name} failed: {event.get('message')}")
        self.log.info("mlgit: found %s", event.get("tag"))
        return {k: v for k, v in event.items() if k != "status"}
