"""Task-id shapes (issue 11): an id that is neither a UUID nor 32 hex digits is "invalid
migration task id in the request", so the whole batch gets 400 ``DCS.4855`` (batch-stop,
batch-restart, delete) and nothing changes; a well-formed unknown id keeps today's readings."""

from __future__ import annotations

import httpx
import pytest

from dcs_simulator import RunningSimulator
from pulumi_dcs_migration.models import is_valid_task_id

from .sim_helpers import P

GOOD = "b21989ec-2889-4b8e-99db-19c073425ec2"
MALFORMED = [
    "abc",
    "1234",
    "0" * 31,
    "0" * 33,
    "g" * 32,
    "x" * 64,
    "{" + GOOD + "}",
    GOOD.replace("-", "", 1),  # one dash missing
    GOOD + "-0000",
    GOOD[:-1] + "z",
    " " + GOOD,
    GOOD + "\n",
    "task-0",
]
WELL_FORMED_UNKNOWN = [
    "6f1c0d4e-8a57-4c11-9b0e-2f3d4c5b6a79",
    "6f1c0d4e8a574c119b0e2f3d4c5b6a79",
    "6F1C0D4E-8A57-4C11-9B0E-2F3D4C5B6A79",
]

BATCH_STOP = ("POST", "migration-task/batch-stop", "migration_tasks")
BATCH_RESTART = ("POST", "migration-tasks/batch-restart", "migration_tasks")
DELETE = ("DELETE", "migration-tasks/delete", "task_id_list")


def batch(client: httpx.Client, route: tuple[str, str, str], ids: list[str]) -> httpx.Response:
    method, path, field = route
    return client.request(method, f"{P}/{path}", json={field: ids})


def test_the_shapes_are_the_products_rule() -> None:
    assert is_valid_task_id(GOOD)
    assert not any(map(is_valid_task_id, MALFORMED))
    assert all(map(is_valid_task_id, WELL_FORMED_UNKNOWN))


@pytest.mark.parametrize("bad", MALFORMED)
@pytest.mark.parametrize(
    ("route", "status"),
    [(BATCH_STOP, "INCRMIGEATING"), (BATCH_RESTART, "TERMINATED"), (DELETE, "TERMINATED")],
    ids=["batch-stop", "batch-restart", "delete"],
)
def test_a_malformed_id_fails_the_whole_batch(
    simulator: RunningSimulator,
    dcs: httpx.Client,
    route: tuple[str, str, str],
    status: str,
    bad: str,
) -> None:
    [good] = simulator.admin.create_tasks(1, status=status)
    response = batch(dcs, route, [good, bad])
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": "DCS.4855",
        "error_msg": "invalid migration task id in the request.",
    }
    view = simulator.admin.task(good)  # all or nothing: the good id was not acted on
    assert (view["status"], view["deleted"], view["stop_requested_at"]) == (status, False, None)


@pytest.mark.parametrize("unknown", WELL_FORMED_UNKNOWN)
def test_a_well_formed_unknown_id_keeps_the_switchable_reading(
    simulator: RunningSimulator, dcs: httpx.Client, unknown: str
) -> None:
    [running] = simulator.admin.create_tasks(1)
    [stopped] = simulator.admin.create_tasks(1, status="TERMINATED")
    # batch-stop, default reading: a per-item failure, the rest goes ahead
    items = {
        i["task_id"]: i
        for i in batch(dcs, BATCH_STOP, [running, unknown]).json()["migration_tasks"]
    }
    assert items[running]["result"] == "success"
    assert (items[unknown]["result"], items[unknown]["error_code"]) == ("failed", "DCS.4133")
    # batch-stop, switched: the whole batch fails with DCS.4855
    simulator.admin.set_behaviour(unknown_in_batch="reject_400")
    [other] = simulator.admin.create_tasks(1)
    rejected = batch(dcs, BATCH_STOP, [other, unknown])
    assert (rejected.status_code, rejected.json()["error_code"]) == (400, "DCS.4855")
    assert simulator.admin.task(other)["status"] == "INCRMIGEATING"
    # batch-restart: a per-item failure
    restart = batch(dcs, BATCH_RESTART, [stopped, unknown]).json()["migration_tasks"]
    assert [(i["result"], i.get("error_code")) for i in restart] == [
        ("success", None),
        ("failed", "DCS.4133"),
    ]
    # delete: all or nothing, not found
    [finished] = simulator.admin.create_tasks(1, status="TERMINATED")
    deleted = batch(dcs, DELETE, [finished, unknown])
    assert (deleted.status_code, deleted.json()["error_code"]) == (400, "DCS.4133")
    assert simulator.admin.task(finished)["deleted"] is False
