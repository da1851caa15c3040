"""Injected faults (throttle, server error, latency, drop), their determinism, and counters."""

from __future__ import annotations

import time

import httpx
import pytest

from dcs_simulator import (
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    OPERATIONS,
    FaultPlan,
    RunningSimulator,
)
from dcs_simulator.testing import UNKNOWN_TASK_ID
from pulumi_dcs_migration.auth import AkSkAuth

from .sim_helpers import P


def list_call(client: httpx.Client) -> httpx.Response:
    return client.get(f"{P}/migration-tasks")


def outcomes(client: httpx.Client, n: int) -> list[int]:
    """Status codes of ``n`` list calls; 0 for a dropped connection."""
    codes = []
    for _ in range(n):
        try:
            codes.append(list_call(client).status_code)
        except httpx.TransportError:
            codes.append(0)
    return codes


def test_throttle_with_retry_after(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.set_faults(throttle={"count": 2, "retry_after": 1.5})
    for _ in range(2):
        response = list_call(dcs)
        assert response.status_code == 429
        body = response.json()
        assert body["error_code"] == "APIGW.0308"
        assert body["error_msg"].startswith("The throttling threshold has been reached")
        assert body["request_id"] == response.headers["X-Request-Id"]
        assert response.headers["Retry-After"] == "2"  # whole seconds, rounded up
    assert list_call(dcs).status_code == 200


def test_throttle_without_retry_after(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.set_faults(throttle={"count": 1, "retry_after": None})
    response = list_call(dcs)
    assert response.status_code == 429 and "Retry-After" not in response.headers


@pytest.mark.parametrize("status", [500, 503])
def test_server_error(simulator: RunningSimulator, dcs: httpx.Client, status: int) -> None:
    simulator.admin.set_faults(server_error={"count": 1, "status": status})
    response = list_call(dcs)
    assert response.status_code == status
    assert response.json()["error_code"] == "DCS.5000"
    assert list_call(dcs).status_code == 200


def test_latency(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.set_faults(latency={"seconds": 0.3, "count": 1})
    started = time.monotonic()
    assert list_call(dcs).status_code == 200
    assert time.monotonic() - started >= 0.3  # a lower bound: the delay really happened
    assert simulator.admin.faults()["remaining_counts"] == {"latency": 0}  # once only
    assert list_call(dcs).status_code == 200
    assert "fault" not in simulator.admin.counters()  # latency alone is not an answer


def test_drop_closes_without_response(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.set_faults(drop={"count": 1})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        list_call(dcs)
    assert list_call(dcs).status_code == 200  # the client reconnects; the server is fine
    counters = simulator.admin.counters()
    assert counters["fault"] == 1 and counters["list"] == 2


def test_drop_on_a_fresh_connection(simulator: RunningSimulator) -> None:
    simulator.admin.set_faults(drop={"count": 1})
    auth = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.post(
            f"{simulator.url}{P}/migration-task/batch-stop",
            json={"migration_tasks": ["x"]},
            auth=auth,
        )


def test_faults_only_hit_listed_operations(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.set_faults(operations=["batch_stop"], server_error={"probability": 1.0})
    assert list_call(dcs).status_code == 200
    response = dcs.post(
        f"{P}/migration-task/batch-stop", json={"migration_tasks": [UNKNOWN_TASK_ID]}
    )
    assert response.status_code == 500
    # admin routes never see faults
    assert simulator.admin.health()["ok"] is True
    simulator.admin.clear_faults()
    response = dcs.post(
        f"{P}/migration-task/batch-stop", json={"migration_tasks": [UNKNOWN_TASK_ID]}
    )
    assert response.status_code == 200


def test_seeded_faults_are_deterministic(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    spec = {
        "seed": 1234,
        "throttle": {"probability": 0.25, "retry_after": None},
        "server_error": {"probability": 0.2, "status": 503},
        "drop": {"probability": 0.1},
    }
    simulator.admin.set_faults(**spec)
    first = outcomes(dcs, 60)
    simulator.admin.set_faults(**spec)  # same seed again → same sequence
    assert outcomes(dcs, 60) == first
    assert {0, 200, 429, 503} <= set(first)  # every kind showed up
    simulator.admin.set_faults(**{**spec, "seed": 99})
    assert outcomes(dcs, 60) != first


def test_fault_plan_unit_determinism() -> None:
    def sequence(seed: int) -> list[tuple[bool, bool, int | None]]:
        plan = FaultPlan()
        plan.set(
            {"seed": seed, "throttle": {"probability": 0.5}, "server_error": {"probability": 0.5}}
        )
        return [(d.drop, d.throttle, d.server_error) for d in map(plan.decide, ["list"] * 200)]

    assert sequence(5) == sequence(5)
    assert sequence(5) != sequence(6)


@pytest.mark.parametrize(
    "spec",
    [
        {"throttle": {}},
        {"throttle": {"probability": 2}},
        {"server_error": {"count": 1, "status": 502}},
        {"latency": {"count": 1}},
        {"drop": {"count": -1}},
        {"operations": "list"},
        {"operations": ["batch-stop"]},
        {"bogus": {}},
    ],
)
def test_bad_fault_specs_are_refused(simulator: RunningSimulator, spec: dict[str, object]) -> None:
    with pytest.raises(httpx.HTTPStatusError) as info:
        simulator.admin.set_faults(**spec)
    assert info.value.response.status_code == 400


def test_counters_per_operation(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1, status="TERMINATED")
    list_call(dcs)
    dcs.get(f"{P}/migration-task/{task_id}")
    dcs.get(f"{P}/migration-task/{task_id}/stats")
    dcs.get(f"{P}/migration-task/{task_id}/logs")
    dcs.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": [task_id]})
    dcs.post(f"{P}/migration-task/{task_id}/stop")
    dcs.post(f"{P}/migration-task/{task_id}/sync-stop")
    dcs.post(f"{P}/migration-tasks/batch-restart", json={"migration_tasks": [task_id]})
    created = dcs.post(
        f"{P}/migration/instance", json={"name": "n", "vpc_id": "v", "security_group_id": "s"}
    )
    new_id = created.json()["instance_id"]
    dcs.post(
        f"{P}/migration/{new_id}/task",
        json={"migration_method": "full_amount_migration", "source_instance": {"id": "s"}},
    )
    dcs.post(f"{P}/migration-task", json={})
    dcs.request("DELETE", f"{P}/migration-tasks/delete", json={"task_id_list": [new_id]})
    counters = simulator.admin.counters()
    assert {op: counters.get(op) for op in OPERATIONS} == dict.fromkeys(OPERATIONS, 1)
    assert set(OPERATIONS) == {
        "list",
        "show",
        "batch_stop",
        "stop",
        "sync_stop",
        "delete",
        "batch_restart",
        "create_online",
        "configure_online",
        "create",
        "stats",
        "logs",
    }
    simulator.admin.reset_counters()
    assert simulator.admin.counters() == {}
    dcs.get(f"{P}/nowhere")  # unrouted requests count under no operation
    assert simulator.admin.counters() == {}


def test_faults_counted_under_operation_and_fault(
    simulator: RunningSimulator, dcs: httpx.Client
) -> None:
    simulator.admin.set_faults(throttle={"count": 3})
    outcomes(dcs, 5)
    counters = simulator.admin.counters()
    assert counters["list"] == 5 and counters["fault"] == 3
    assert simulator.admin.faults()["remaining_counts"] == {"throttle": 0}
