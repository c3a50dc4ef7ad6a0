"""Run a DAG of a test bundle with ``dag.test()`` and read back what it left in the metadata DB."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import EXAMPLES, TEST_DAGS


def load_dag(dag_id: str, folder: Path | None = None) -> Any:
    """Parse the DAG `dag_id` the way the DAG processor does, from the test DAGs or the examples."""
    from airflow.dag_processing.dagbag import BundleDagBag

    folders = [folder] if folder else [TEST_DAGS, EXAMPLES]
    for base in folders:
        for path in sorted(base.glob("*.py")):
            if dag_id not in path.read_text():
                continue
            bag = BundleDagBag(dag_folder=path, bundle_path=base, bundle_name=base.name)
            if bag.import_errors:
                raise ImportError(f"{path}: {bag.import_errors}")
            if dag_id in bag.dags:
                return bag.dags[dag_id]
    raise LookupError(f"no DAG {dag_id!r} in {[str(f) for f in folders]}")


@dataclass
class DagRunRecord:
    """What a finished test run left: its state, task states, XComs and the task log text."""

    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str | None]
    try_numbers: dict[str, int]
    log_text: str
    xcoms: dict[tuple[str, str], Any] = field(default_factory=dict)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms.get((task_id, key))


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is still not a secret leak to miss
            self.lines.append(str(record.msg))


def run_dag(
    dag: Any,
    conf: dict[str, Any] | None = None,
    logical_date: datetime | None = None,
    capfd: pytest.CaptureFixture[str] | None = None,
) -> DagRunRecord:
    """Run `dag` with dag.test(). The Task SDK prints the task logs to stdout: pass `capfd` to have
    them (with the stdlib log records) in ``log_text``; they are printed again afterwards, so pytest
    still shows them for a failing test."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if capfd is not None:
        earlier = capfd.readouterr()
        sys.stdout.write(earlier.out)
        sys.stderr.write(earlier.err)
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        kwargs: dict[str, Any] = {"run_conf": conf}
        if logical_date is not None:
            kwargs["logical_date"] = logical_date
        dr = dag.test(**kwargs)
    finally:
        root.removeHandler(capture)
    if capfd is not None:
        printed = capfd.readouterr()
        capture.lines += [printed.out, printed.err]
        sys.stdout.write(printed.out)
        sys.stderr.write(printed.err)
    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dr.run_id)
        ).all()
        rows = session.scalars(XComModel.get_many(run_id=dr.run_id, dag_ids=dag.dag_id)).all()
        xcoms = {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}
        return DagRunRecord(
            dag_id=dag.dag_id,
            run_id=dr.run_id,
            state=str(dr.state),
            task_states={ti.task_id: (str(ti.state) if ti.state else None) for ti in tis},
            try_numbers={ti.task_id: ti.try_number for ti in tis},
            log_text="\n".join(capture.lines),
            xcoms=xcoms,
        )
