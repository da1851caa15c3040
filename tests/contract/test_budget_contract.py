"""The request budget against a simulator that throttles like the API gateway (issue 14).

The simulator and the budget share a :class:`VirtualClock`: the gateway's token bucket refills,
and the budget waits, only when someone sleeps on it, so rates and shares are exact and no test
depends on how fast this machine is. stamina's own waits are skipped (testing mode) or tiny: the
time that matters (Retry-After, the budget's turns) is virtual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import stamina

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import FAST_RETRY, VirtualClock, client_for
from pulumi_dcs_migration.budget import MemoryStore, RequestBudget
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import ThrottledError

from ..conftest import SimulatorFactory


def virtual_budget(clock: VirtualClock, ceiling: float) -> RequestBudget:
    """A budget of its own (not the process's shared one) on the simulator's virtual clock."""

    def wait(_condition: threading.Condition, seconds: float) -> None:
        clock.sleep(seconds)

    return RequestBudget(ceiling, store=MemoryStore(), clock=clock.now, wait=wait)


class Recording(httpx.HTTPTransport):
    """The real transport, noting every status code in order."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


@pytest.fixture
def no_stamina_waits() -> Iterator[None]:
    """stamina makes no real waits (the budget's are virtual) and at most 50 attempts a call."""
    stamina.set_testing(True, attempts=50)
    yield
    stamina.set_testing(False)


def test_a_client_adapts_to_the_gateway_and_honours_retry_after(
    virtual_simulator_factory: SimulatorFactory,
    virtual_clock: VirtualClock,
    no_stamina_waits: None,
) -> None:
    sim = virtual_simulator_factory(throttle_rate=5.0)  # the gateway: 5/s, a burst of 5
    budget = virtual_budget(virtual_clock, ceiling=20.0)  # the ceiling is too high for it
    transport = Recording()
    started = virtual_clock.now()
    with client_for(sim, budget=budget, transport=transport) as client:
        for _ in range(400):
            client.list_tasks(limit=1)
    elapsed = virtual_clock.now() - started
    throttled = transport.statuses.count(429)
    assert sim.admin.counters()["throttled"] == throttled > 0  # it did meet the gateway
    assert throttled / len(transport.statuses) <= 0.05
    assert 400 / elapsed >= 0.75 * 5.0  # and used most of what the gateway allows
    assert 2.0 <= budget.rate <= 8.0  # adapted to the gateway, well under its ceiling
    # Every 429 was waited out (Retry-After) before the next request: never two in a row.
    pairs = zip(transport.statuses, transport.statuses[1:], strict=False)
    assert all(not (a == b == 429) for a, b in pairs)


def test_a_429_storm_is_waited_out_while_the_run_has_time(
    virtual_simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = virtual_simulator_factory(stop_delay=1.0)
    ids = sim.admin.create_tasks(30)
    # 20 429s in a row: more than the 6 attempts a call has for any other failure. (Retry-After
    # 0: stamina's waits are real, and the budget's pause would only be virtual.)
    sim.admin.set_faults(seed=1, throttle={"count": 20, "retry_after": 0})
    budget = virtual_budget(virtual_clock, ceiling=10.0)
    options = StopOptions(timeout=600, concurrency=1)
    clock = virtual_clock
    with client_for(sim, budget=budget, retry=FAST_RETRY) as client:
        engine = StopEngine(client, options, clock=clock.now, sleep=clock.sleep, wall=clock.now)
        with client.deadline(time.monotonic() + 600):  # the run's deadline (the real clock's)
            report = engine.run(ids)
    assert [o.outcome for o in report.outcomes] == [Outcome.STOPPED] * 30
    assert sim.admin.counters()["fault"] == 20
    assert budget.stats()["throttles"] == 20 and budget.rate < 10.0


def test_without_a_deadline_a_storm_still_ends_after_the_attempts(
    virtual_simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = virtual_simulator_factory()
    sim.admin.set_faults(seed=1, throttle={"count": 20, "retry_after": 0})
    budget = virtual_budget(virtual_clock, ceiling=10.0)
    with client_for(sim, budget=budget, retry=FAST_RETRY) as client, pytest.raises(ThrottledError):
        client.list_tasks()
    assert sim.admin.counters()["fault"] == FAST_RETRY.attempts


def test_the_engine_polls_within_the_gateway(
    virtual_simulator_factory: SimulatorFactory,
    virtual_clock: VirtualClock,
    no_stamina_waits: None,
) -> None:
    """A slow gateway: the engine's looks come no faster than the budget can serve them."""
    sim: RunningSimulator = virtual_simulator_factory(
        throttle_rate=1.0, stop_delay=20.0, stop_jitter=0.5
    )
    ids = sim.admin.create_tasks(120)
    budget = virtual_budget(virtual_clock, ceiling=10.0)
    transport = Recording()
    options = StopOptions(timeout=600, concurrency=1)
    clock = virtual_clock
    with client_for(sim, budget=budget, transport=transport, retry=FAST_RETRY) as client:
        engine = StopEngine(client, options, clock=clock.now, sleep=clock.sleep, wall=clock.now)
        report = engine.run(ids)
    assert {o.outcome for o in report.outcomes} == {Outcome.STOPPED}
    # The halvings from 10/s down to the gateway's 1/s (each 429 held everything for its
    # Retry-After), and no 429 after that.
    assert transport.statuses.count(429) <= 5
    assert 429 not in transport.statuses[len(transport.statuses) // 2 :]
    # 3 stop chunks and the looks (one page each) over ~30 s at 1/s: the polling stretched to
    # the budget (at the engine's own pace it would look every 0.1-1 s).
    assert len(transport.statuses) <= 60
