"""MLGitVersionTrigger: polls an entity's metadata remote from the triggerer until a version lands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from mlgit_airflow.hooks import MLGitConnectionSettings, MLGitHook, open_repository
from mlgit_airflow.versions import find_version


class MLGitVersionTrigger(BaseTrigger):
    """Fires ``{"status": "success", tag, version, ...}`` once ``name`` has a version >= ``min_version``.

    The git work runs in a thread: the triggerer's event loop is never blocked. Any failure fires
    ``{"status": "error", "message": ...}`` so the task fails with that message.
    """

    def __init__(
        self,
        *,
        mlgit_conn_id: str,
        entity_type: str,
        name: str,
        min_version: int,
        workspace: str | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.mlgit_conn_id = mlgit_conn_id
        self.entity_type = entity_type
        self.name = name
        self.min_version = int(min_version)
        self.workspace = workspace
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "mlgit_conn_id": self.mlgit_conn_id,
                "entity_type": self.entity_type,
                "name": self.name,
                "min_version": self.min_version,
                "workspace": self.workspace,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            conn = await MLGitHook.aget_connection(self.mlgit_conn_id)
            settings = MLGitConnectionSettings.from_connection(conn, self.workspace)
            repo = await asyncio.to_thread(open_repository, settings)
            while True:
                found = await asyncio.to_thread(
                    find_version, repo, self.entity_type, self.name, self.min_version
                )
                if found is not None:
                    yield TriggerEvent({"status": "success", **found})
                    return
                self.log.info(
                    "mlgit: no version >= %s of %s %s yet; next look in %ss",
                    self.min_version,
                    self.entity_type,
                    self.name,
                    self.poll_interval,
                )
                await asyncio.sleep(self.poll_interval)
        except Exception as err:  # reported to the task, which fails with this message
            yield TriggerEvent({"status": "error", "message": f"{type(err).__name__}: {err}"})
