"""The cutover guard against the simulator's lag model, over real HTTP, on a virtual clock.

Every claim is checked against the simulator's own record of when each task was stopped and
what its offset was at that moment (``stop_records``), not against what the engine says.
"""

from __future__ import annotations

import random

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import VirtualClock, client_for
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions, StopReport
from pulumi_dcs_migration.policy import RetryPolicy

from ..conftest import SimulatorFactory

BOUND = 100
RETRY = RetryPolicy(attempts=6, timeout=60, wait_initial=0.001, wait_max=0.005, wait_jitter=0)


def run(
    sim: RunningSimulator, clock: VirtualClock, ids: list[str], *, sync: float = 120.0
) -> StopReport:
    options = StopOptions(timeout=600, max_offset=BOUND, sync_timeout=sync)
    with client_for(sim, retry=RETRY, clock=clock) as client:
        return StopEngine(client, options, clock=clock, rng=random.Random(1)).run(ids)


def records(sim: RunningSimulator, ids: list[str]) -> dict[str, dict[str, float]]:
    return {r["task_id"]: r for r in sim.admin.stop_records(ids)}


def test_lag_drains_then_the_stop_follows(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock, stop_delay=1.0)
    [task] = sim.admin.create_tasks(1)
    sim.admin.set_lag(task, offset=2000, drain_rate=100, frozen=True)  # in sync at +19 s
    start = virtual_clock.now()
    report = run(sim, virtual_clock, [task])
    assert report.outcomes[0].outcome is Outcome.STOPPED
    stop = records(sim, [task])[task]
    assert stop["offset"] <= BOUND
    assert start + 19.0 <= stop["at"] <= start + 19.25  # the stop follows the catch-up at once


def test_lag_that_never_drains_leaves_the_task_running_and_says_so(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock)
    [task] = sim.admin.create_tasks(1)
    sim.admin.set_lag(task, offset=5000, write_rate=50)  # writes never freeze
    report = run(sim, virtual_clock, [task], sync=30)
    outcome = report.outcomes[0]
    assert outcome.outcome is Outcome.NOT_IN_SYNC and outcome.offset is not None
    assert outcome.offset > BOUND and outcome.detail is not None and "not stopped" in outcome.detail
    assert records(sim, [task]) == {}  # never stopped
    assert sim.admin.task(task)["status"] == "INCRMIGEATING"


def test_a_mix_of_in_sync_and_lagging_tasks(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock, stop_delay=0.5)
    ids = sim.admin.create_tasks(3)
    sim.admin.set_lag(ids[1], offset=500, drain_rate=100, frozen=True)
    sim.admin.set_lag(ids[2], offset=3000, drain_rate=200, frozen=True)
    start = virtual_clock.now()
    report = run(sim, virtual_clock, ids)
    assert [o.outcome for o in report.outcomes] == [Outcome.STOPPED] * 3
    stops = records(sim, ids)
    assert all(stops[t]["offset"] <= BOUND for t in ids)
    assert stops[ids[0]]["at"] == start  # in sync: stopped at once
    assert stops[ids[0]]["at"] < stops[ids[1]]["at"] < stops[ids[2]]["at"]
    counters = sim.admin.counters()
    looks = counters.get("list", 0) + counters.get("show", 0)
    assert counters["stats"] <= 3 + 2 * looks  # at most one per lagging task and look


def test_writes_restart_mid_wait(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock, stop_delay=0.5)
    [task] = sim.admin.create_tasks(1)
    sim.admin.set_lag(task, offset=1000, write_rate=100, drain_rate=100, frozen=True)
    start = virtual_clock.now()
    # At +5 s (lag 500) the application writes again for 10 s (+1,000), then is frozen again.
    virtual_clock.at(start + 5, lambda: sim.admin.unfreeze_writes(task))
    virtual_clock.at(start + 15, lambda: sim.admin.freeze_writes(task))
    report = run(sim, virtual_clock, [task])
    assert report.outcomes[0].outcome is Outcome.STOPPED
    stop = records(sim, [task])[task]
    assert stop["offset"] <= BOUND
    assert stop["at"] >= start + 15 + (1500 - BOUND) / 100  # not before the new lag drained


def test_a_stats_5xx_is_retried(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock, stop_delay=0.5)
    [task] = sim.admin.create_tasks(1)
    sim.admin.set_faults(operations=["stats"], server_error={"count": 3, "status": 503})
    report = run(sim, virtual_clock, [task])
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert sim.admin.counters()["fault"] == 3 and sim.admin.counters()["stats"] == 4
    assert records(sim, [task])[task]["offset"] <= BOUND
