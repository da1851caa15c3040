"""Task lifecycle: TERMINATING → TERMINATED after the delay, jitter, never-terminating tasks,
restart, delete, and the lazily computed clock (checked directly on the state object too)."""

from __future__ import annotations

import math

import httpx
import pytest

from dcs_simulator import RunningSimulator, SimulatorConfig, SimulatorState
from dcs_simulator.testing import VirtualClock

from ..conftest import SimulatorFactory
from .sim_helpers import HttpClientFactory, P, details, wait_for_status


def stop(client: httpx.Client, ids: list[str]) -> None:
    response = client.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": ids})
    assert response.status_code == 200
    assert all(i["result"] == "success" for i in response.json()["migration_tasks"])


def test_terminating_then_terminated(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1, stop_delay=0.2)
    stopped_at = virtual_clock.now()
    stop(vdcs, [task_id])
    view = admin.task(task_id)
    assert view["status"] == "TERMINATING"
    assert view["terminated_at"] is None
    assert view["stop_requested_at"] == stopped_at
    virtual_clock.sleep(0.15)
    assert details(vdcs, task_id)["status"] == "TERMINATING"
    virtual_clock.sleep(0.05)
    assert details(vdcs, task_id)["status"] == "TERMINATED"
    view = admin.task(task_id)
    # terminated_at is exactly the moment the delay ran out, not when someone looked
    virtual_clock.sleep(10)
    assert view["terminated_at"] == pytest.approx(stopped_at + 0.2, abs=1e-6)
    assert admin.task(task_id)["terminated_at"] == view["terminated_at"]
    assert admin.last_terminated_at([task_id]) == view["terminated_at"]


def test_stop_twice_changes_nothing(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1, stop_delay=1.0)
    stop(dcs, [task_id])
    first = simulator.admin.task(task_id)["stop_requested_at"]
    stop(dcs, [task_id])  # TERMINATING: success, no change
    assert simulator.admin.task(task_id)["stop_requested_at"] == first
    simulator.admin.set_status(task_id, "TERMINATED")
    stop(dcs, [task_id])  # TERMINATED: success, no change
    assert simulator.admin.task(task_id)["status"] == "TERMINATED"


def test_never_terminates(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1, stop_delay=math.inf)
    [other] = admin.create_tasks(1, stop_delay="never")
    stop(vdcs, [task_id, other])
    virtual_clock.sleep(10**9)
    for tid in (task_id, other):
        view = admin.task(tid)
        assert view["stop_delay"] == math.inf
        assert view["status"] == "TERMINATING" and view["terminated_at"] is None
    assert admin.last_terminated_at([task_id, other]) is None


def test_jitter_bounds_and_determinism() -> None:
    config = SimulatorConfig(stop_delay=1.0, stop_jitter=0.5, rng_seed=42)
    state = SimulatorState(config)
    ids = state.create_tasks(2000)
    delays = [state.tasks[i].stop_delay for i in ids]
    assert all(0.5 <= d <= 1.5 for d in delays)
    assert min(delays) < 0.6 and max(delays) > 1.4  # the whole range is used
    again = SimulatorState(SimulatorConfig(stop_delay=1.0, stop_jitter=0.5, rng_seed=42))
    assert [again.tasks[i].stop_delay for i in again.create_tasks(2000)] == delays
    other = SimulatorState(SimulatorConfig(stop_delay=1.0, stop_jitter=0.5, rng_seed=43))
    assert [other.tasks[i].stop_delay for i in other.create_tasks(2000)] != delays


def test_jitter_over_http(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=0.1, stop_jitter=0.5, rng_seed=7)
    ids = sim.admin.create_tasks(50)
    delays = [sim.admin.task(i)["stop_delay"] for i in ids]
    assert all(0.05 <= d <= 0.15 for d in delays)
    assert len(set(delays)) == 50
    overridden = sim.admin.create_tasks(20, stop_delay=1.0, stop_jitter=0.0)
    assert {sim.admin.task(i)["stop_delay"] for i in overridden} == {1.0}


def test_status_is_computed_lazily_from_the_clock() -> None:
    now = [1000.0]
    state = SimulatorState(SimulatorConfig(stop_delay=10.0, seed=3), clock=lambda: now[0])
    task = next(iter(state.tasks.values()))
    assert task.status_at(now[0]) == "INCRMIGEATING"
    task.request_stop(now[0])
    now[0] += 9.999
    assert task.status_at(now[0]) == "TERMINATING"
    assert task.terminated_at(now[0]) is None
    now[0] += 0.001
    assert task.status_at(now[0]) == "TERMINATED"
    assert task.terminated_at(now[0]) == pytest.approx(1010.0)
    assert state.last_terminated_at() == pytest.approx(1010.0)


def test_restart_after_stop(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1)
    stop(dcs, [task_id])
    wait_for_status(dcs, task_id, "TERMINATED")
    response = dcs.post(f"{P}/migration-tasks/batch-restart", json={"migration_tasks": [task_id]})
    assert response.json()["migration_tasks"][0]["result"] == "success"
    assert dcs.get(f"{P}/migration-task/{task_id}").json()["status"] == "INCRMIGEATING"
    stop(dcs, [task_id])  # and it can be stopped again
    wait_for_status(dcs, task_id, "TERMINATED")


def test_restart_behind_our_back(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1)
    stop(dcs, [task_id])
    wait_for_status(dcs, task_id, "TERMINATED")
    simulator.admin.set_status(task_id, "INCRMIGEATING")
    view = simulator.admin.task(task_id)
    assert view["status"] == "INCRMIGEATING" and view["terminated_at"] is None


def test_forced_statuses(simulator: RunningSimulator) -> None:
    [task_id] = simulator.admin.create_tasks(1, stop_delay=0.05)
    simulator.admin.set_status(task_id, "SUCCESS")
    assert simulator.admin.task(task_id)["status"] == "SUCCESS"
    simulator.admin.set_status(task_id, "TERMINATED")
    view = simulator.admin.task(task_id)
    assert view["status"] == "TERMINATED" and view["terminated_at"] is not None
    simulator.admin.set_status(task_id, "TERMINATING")  # starts a fresh stop
    assert simulator.admin.task(task_id)["status"] == "TERMINATING"


def test_delete_after_stop(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1)
    stop(dcs, [task_id])
    wait_for_status(dcs, task_id, "TERMINATED")
    body = {"task_id_list": [task_id]}
    assert dcs.request("DELETE", f"{P}/migration-tasks/delete", json=body).status_code == 200
    # deleting again is idempotent
    assert dcs.request("DELETE", f"{P}/migration-tasks/delete", json=body).status_code == 200
    assert dcs.get(f"{P}/migration-task/{task_id}").status_code == 400
    # a deleted task cannot be stopped or restarted: it is unknown to those calls
    result = dcs.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": [task_id]})
    assert result.json()["migration_tasks"][0]["error_code"] == "DCS.4133"


def test_seeded_tasks(
    simulator_factory: SimulatorFactory, http_client_for: HttpClientFactory
) -> None:
    sim = simulator_factory(seed=25)
    assert sim.admin.health()["tasks"] == 25
    body = http_client_for(sim).get(f"{P}/migration-tasks", params={"limit": 100}).json()
    assert body["count"] == 25
    assert {t["status"] for t in body["migration_tasks"]} == {"INCRMIGEATING"}
    assert {t["migration_type"] for t in body["migration_tasks"]} == {"online_migration"}
