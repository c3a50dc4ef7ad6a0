"""The session harness itself: a flow runs for real against the ephemeral API."""

from __future__ import annotations

from prefect import flow, get_client, task


@task
def double(x: int) -> int:
    return 2 * x


@flow
def trivial(x: int) -> int:
    return double(x)


def test_a_flow_runs_against_the_ephemeral_api(prefect_api: str) -> None:
    state = trivial(21, return_state=True)
    assert state.is_completed()
    assert state.result() == 42
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.name and run.state is not None and run.state.is_completed()
    assert prefect_api.startswith("http://127.0.0.1:")
