"""Stop-and-wait under every fault the simulator can inject: all stopped, or a clear error
listing each unfinished task; never a hang past the timeout, never a false success.

Where the outcome depends on time (a task that never terminates, a change behind the engine's
back while it waits), the simulator and the engine share a :class:`VirtualClock`: the test is
exact and cannot race. Network faults (latency past the request timeout, dropped connections)
run on real time, where only the outcome is asserted.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import UNKNOWN_TASK_ID as UNKNOWN
from dcs_simulator.testing import VirtualClock, client_for
from dcs_simulator.testing.truth import mismatches
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions, StopReport
from pulumi_dcs_migration.lifecycle import PULUMI, incomplete_message
from pulumi_dcs_migration.policy import RetryPolicy

from ..conftest import SimulatorFactory

RETRY = RetryPolicy(attempts=8, timeout=20, wait_initial=0.02, wait_max=0.2, wait_jitter=0.05)


def run(
    sim: RunningSimulator,
    ids: list[str],
    *,
    timeout: float = 20.0,
    request_timeout: float = 5.0,
    clock: VirtualClock | None = None,
    touched_at: dict[str, float] | None = None,
) -> StopReport:
    options, rng = StopOptions(timeout=timeout), random.Random(3)
    clocked: dict[str, Any] = {} if clock is None else {"clock": clock}
    with client_for(sim, retry=RETRY, timeout=request_timeout, **clocked) as client:
        report = StopEngine(client, options, rng=rng, **clocked).run(ids)
    assert mismatches(report, sim.admin, touched_at or {}) == []
    return report


def message(report: StopReport) -> str:
    failed = report.failures()
    return incomplete_message(failed, len(report.outcomes), PULUMI)


@pytest.fixture
def virtual_sim(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> RunningSimulator:
    """A simulator on the ``virtual_clock`` fixture, stopping tasks in 1 s (virtual)."""
    return simulator_factory(clock=virtual_clock, stop_delay=1.0)


def all_stopped(report: StopReport) -> bool:
    return all(o.outcome is Outcome.STOPPED for o in report.outcomes)


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> RunningSimulator:
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
    text = message(report)
    assert UNKNOWN in text and "not_found" in text and running[0] not in text


def test_a_task_that_never_terminates(
    virtual_sim: RunningSimulator, virtual_clock: VirtualClock
) -> None:
    stuck = virtual_sim.admin.create_tasks(1, stop_delay="never")
    ids = virtual_sim.admin.create_tasks(3)
    report = run(virtual_sim, [*stuck, *ids], timeout=90.0, clock=virtual_clock)
    by = {o.task_id: o for o in report.outcomes}
    assert by[stuck[0]].outcome is Outcome.TIMED_OUT and by[stuck[0]].status == "TERMINATING"
    assert [by[t].outcome for t in ids] == [Outcome.STOPPED] * 3
    # Virtual time: it waits exactly until the deadline, then at most one more look.
    assert 90.0 <= report.elapsed <= 90.0 + StopOptions().poll_ceiling * 1.1
    assert stuck[0] in message(report) and "raise timeout_seconds" in message(report)


def _run_changing_one(
    sim: RunningSimulator, clock: VirtualClock, action: str
) -> tuple[list[str], StopReport]:
    """Stop three tasks; half a second (virtual) into the wait, delete or restart the first."""
    ids = sim.admin.create_tasks(3)
    touched: dict[str, float] = {}

    def act() -> None:
        if action == "delete":
            sim.admin.delete_task(ids[0])
        else:
            sim.admin.set_status(ids[0], "INCRMIGEATING")
        touched[ids[0]] = clock.now()

    clock.at(clock.now() + 0.5, act)
    report = run(sim, ids, clock=clock, touched_at=touched)
    assert ids[0] in touched  # the change did happen while the engine waited
    return ids, report


def test_a_task_deleted_while_waited_on(
    virtual_sim: RunningSimulator, virtual_clock: VirtualClock
) -> None:
    ids, report = _run_changing_one(virtual_sim, virtual_clock, "delete")
    by = {o.task_id: o.outcome for o in report.outcomes}
    assert by[ids[0]] is Outcome.NOT_FOUND and by[ids[1]] is Outcome.STOPPED
    assert ids[0] in message(report)


def test_a_task_restarted_while_waited_on(
    virtual_sim: RunningSimulator, virtual_clock: VirtualClock
) -> None:
    ids, report = _run_changing_one(virtual_sim, virtual_clock, "restart")
    assert all_stopped(report)
    assert virtual_sim.admin.task(ids[0])["status"] == "TERMINATED"
    assert virtual_sim.admin.counters()["batch_stop"] == 2  # the restarted task got a second stop
