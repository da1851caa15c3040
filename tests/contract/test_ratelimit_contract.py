"""The rate limit against a simulator that throttles like the API gateway (issue 14).

The simulator, the client (its retries and rate limit) and the engine share one
:class:`VirtualClock`: the gateway's token bucket refills, and every wait passes, only when
someone sleeps on it, so rates and shares are exact and no test depends on how fast this machine
is.
"""

from __future__ import annotations

import httpx
import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import FAST_RETRY, VirtualClock, client_for
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import ThrottledError
from pulumi_dcs_migration.policy import RetryPolicy
from pulumi_dcs_migration.ratelimit import MemoryStore, RateLimiter

from ..conftest import SimulatorFactory


def virtual_limiter(clock: VirtualClock, ceiling: float) -> RateLimiter:
    """A limiter of its own (not the process's shared one) on the simulator's virtual clock."""
    return RateLimiter(ceiling, store=MemoryStore(), clock=clock)


PATIENT = RetryPolicy(attempts=50, timeout=600, wait_initial=0.01, wait_max=0.05)
"""Up to 50 attempts a call (its waits are virtual)."""


class Recording(httpx.HTTPTransport):
    """The real transport, noting every status code in order."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


def test_a_client_adapts_to_the_gateway_and_honours_retry_after(
    simulator_factory: SimulatorFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=5.0)  # gateway: 5/s, burst 5
    limiter = virtual_limiter(virtual_clock, ceiling=20.0)  # the ceiling is too high for it
    transport = Recording()
    started = virtual_clock.now()
    with client_for(
        sim, limiter=limiter, transport=transport, retry=PATIENT, clock=virtual_clock
    ) as client:
        for _ in range(400):
            client.list_tasks(limit=1)
    elapsed = virtual_clock.now() - started
    throttled = transport.statuses.count(429)
    assert sim.admin.counters()["throttled"] == throttled > 0  # it did meet the gateway
    assert throttled / len(transport.statuses) <= 0.05
    assert 400 / elapsed >= 0.75 * 5.0  # and used most of what the gateway allows
    assert 2.0 <= limiter.rate <= 8.0  # adapted to the gateway, well under its ceiling
    # Every 429 was waited out (Retry-After) before the next request: never two in a row.
    pairs = zip(transport.statuses, transport.statuses[1:], strict=False)
    assert all(not (a == b == 429) for a, b in pairs)


def test_a_429_storm_is_waited_out_while_the_run_has_time(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock, stop_delay=1.0)
    ids = sim.admin.create_tasks(30)
    # 20 429s in a row: more than the 6 attempts a call has for any other failure.
    sim.admin.set_faults(seed=1, throttle={"count": 20, "retry_after": 0})
    limiter = virtual_limiter(virtual_clock, ceiling=10.0)
    options = StopOptions(timeout=600, concurrency=1)
    with client_for(sim, limiter=limiter, retry=FAST_RETRY, clock=virtual_clock) as client:
        # The engine bounds the client's calls by the run's deadline.
        report = StopEngine(client, options, clock=virtual_clock).run(ids)
    assert [o.outcome for o in report.outcomes] == [Outcome.STOPPED] * 30
    assert sim.admin.counters()["fault"] == 20
    assert limiter.stats()["throttles"] == 20 and limiter.rate < 10.0


def test_without_a_deadline_a_storm_still_ends_after_the_attempts(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock)
    sim.admin.set_faults(seed=1, throttle={"count": 20, "retry_after": 0})
    limiter = virtual_limiter(virtual_clock, ceiling=10.0)
    with (
        client_for(sim, limiter=limiter, retry=FAST_RETRY, clock=virtual_clock) as client,
        pytest.raises(ThrottledError),
    ):
        client.list_tasks()
    assert sim.admin.counters()["fault"] == FAST_RETRY.attempts


def test_the_engine_polls_within_the_gateway(
    simulator_factory: SimulatorFactory,
    virtual_clock: VirtualClock,
) -> None:
    """A slow gateway: the engine's polls come no faster than the limiter can serve them."""
    sim: RunningSimulator = simulator_factory(
        clock=virtual_clock, throttle_rate=1.0, stop_delay=20.0, stop_jitter=0.5
    )
    ids = sim.admin.create_tasks(120)
    limiter = virtual_limiter(virtual_clock, ceiling=10.0)
    transport = Recording()
    options = StopOptions(timeout=600, concurrency=1)
    with client_for(
        sim, limiter=limiter, transport=transport, retry=PATIENT, clock=virtual_clock
    ) as client:
        report = StopEngine(client, options, clock=virtual_clock).run(ids)
    assert {o.outcome for o in report.outcomes} == {Outcome.STOPPED}
    # The halvings from 10/s down to the gateway's 1/s (each 429 held everything for its
    # Retry-After), and no 429 after that.
    assert transport.statuses.count(429) <= 5
    assert 429 not in transport.statuses[len(transport.statuses) // 2 :]
    # 3 stop chunks and the looks (one page each) over ~30 s at 1/s: the polling stretched to
    # the limiter (at the engine's own pace it would look every 0.1-1 s).
    assert len(transport.statuses) <= 60
