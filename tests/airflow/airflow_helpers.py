"""Plain helpers of the Airflow tests (``from airflow_helpers import ...``: a module name of its own,
because ``conftest`` names a different module depending on which folder pytest collected last)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgit import Repository

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples"
TEST_DAGS = Path(__file__).resolve().parent / "dags"


def connection_json(
    workspace: Path,
    remotes: dict[str, str],
    storage: dict[str, Any],
    login: str | None = None,
    password: str | None = None,
) -> str:
    """An `mlgit` connection in Airflow's JSON form, as a user would put in AIRFLOW_CONN_*."""
    extra: dict[str, Any] = {"workspace": str(workspace)}
    extra.update({f"{et}_remote": url for et, url in remotes.items()})
    extra.update(storage)
    conn: dict[str, Any] = {"conn_type": "mlgit", "extra": extra}
    if login is not None:
        conn["login"] = login
    if password is not None:
        conn["password"] = password
    return json.dumps(conn)


def workspace(path: Path, conn: dict[str, Any]) -> Repository:
    """A workspace made with the core alone on a test connection's remotes and local bucket (another
    worker, or a colleague checking what the DAG pushed)."""
    from mlgit import Repository

    repo = Repository.init(path)
    for et, url in conn["remotes"].items():
        repo.remote_add(et, url)
        repo.entity_init(et)
    storage = conn["storage"]
    repo.storage_add(storage["bucket"], type="local", path=storage["storage_path"])
    return repo


def run_folder(root: Path, dag_id: str, run_id: str) -> Path:
    """The folder of one DAG run under a connection's workspace root."""
    from mlgit import runs

    return root.resolve() / "runs" / runs.run_key(dag_id, run_id)
