"""One Airflow DAG run in its own process: ``python airflow_run.py JOB_JSON``; prints one JSON report.

The process has its own AIRFLOW_HOME (a copy of a migrated SQLite database: runs of different
processes never share a database file), and the ``mlgit_default`` connection of the job, whose
workspace is the per-host root every process shares. The report holds the XComs of the run and
the Asset events it emitted."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(job: dict) -> dict:  # type: ignore[type-arg]
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = BundleDagBag(dag_folder=HERE / "dags", bundle_path=HERE / "dags", bundle_name="mlgit-runs")
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags["mlgit_many_runs"]
    dr = dag.test(logical_date=datetime.fromtimestamp(job["logical_ts"], tz=UTC))
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dr.run_id, dag_ids=dag.dag_id)).all()
        xcoms = {r.task_id: XComModel.deserialize_value(r) for r in rows if r.key == "return_value"}
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == f"mlgit://models/{job['model']}")
        ).all()
        return {
            "kind": "airflow",
            "run_id": dr.run_id,
            "state": str(dr.state),
            "started": job["started"],
            "checkout": xcoms.get("checkout"),
            "create": xcoms.get("create"),
            "fit": xcoms.get("fit"),
            "commit": xcoms.get("commit"),
            "push": xcoms.get("push"),
            "events": [dict(e.extra or {}) for e in events],
        }


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    os.environ.update(job["env"])
    report = main(job)
    sys.stdout.write("\nREPORT " + json.dumps(report, default=str) + "\n")
