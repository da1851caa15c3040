"""Each ``Behaviour`` switch (readings of UNCONFIRMED API behaviour), via config and admin."""

from __future__ import annotations

import uuid

import httpx
import pytest

from dcs_simulator import Behaviour, RunningSimulator

from ..conftest import SimulatorFactory
from .sim_helpers import HttpClientFactory, P

FINISHED = ["SUCCESS", "FAILED", "MIGRATION_FAILED", "RELEASED", "ERROR"]


def batch_stop(client: httpx.Client, ids: list[str]) -> httpx.Response:
    return client.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": ids})


@pytest.mark.parametrize("status", FINISHED)
def test_stop_finished_failed_default(
    simulator: RunningSimulator, dcs: httpx.Client, status: str
) -> None:
    [done] = simulator.admin.create_tasks(1, status=status)
    [running] = simulator.admin.create_tasks(1)
    items = {i["task_id"]: i for i in batch_stop(dcs, [done, running]).json()["migration_tasks"]}
    assert items[done]["result"] == "failed" and items[done]["error_code"] == "DCS.4026"
    assert items[running]["result"] == "success"
    assert simulator.admin.task(done)["status"] == status
    single = dcs.post(f"{P}/migration-task/{done}/stop")
    assert single.status_code == 400 and single.json()["error_code"] == "DCS.4026"


def test_stop_finished_noop_success(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.set_behaviour(stop_finished="noop_success")
    [done] = simulator.admin.create_tasks(1, status="SUCCESS")
    assert batch_stop(dcs, [done]).json()["migration_tasks"][0]["result"] == "success"
    assert simulator.admin.task(done)["status"] == "SUCCESS"
    single = dcs.post(f"{P}/migration-task/{done}/stop")
    assert single.status_code == 200 and single.json()["status"] == "SUCCESS"
    assert dcs.post(f"{P}/migration-task/{done}/sync-stop").status_code == 204


def test_stop_finished_reject_400(
    simulator_factory: SimulatorFactory, http_client_for: HttpClientFactory
) -> None:
    sim = simulator_factory(behaviour=Behaviour(stop_finished="reject_400"))
    [done] = sim.admin.create_tasks(1, status="FAILED")
    [running] = sim.admin.create_tasks(1)
    response = batch_stop(http_client_for(sim), [running, done])
    assert response.status_code == 400 and response.json()["error_code"] == "DCS.4855"
    assert sim.admin.task(running)["status"] == "INCRMIGEATING"  # all or nothing


def test_unknown_in_batch(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [running] = simulator.admin.create_tasks(1)
    unknown = str(uuid.uuid4())
    items = batch_stop(dcs, [unknown]).json()["migration_tasks"]
    assert items == [
        {
            "task_id": unknown,
            "result": "failed",
            "error_code": "DCS.4133",
            "error_msg": "Instance job is not found.",
        }
    ]
    simulator.admin.set_behaviour(unknown_in_batch="reject_400")
    response = batch_stop(dcs, [running, unknown])
    assert response.status_code == 400 and response.json()["error_code"] == "DCS.4855"
    assert simulator.admin.task(running)["status"] == "INCRMIGEATING"


def test_deleted_details(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1, status="TERMINATED")
    simulator.admin.delete_task(task_id)
    assert dcs.get(f"{P}/migration-task/{task_id}").json()["error_code"] == "DCS.4133"
    simulator.admin.set_behaviour(deleted_details="deleted_status")
    response = dcs.get(f"{P}/migration-task/{task_id}")
    assert response.status_code == 200 and response.json()["status"] == "DELETED"
    # still hidden from the list either way
    assert dcs.get(f"{P}/migration-tasks").json()["count"] == 0


@pytest.mark.parametrize("status", ["INCRMIGEATING", "TERMINATING", "CREATING", "FULLMIGRATING"])
def test_delete_running(simulator: RunningSimulator, dcs: httpx.Client, status: str) -> None:
    [task_id] = simulator.admin.create_tasks(1, status=status, stop_delay="never")
    body = {"task_id_list": [task_id]}
    refused = dcs.request("DELETE", f"{P}/migration-tasks/delete", json=body)
    assert refused.status_code == 400 and refused.json()["error_code"] == "DCS.4026"
    assert simulator.admin.task(task_id)["deleted"] is False
    simulator.admin.set_behaviour(delete_running="allow")
    assert dcs.request("DELETE", f"{P}/migration-tasks/delete", json=body).status_code == 200
    assert simulator.admin.task(task_id)["deleted"] is True


def test_delete_finished_is_allowed(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    ids = simulator.admin.create_tasks(1, status="SUCCESS")
    body = {"task_id_list": ids}
    assert dcs.request("DELETE", f"{P}/migration-tasks/delete", json=body).status_code == 200


def test_batch_limit(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    ids = simulator.admin.create_tasks(4)
    assert batch_stop(dcs, ids).status_code == 200  # no limit by default
    simulator.admin.set_behaviour(batch_limit=3)
    response = batch_stop(dcs, ids)
    assert response.status_code == 400 and response.json()["error_code"] == "DCS.4100"
    assert batch_stop(dcs, ids[:3]).status_code == 200
    simulator.admin.set_behaviour(batch_limit=None)
    assert batch_stop(dcs, ids).status_code == 200


def test_set_behaviour_validates(simulator: RunningSimulator) -> None:
    with pytest.raises(httpx.HTTPStatusError) as info:
        simulator.admin.set_behaviour(stop_finished="explode")
    assert info.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError):
        simulator.admin.set_behaviour(no_such_switch=True)
    with pytest.raises(httpx.HTTPStatusError):
        simulator.admin.set_behaviour(batch_limit=0)
    assert simulator.admin.behaviour() == Behaviour().as_dict()  # unchanged


def test_behaviour_dataclass_validation() -> None:
    with pytest.raises(ValueError, match="delete_running"):
        Behaviour().updated(delete_running="maybe")
    assert Behaviour().updated(batch_limit=50).batch_limit == 50
