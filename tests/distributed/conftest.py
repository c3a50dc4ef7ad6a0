"""Servers of the distributed tests, started once per test session (each cluster serves one test
module and is stopped at its end, so the other's servers do not compete for the CPU).

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
from dist_helpers import (
    PG_HOST,
    PG_PORT,
    REDIS_HOST,
    REDIS_PORT,
    Servers,
    postgres_database,
    require_services,
)
from helpers import make_remotes

HERE = Path(__file__).resolve().parent
#: what the servers measured, written at the end of the session for the READMEs' figures
FIGURES = os.environ.get("MLGIT_DIST_FIGURES")
#: seconds a server may take to stop on SIGTERM (then it gets SIGKILL, and the tests fail)
STOP_WITHIN = 25.0


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
            _merge_figures(Path(FIGURES), found)


def _merge_figures(path: Path, found: dict[str, Any]) -> None:
    """Add to the file: under xdist each worker's session writes the figures of its own module."""
    import fcntl

    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
        path.write_text(json.dumps({**old, **found}, indent=1, sort_keys=True) + "\n")


def make_shared(base: Path) -> dict[str, Any]:
    """What the hosts share, as on real machines: the metadata remotes and the bucket."""
    bucket = base / "buckets" / "mlgit-shared"  # Prefect's block names the parent, Airflow the folder
    bucket.mkdir(parents=True)
    return {"remotes": make_remotes(base / "remotes"), "bucket": bucket}


@pytest.fixture(scope="session")
def airflow_shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_shared(tmp_path_factory.mktemp("airflow-shared"))


@pytest.fixture(scope="session")
def prefect_shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_shared(tmp_path_factory.mktemp("prefect-shared"))


@pytest.fixture(scope="module")  # one module uses it: started once, stopped before the next
def airflow_cluster(
    tmp_path_factory: pytest.TempPathFactory, airflow_shared: dict[str, Any], figures: dict[str, Any]
) -> Iterator[Any]:
    if importlib.util.find_spec("airflow.providers.celery") is None:
        pytest.skip("needs the airflow-celery extra: pip install 'mlgit[airflow-celery]'")
    require_services(("PostgreSQL", PG_HOST, PG_PORT), ("Redis", REDIS_HOST, REDIS_PORT))
    from airflow_cluster import AirflowCluster

    base = tmp_path_factory.mktemp("airflow")
    with postgres_database("mlgit_af") as database:
        servers = Servers(base / "logs")
        cluster = AirflowCluster(base, database, airflow_shared["remotes"], airflow_shared["bucket"], servers)
        try:
            cluster.start()
            figures["airflow_startup_seconds"] = round(cluster.startup_seconds, 1)
            yield cluster
        finally:
            leftovers = servers.stop_all()
            figures["airflow_stop_seconds"] = servers.stop_seconds
            _flush_redis(cluster.redis_db, f"{database}:")
        assert not leftovers, f"processes left after stopping Airflow: {leftovers}"
        slow = {name: s for name, s in servers.stop_seconds.items() if s >= STOP_WITHIN}
        assert not slow, f"took {STOP_WITHIN}s or more to stop on SIGTERM: {slow}"


def _flush_redis(db: int, prefix: str) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")  # one module uses it: started once, stopped before the next
def prefect_cluster(
    tmp_path_factory: pytest.TempPathFactory, prefect_shared: dict[str, Any], figures: dict[str, Any]
) -> Iterator[Any]:
    if importlib.util.find_spec("prefect") is None or importlib.util.find_spec("asyncpg") is None:
        pytest.skip("needs the prefect extra: pip install 'mlgit[prefect]'")
    require_services(("PostgreSQL", PG_HOST, PG_PORT))
    from prefect_cluster import PrefectCluster

    base = tmp_path_factory.mktemp("prefect")
    sample = _sample_data(base / "sample")
    with postgres_database("mlgit_pf") as database:
        servers = Servers(base / "logs")
        cluster = PrefectCluster(base, database, prefect_shared["remotes"], prefect_shared["bucket"], servers)
        try:
            cluster.start(sample)
            figures["prefect_startup_seconds"] = round(cluster.startup_seconds, 1)
            yield cluster
        finally:
            leftovers = servers.stop_all()
            figures["prefect_stop_seconds"] = servers.stop_seconds
        assert not leftovers, f"processes left after stopping Prefect: {leftovers}"
        slow = {name: s for name, s in servers.stop_seconds.items() if s >= STOP_WITHIN}
        assert not slow, f"took {STOP_WITHIN}s or more to stop on SIGTERM: {slow}"


def _sample_data(folder: Path) -> Path:
    """flows_examples/sample_data.py's toy points, where both hosts can read them."""
    spec = importlib.util.spec_from_file_location(
        "mlgit_sample_data", HERE.parents[1] / "flows_examples" / "sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.write_points(folder))
