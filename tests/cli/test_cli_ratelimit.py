"""``--max-rps`` and ``HW_DCS_MAX_REQUESTS_PER_SECOND``: the request limiter from the command line.

The console script runs against an in-process simulator that throttles like the API gateway
(a token bucket per project, 429 ``APIGW.0308`` with ``Retry-After``). Only outcomes are
asserted (exit codes, what the simulator counted), never how long anything took.
"""

from __future__ import annotations

import pytest

from dcs_simulator import RunningSimulator
from pulumi_dcs_migration.cli.app import GlobalOptions
from pulumi_dcs_migration.settings import DEFAULT_MAX_REQUESTS_PER_SECOND

from ..conftest import SimulatorFactory
from .helpers import run, sim_env


def test_help_shows_the_option() -> None:
    result = run(None, "--help")
    assert result.code == 0
    assert "--max-rps" in result.out and "HW_DCS_MAX_REQUESTS_PER_SECOND" in result.out


@pytest.mark.parametrize("bad", ["0", "-3", "nan", "inf", "5000"])
def test_a_bad_max_rps_is_a_usage_error_naming_the_option(
    simulator: RunningSimulator, bad: str
) -> None:
    result = run(simulator, "--max-rps", bad, "list")
    assert result.code == 2, result.err
    assert "--max-rps must be a number of requests per second" in result.err
    assert simulator.admin.counters().get("list", 0) == 0  # refused before any request


def test_a_bad_environment_ceiling_is_named(simulator: RunningSimulator) -> None:
    env = sim_env(simulator, HW_DCS_MAX_REQUESTS_PER_SECOND="fast")
    result = run(simulator, "list", env=env)
    assert result.code == 2, result.err
    assert "HW_DCS_MAX_REQUESTS_PER_SECOND must be a number" in result.err


def test_the_option_wins_over_the_environment(
    simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sim_env(simulator, HW_DCS_MAX_REQUESTS_PER_SECOND="4").items():
        monkeypatch.setenv(name, value)
    with GlobalOptions(endpoint=simulator.url).client() as client:
        assert client.policy.limiter is not None and client.policy.limiter.ceiling == 4.0
    with GlobalOptions(endpoint=simulator.url, max_rps=2.5).client() as client:
        assert client.policy.limiter is not None and client.policy.limiter.ceiling == 2.5
    monkeypatch.delenv("HW_DCS_MAX_REQUESTS_PER_SECOND")
    with GlobalOptions(endpoint=simulator.url).client() as client:
        assert client.policy.limiter is not None
        assert client.policy.limiter.ceiling == DEFAULT_MAX_REQUESTS_PER_SECOND


def test_under_the_gateway_a_stop_meets_no_429(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(throttle_rate=2.0)
    ids = sim.admin.create_tasks(60)
    result = run(sim, "--max-rps", "1.5", "stop", *ids, "--timeout", "120", "--json")
    assert result.code == 0, result.err
    assert set(sim.admin.statuses(ids)) == {"TERMINATED"}
    assert sim.admin.counters().get("throttled", 0) == 0
    assert "HTTP 429" not in result.err


def test_over_the_gateway_a_stop_adapts_and_succeeds(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(throttle_rate=1.0)  # a tenth of the default ceiling
    ids = sim.admin.create_tasks(120)
    result = run(sim, "stop", *ids, "--timeout", "120", "--json")
    assert result.code == 0, result.err
    assert {row["outcome"] for row in result.json()} == {"stopped"}
    assert set(sim.admin.statuses(ids)) == {"TERMINATED"}
    assert sim.admin.counters()["throttled"] > 0  # it met the gateway, and said so
    assert "after HTTP 429" in result.err
