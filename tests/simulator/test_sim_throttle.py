"""Gateway-like throttling (issue 14): a per-project token bucket on the simulator's clock.

Every time-dependent check runs on a :class:`VirtualClock`: refills happen only when the test
moves the clock, so nothing races real time.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from dcs_simulator import DEMO_ACCESS_KEY, RunningSimulator, Throttle, ThrottlePolicy
from dcs_simulator.testing import VirtualClock
from pulumi_dcs_migration.auth import AkSkAuth

from ..conftest import SimulatorFactory
from .sim_helpers import HttpClientFactory, P

THROTTLE_PREFIX = "The throttling threshold has been reached"


def list_call(client: httpx.Client) -> httpx.Response:
    return client.get(f"{P}/migration-tasks")


def assert_throttled(response: httpx.Response) -> int:
    """Check the gateway's 429 and return its ``Retry-After`` in seconds."""
    assert response.status_code == 429, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == "APIGW.0308"
    assert body["error_msg"].startswith(THROTTLE_PREFIX)
    assert body["request_id"] == response.headers["X-Request-Id"]
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after  # whole seconds
    return int(retry_after)


def test_off_by_default(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    assert simulator.admin.throttle() == {
        "enabled": False,
        "rate": None,
        "burst": None,
        "tokens": {},
    }
    assert {list_call(dcs).status_code for _ in range(30)} == {200}
    assert "throttled" not in simulator.admin.counters()


def test_burst_then_429_with_retry_after(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=2.0, throttle_burst=3)
    client = http_client_for(sim)
    assert [list_call(client).status_code for _ in range(3)] == [200] * 3
    assert assert_throttled(list_call(client)) == 1  # 0.5 s to the next token, rounded up
    virtual_clock.sleep(0.5)
    assert list_call(client).status_code == 200
    assert assert_throttled(list_call(client)) == 1
    counters = sim.admin.counters()
    # Throttled requests still count under their operation, and under "throttled", not "fault".
    assert counters == {"list": 6, "throttled": 2}


@pytest.mark.parametrize("rate", [0.3, 0.7, 1.0, 2.5, 7.0, 1000 / 3])
def test_retry_after_is_whole_seconds_rounded_up_and_never_early(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
    rate: float,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=rate, throttle_burst=1)
    client = http_client_for(sim)
    assert list_call(client).status_code == 200
    retry_after = assert_throttled(list_call(client))
    assert retry_after == math.ceil(1 / rate)  # the bucket is empty: one token takes 1/rate s
    virtual_clock.sleep(retry_after)  # waiting exactly as long as told is enough
    assert list_call(client).status_code == 200


def test_retry_after_shrinks_as_the_bucket_refills(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    client = http_client_for(
        simulator_factory(clock=virtual_clock, throttle_rate=0.3, throttle_burst=1)
    )
    assert list_call(client).status_code == 200
    assert assert_throttled(list_call(client)) == 4  # 3.33 s
    virtual_clock.sleep(3.3)  # 0.99 of a token: still refused, and refusals take nothing
    assert assert_throttled(list_call(client)) == 1  # 0.033 s, rounded up
    virtual_clock.sleep(0.04)
    assert list_call(client).status_code == 200


def test_refill_is_capped_at_the_burst(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    client = http_client_for(
        simulator_factory(clock=virtual_clock, throttle_rate=10.0, throttle_burst=4)
    )
    virtual_clock.sleep(3600)
    codes = [list_call(client).status_code for _ in range(6)]
    assert codes == [200] * 4 + [429] * 2


def test_burst_defaults_to_the_rate_rounded_up() -> None:
    assert ThrottlePolicy.of(2.5, None) == ThrottlePolicy(2.5, 3)
    assert ThrottlePolicy.of(0.2, None) == ThrottlePolicy(0.2, 1)
    assert ThrottlePolicy.of(None, None) is None
    for rate, burst in [(0, None), (-1, None), (math.inf, None), (1, 0), (None, 3), (1, 1.5)]:
        with pytest.raises(ValueError):
            ThrottlePolicy.of(rate, burst)  # type: ignore[arg-type]


def test_buckets_are_per_project() -> None:
    now = [100.0]
    throttle = Throttle(lambda: now[0], ThrottlePolicy(1.0, 2))
    assert [throttle.admit("a") for _ in range(2)] == [None, None]
    assert throttle.admit("a") == pytest.approx(1.0)
    assert throttle.admit("b") is None  # b has its own full bucket
    now[0] += 0.25
    assert throttle.admit("a") == pytest.approx(0.75)
    described = throttle.describe()
    assert described["tokens"] == {"a": pytest.approx(0.25), "b": pytest.approx(1.25)}


def test_another_projects_requests_use_their_own_bucket(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=0.1, throttle_burst=1)
    client = http_client_for(sim)
    assert list_call(client).status_code == 200
    assert_throttled(list_call(client))
    other = client.get(f"/v2/{'f' * 32}/migration-tasks")  # its own bucket, then the check
    assert other.status_code == 400 and other.json()["error_code"] == "DCS.4002"
    assert set(sim.admin.throttle()["tokens"]) == {sim.config.project_id, "f" * 32}


def test_unauthenticated_requests_take_no_tokens(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=0.1, throttle_burst=1)
    bad = http_client_for(sim, AkSkAuth(DEMO_ACCESS_KEY, "wrong-secret"))
    assert [list_call(bad).status_code for _ in range(3)] == [401] * 3
    good = http_client_for(sim)
    assert list_call(good).status_code == 200  # the bucket was still full
    assert list_call(good).status_code == 429


def test_admin_routes_are_never_throttled(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=0.01, throttle_burst=1)
    client = http_client_for(sim)
    assert list_call(client).status_code == 200
    for _ in range(20):
        assert sim.admin.health()["ok"] is True
        sim.admin.counters()
    assert_throttled(list_call(client))


def test_concurrent_requests_get_exactly_the_burst(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=1.0, throttle_burst=10)
    clients = [http_client_for(sim) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda i: list_call(clients[i % 8]).status_code, range(48)))
    assert sorted(codes) == [200] * 10 + [429] * 38  # the virtual clock did not move
    assert sim.admin.counters() == {"list": 48, "throttled": 38}


def test_throttle_is_thread_safe() -> None:
    throttle = Throttle(lambda: 0.0, ThrottlePolicy(1.0, 1000))
    admitted: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = sum(1 for _ in range(500) if throttle.admit("p") is None)
        with lock:
            admitted.append(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 1000


def test_admin_api_sets_reads_and_clears_the_throttle(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    described = admin.set_throttle(4.0, burst=2)
    assert described == {"enabled": True, "rate": 4.0, "burst": 2, "tokens": {}}
    assert [list_call(vdcs).status_code for _ in range(3)] == [200, 200, 429]
    assert admin.throttle()["tokens"] == {virtual_simulator.config.project_id: 0.0}
    virtual_clock.sleep(0.125)
    assert admin.throttle()["tokens"] == {virtual_simulator.config.project_id: 0.5}
    assert admin.set_throttle(1.0)["burst"] == 1  # a new policy refills every bucket
    assert list_call(vdcs).status_code == 200
    assert list_call(vdcs).status_code == 429
    admin.clear_throttle()
    assert admin.throttle()["enabled"] is False
    assert {list_call(vdcs).status_code for _ in range(10)} == {200}
    assert admin.counters()["throttled"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"rate": 0},
        {"rate": -1},
        {"rate": "fast"},
        {"rate": True},
        {"rate": 1, "burst": 0},
        {"rate": 1, "burst": 1.5},
        {"burst": 3},
        {"rate": 1, "per": "minute"},
    ],
)
def test_bad_throttle_specs_are_refused(simulator: RunningSimulator, body: dict[str, Any]) -> None:
    with httpx.Client(base_url=simulator.url) as client:
        response = client.post("/_simulator/throttle", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert simulator.admin.throttle()["enabled"] is False  # unchanged


def test_throttle_and_injected_faults_are_counted_apart(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=0.01, throttle_burst=2)
    client = http_client_for(sim)
    sim.admin.set_faults(throttle={"count": 1, "retry_after": None})
    response = list_call(client)  # the injected fault, before authentication and the bucket
    assert response.status_code == 429 and "Retry-After" not in response.headers
    assert [list_call(client).status_code for _ in range(3)] == [200, 200, 429]
    assert sim.admin.counters() == {"list": 4, "fault": 1, "throttled": 1}
