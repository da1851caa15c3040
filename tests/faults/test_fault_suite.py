"""Stop-and-wait under every fault the simulator can inject: all stopped, or a clear error
listing each unfinished task; never a hang past the timeout, never a false success."""

from __future__ import annotations

import threading
import time

import pytest

from pulumi_dcs_migration.client import RetryPolicy
from pulumi_dcs_migration.engine import (
    Outcome,
    StopEngine,
    StopIncompleteError,
    StopOptions,
    StopReport,
)
from pulumi_dcs_migration.simulator import RunningSimulator

from ..helpers import client_for
from .truth import mismatches

RETRY = RetryPolicy(attempts=8, timeout=20, wait_initial=0.02, wait_max=0.2, wait_jitter=0.05)
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def run(
    sim: RunningSimulator,
    ids: list[str],
    *,
    timeout: float = 20.0,
    request_timeout: float = 5.0,
    touched_at: dict[str, float] | None = None,
) -> StopReport:
    client = client_for(sim, retry=RETRY, timeout=request_timeout)
    started = time.monotonic()
    with client:
        report = StopEngine(client, StopOptions(timeout=timeout)).run(ids)
    assert time.monotonic() - started < timeout + 10, "ran past its timeout"
    assert mismatches(report, sim.admin, touched_at or {}) == []
    return report


def all_stopped(report: StopReport) -> bool:
    return all(o.outcome is Outcome.STOPPED for o in report.outcomes)


@pytest.fixture
def sim(simulator_factory) -> RunningSimulator:  # type: ignore[no-untyped-def]
    return simulator_factory(stop_delay=0.3, stop_jitter=0.5, rng_seed=11)


@pytest.mark.parametrize(
    "retry_after", [0.0, None], ids=["with-retry-after", "without-retry-after"]
)
def test_throttling(sim: RunningSimulator, retry_after: float | None) -> None:
    ids = sim.admin.create_tasks(60)
    sim.admin.set_faults(seed=1, throttle={"probability": 0.3, "retry_after": retry_after})
    assert all_stopped(run(sim, ids))
    assert sim.admin.counters()["fault"] > 0


def test_server_error_bursts(sim: RunningSimulator) -> None:
    ids = sim.admin.create_tasks(60)
    sim.admin.set_faults(seed=2, server_error={"count": 5, "status": 503})
    assert all_stopped(run(sim, ids))
    sim.admin.set_faults(seed=3, server_error={"probability": 0.25, "status": 500})
    more = sim.admin.create_tasks(20)
    assert all_stopped(run(sim, more))


def test_latency_past_the_request_timeout(sim: RunningSimulator) -> None:
    ids = sim.admin.create_tasks(20)
    sim.admin.set_faults(seed=4, latency={"seconds": 1.0, "probability": 0.3})
    assert all_stopped(run(sim, ids, request_timeout=0.3))


def test_dropped_connections(sim: RunningSimulator) -> None:
    ids = sim.admin.create_tasks(40)
    sim.admin.set_faults(seed=5, drop={"probability": 0.25})
    assert all_stopped(run(sim, ids))


def test_batch_answer_mixing_success_and_failed(sim: RunningSimulator) -> None:
    running = sim.admin.create_tasks(5)
    done = sim.admin.create_tasks(1, status="FAILED")
    report = run(sim, [*running, *done, UNKNOWN])
    by = {o.task_id: o for o in report.outcomes}
    assert [by[t].outcome for t in running] == [Outcome.STOPPED] * 5
    assert by[done[0]].outcome is Outcome.FINISHED and by[done[0]].status == "FAILED"
    message = str(StopIncompleteError(report))
    assert UNKNOWN in message and "not_found" in message and running[0] not in message


def test_a_task_that_never_terminates(sim: RunningSimulator) -> None:
    stuck = sim.admin.create_tasks(1, stop_delay="never")
    ids = sim.admin.create_tasks(3)
    report = run(sim, [*stuck, *ids], timeout=1.5)
    by = {o.task_id: o for o in report.outcomes}
    assert by[stuck[0]].outcome is Outcome.TIMED_OUT and by[stuck[0]].status == "TERMINATING"
    assert [by[t].outcome for t in ids] == [Outcome.STOPPED] * 3
    assert 1.5 <= report.elapsed < 3.0
    assert stuck[0] in str(StopIncompleteError(report))


def _behind_our_back(
    sim: RunningSimulator, action: str, task_id: str, touched_at: dict[str, float]
) -> threading.Thread:
    def act() -> None:
        while sim.admin.counters().get("batch_stop", 0) == 0:
            time.sleep(0.01)
        time.sleep(0.1)
        touched_at[task_id] = time.time()
        if action == "delete":
            sim.admin.delete_task(task_id)
        else:
            sim.admin.set_status(task_id, "INCRMIGEATING")

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def test_a_task_deleted_while_waited_on(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(stop_delay=1.0)
    ids = sim.admin.create_tasks(3)
    touched: dict[str, float] = {}
    thread = _behind_our_back(sim, "delete", ids[0], touched)
    report = run(sim, ids, touched_at=touched)
    thread.join()
    by = {o.task_id: o.outcome for o in report.outcomes}
    assert by[ids[0]] is Outcome.NOT_FOUND and by[ids[1]] is Outcome.STOPPED
    assert ids[0] in str(StopIncompleteError(report))


def test_a_task_restarted_while_waited_on(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(stop_delay=1.0)
    ids = sim.admin.create_tasks(3)
    touched: dict[str, float] = {}
    thread = _behind_our_back(sim, "restart", ids[0], touched)
    report = run(sim, ids, touched_at=touched)
    thread.join()
    assert all_stopped(report)
    assert sim.admin.task(ids[0])["status"] == "TERMINATED"
    assert sim.admin.counters()["batch_stop"] == 2  # the restarted task got a second stop
