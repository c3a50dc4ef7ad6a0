"""Servers of the distributed tests, started once per test session and stopped at its end.

Each session gets a fresh PostgreSQL database (``mlgit_af_<random>`` / ``mlgit_pf_<random>``,
dropped at the end), its own Redis db number and key prefix, and free ports. Every process runs in
a session of its own and is stopped by process group; a leftover process fails the tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dist_helpers import PG_HOST, PG_PORT, REDIS_HOST, REDIS_PORT, Servers, postgres_database, require_services
from helpers import make_remotes

HERE = Path(__file__).resolve().parent
#: what the servers measured, written at the end of the session for the READMEs' figures
FIGURES = os.environ.get("MLGIT_DIST_FIGURES")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.distributed)


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, Any]]:
    """Figures the tests measured; printed with -s and written to $MLGIT_DIST_FIGURES when set."""
    found: dict[str, Any] = {}
    yield found
    if found:
        print("\nmlgit distributed figures:", json.dumps(found, indent=1, sort_keys=True))
        if FIGURES:
            Path(FIGURES).write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the hosts share, as on real machines: the metadata remotes and the bucket."""
    base = tmp_path_factory.mktemp("shared")
    bucket = base / "bucket"
    bucket.mkdir()
    return {"remotes": make_remotes(base / "remotes"), "bucket": bucket}


@pytest.fixture(scope="session")
def airflow_cluster(
    tmp_path_factory: pytest.TempPathFactory, shared: dict[str, Any], figures: dict[str, Any]
) -> Iterator[Any]:
    if importlib.util.find_spec("airflow.providers.celery") is None:
        pytest.skip("needs the airflow-celery extra: pip install 'mlgit[airflow-celery]'")
    require_services(("PostgreSQL", PG_HOST, PG_PORT), ("Redis", REDIS_HOST, REDIS_PORT))
    from airflow_cluster import AirflowCluster

    base = tmp_path_factory.mktemp("airflow")
    with postgres_database("mlgit_af") as database:
        servers = Servers(base / "logs")
        cluster = AirflowCluster(base, database, shared["remotes"], shared["bucket"], servers)
        try:
            cluster.start()
            figures["airflow_startup_seconds"] = round(cluster.startup_seconds, 1)
            yield cluster
        finally:
            leftovers = servers.stop_all()
            figures["airflow_stop_seconds"] = servers.stop_seconds
            _flush_redis(cluster.redis_db, f"{database}:")
        assert not leftovers, f"processes left after stopping Airflow: {leftovers}"


def _flush_redis(db: int, prefix: str) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
