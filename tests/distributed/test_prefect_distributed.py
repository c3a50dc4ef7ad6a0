"""Prefect 3 as deployed on several machines (``prefect server start`` on PostgreSQL, a process
work pool, the example flows as deployments, two worker hosts; see prefect_cluster.py), driven
through the REST API only, and checked from a fresh workspace on the shared remotes and bucket.

The story, once per session (``story``):
1. the ``dataset`` deployment makes dataset v1; its asset materialization triggers the
   ``on-new-dataset`` deployment (integrity_flow on exactly that version);
2. the ``labels`` deployment labels it (lineage from the checkout in the same flow run);
3. one ``training`` run makes model v1;
4. training runs at once on both hosts; meanwhile a colleague's workspace pushes labels v2; more
   training runs follow.
Steps 1-3 run one after the other (each needs the previous version; and two hosts making the
first version of one model at once is issue 10's: the loser fails with VersionConflict at push).
The tests check what the runs returned against the remotes, the lineage against the bytes, the
asset events, and that re-running a finished flow run makes no duplicate.
"""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from checks import (
    DATASET,
    LABELS,
    MODEL,
    Reported,
    check_model_lineage,
    check_versions_exactly_once,
    fresh_workspace,
    prefect_toy_model,
    remote_tags,
    reported,
    write_labels,
)
from dist_helpers import git_env, wait_for
from prefect_cluster import HOSTS

#: training runs started before and after the colleague's labels v2
TRAINING_RUNS = 2
MATERIALIZED = "prefect.asset.materialization.succeeded"


@pytest.fixture(scope="module")
def story(
    prefect_cluster: Any,
    prefect_shared: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    figures: dict[str, Any],
) -> dict[str, Any]:
    c = prefect_cluster
    colleague_dir = tmp_path_factory.mktemp("prefect-colleague")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in git_env(colleague_dir / "home").items():
            if key != "HOME":
                mp.setenv(key, value)
        started = time.monotonic()
        runs: dict[str, str] = {"dataset": c.run_deployment("dataset")}
        seconds = c.wait_runs([runs["dataset"]], 600)
        runs["labels"] = c.run_deployment("labels")
        seconds.update(c.wait_runs([runs["labels"]], 600))
        runs["training"] = c.run_deployment("training")
        seconds.update(c.wait_runs([runs["training"]], 600))
        # each host gets runs of its own (by its queue): which host polls first is no part of the test
        hosts = itertools.cycle(HOSTS)
        at_once = {f"training-{i}": c.run_deployment("training", host=next(hosts)) for i in range(TRAINING_RUNS)}
        # a colleague's workspace, on no worker host, re-labels the data and pushes labels v2
        colleague = fresh_workspace(colleague_dir / "ws", prefect_shared["remotes"], prefect_shared["bucket"])
        data = colleague.checkout("datasets", DATASET, force=True)
        labels_dir = Path(colleague.checkout("labels", LABELS, force=True).path)
        write_labels(Path(data.path), labels_dir, lambda x, y: "b" if x > 1.5 else "a")
        colleague.add("labels", LABELS)
        colleague.commit("labels", LABELS, message="re-labelled by hand", dataset=data.tag, auto_bump=True)
        pushed = colleague.push("labels", LABELS).to_dict()
        at_once.update(
            {f"training-late-{i}": c.run_deployment("training", host=next(hosts)) for i in range(TRAINING_RUNS)}
        )
        triggered = wait_for(
            "the asset-triggered run", lambda: c.flow_runs_of("on-new-dataset"), 120, interval=0.5
        )
        at_once["on-new-dataset"] = triggered[0]["id"]
        seconds.update(c.wait_runs(list(at_once.values()), 900))
        runs.update(at_once)
        figures["prefect_story_seconds"] = round(time.monotonic() - started, 1)
    figures["prefect_runs"] = {
        "runs": len(runs),
        "run_seconds_min_median_max": [
            min(seconds.values()),
            statistics.median(seconds.values()),
            max(seconds.values()),
        ],
        "run_seconds": {key: seconds[run_id] for key, run_id in runs.items()},
    }
    return {"runs": runs, "colleague_push": pushed, "triggered": triggered}


def reports_of(c: Any, story: dict[str, Any]) -> list[Reported]:
    out = [reported("colleague", story["colleague_push"])]
    out += [
        reported(key, c.result(run_id)) for key, run_id in story["runs"].items() if key != "on-new-dataset"
    ]
    return out


def test_every_reported_version_exists_exactly_once(
    prefect_cluster: Any, story: dict[str, Any], prefect_shared: dict[str, Any], figures: dict[str, Any]
) -> None:
    versions = check_versions_exactly_once(prefect_shared["remotes"], reports_of(prefect_cluster, story))
    # runs that trained on the same inputs as the newest version found it (created: False); a run
    # on other inputs (labels v2, or v1 after a v2 model) made one; each made by exactly one run
    assert len(versions["models"]) >= 1
    assert len(versions["labels"]) == 2 and len(versions["datasets"]) == 1
    figures["prefect_versions"] = {et: len(tags) for et, tags in versions.items()}


def test_each_host_worked_in_its_own_workspace(prefect_cluster: Any, story: dict[str, Any]) -> None:
    # the block's "~/mlgit" root, resolved on each host (whatever the layout under it)
    used = [host for host, home in prefect_cluster.homes.items() if any((home / "mlgit").glob("**/.ml-git"))]
    assert used == list(prefect_cluster.homes), f"only {used} ran flows"


def test_lineage_matches_what_each_run_read(
    prefect_cluster: Any, story: dict[str, Any], prefect_shared: dict[str, Any], tmp_path: Path
) -> None:
    c = prefect_cluster
    repo = fresh_workspace(tmp_path / "check", prefect_shared["remotes"], prefect_shared["bucket"])
    for tag in remote_tags(prefect_shared["remotes"]["models"]):
        check_model_lineage(repo, tag, prefect_toy_model)
    labels = c.result(story["runs"]["labels"])
    dataset = c.result(story["runs"]["dataset"])
    assert labels["dataset"] == {"tag": dataset["tag"], "sha": dataset["sha"]}


def test_asset_events_name_the_pushed_versions(prefect_cluster: Any, story: dict[str, Any]) -> None:
    c = prefect_cluster
    for r in reports_of(c, story):
        if r.source == "colleague" or not r.created:
            continue  # pushed outside Prefect / nothing new pushed
        name = {"datasets": DATASET, "labels": LABELS, "models": MODEL}[r.entity_type]

        def materialized(
            uri: str = f"mlgit://{r.entity_type}/{name}", tag: str = r.tag
        ) -> list[dict[str, Any]]:
            return [e for e in c.events(MATERIALIZED, uri) if e["payload"].get("tag") == tag]

        events = wait_for(f"the materialization of {r.tag}", materialized, 60)
        assert events[0]["payload"]["sha"] == r.sha
    # the dataset's materialization started the asset-triggered deployment on exactly that version
    assert len(story["triggered"]) == 1
    checked = c.result(story["runs"]["on-new-dataset"])
    assert checked["checkout"]["tag"] == c.result(story["runs"]["dataset"])["tag"]
    assert checked["fsck"]["corrupted"] == 0


def rerun(c: Any, run_id: str) -> dict[str, Any]:
    """Set a finished flow run back to Scheduled (Prefect's "retry"): a worker runs it again."""
    c.request("POST", f"/flow_runs/{run_id}/set_state", json={"state": {"type": "SCHEDULED"}, "force": True})
    wait_for("the flow run to start again", lambda: c.flow_run(run_id)["run_count"] > 1 or None, 120)
    c.wait_runs([run_id], 600)
    return dict(c.result(run_id))


def test_rerunning_after_another_version_returns_the_runs_own_version(
    prefect_cluster: Any, story: dict[str, Any], prefect_shared: dict[str, Any]
) -> None:
    c = prefect_cluster
    run_id = story["runs"]["labels"]  # the colleague pushed labels v2 after this run
    first = c.result(run_id)
    before = remote_tags(prefect_shared["remotes"]["labels"])
    again = rerun(c, run_id)
    assert remote_tags(prefect_shared["remotes"]["labels"]) == before
    assert (again["tag"], again["created"]) == (first["tag"], False)


def test_rerunning_a_finished_flow_run_makes_no_duplicate(
    prefect_cluster: Any, story: dict[str, Any], prefect_shared: dict[str, Any]
) -> None:
    c = prefect_cluster
    run_id = story["runs"]["dataset"]
    first = c.result(run_id)
    before = remote_tags(prefect_shared["remotes"]["datasets"])
    again = rerun(c, run_id)
    assert remote_tags(prefect_shared["remotes"]["datasets"]) == before
    assert (again["tag"], again["sha"], again["created"]) == (first["tag"], first["sha"], False)
