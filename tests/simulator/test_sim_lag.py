"""Migration lag (issue 15): the stats call's ``offset`` grows while a task's source is written
to, drains once writes stop, freezes at a stop request, and the simulator records the offset
each stop was requested at. All on a :class:`VirtualClock`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from dcs_simulator import RunningSimulator, SimulatorConfig, SimulatorState
from dcs_simulator.testing import VirtualClock
from pulumi_dcs_migration.models import MigrationTaskStats

from ..conftest import SimulatorFactory
from .sim_helpers import HttpClientFactory, P, details, stats

STATS_FIELDS = {
    "full_migration_progress",
    "offset",
    "source_dbsize",
    "target_dbsize",
    "target_input_kbps",
    "target_ops",
    "is_migrating",
}


def offset(client: httpx.Client, task_id: str) -> int:
    value = stats(client, task_id)["offset"]
    assert isinstance(value, int)
    return value


def stop(client: httpx.Client, ids: list[str]) -> None:
    response = client.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": ids})
    assert response.status_code == 200, response.text


def test_default_is_in_sync(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    virtual_clock.sleep(3600)
    body = stats(vdcs, task_id)
    assert set(body) == STATS_FIELDS
    assert body["offset"] == 0 and body["is_migrating"] is True
    view = virtual_simulator.admin.task(task_id)
    assert (view["offset"], view["write_rate"], view["writes_frozen"]) == (0, 0.0, False)
    assert view["offset_at_stop"] is None and view["stop_history"] == []


def test_answers_numbers_that_the_wire_model_reads(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    virtual_simulator.admin.set_lag(task_id, write_rate=1500)
    virtual_clock.sleep(2)
    body = stats(vdcs, task_id)
    counts = ("source_dbsize", "target_dbsize")  # strings, as the API documents (issue 23)
    numbers = {k: v for k, v in body.items() if k not in ("is_migrating", *counts)}
    assert all(isinstance(v, int) for v in numbers.values()), body  # numbers, as the doc example
    assert all(isinstance(body[k], str) for k in counts), body
    parsed = MigrationTaskStats.model_validate(body)
    assert parsed.offset == 3000 and parsed.is_migrating is True
    assert (parsed.source_keys, parsed.target_keys) == (1000, 970)
    assert parsed.full_migration_progress == "100"


def test_lag_grows_while_written_and_drains_once_frozen(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1)
    admin.set_lag(task_id, write_rate=1000, drain_rate=2000)
    virtual_clock.sleep(10)
    assert offset(vdcs, task_id) == 10_000  # 1000 B/s x 10 s
    view = admin.freeze_writes(task_id)
    assert view["writes_frozen"] is True and view["offset"] == 10_000
    virtual_clock.sleep(2)
    assert offset(vdcs, task_id) == 6_000  # drains at 2000 B/s
    virtual_clock.sleep(100)
    assert offset(vdcs, task_id) == 0  # in sync, never negative
    admin.unfreeze_writes(task_id)
    virtual_clock.sleep(0.5)
    assert offset(vdcs, task_id) == 500  # grows again from 0
    admin.set_lag(task_id, write_rate=0)  # no writes at all drains too
    virtual_clock.sleep(0.1)
    assert offset(vdcs, task_id) == 300
    assert admin.task(task_id)["offset"] == 300


def test_any_lag_at_all_reads_as_not_in_sync(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    virtual_simulator.admin.set_lag(task_id, offset=1000, drain_rate=1000)
    virtual_clock.sleep(0.9995)
    assert offset(vdcs, task_id) == 1  # 0.5 bytes left: rounded up, not "in sync"
    virtual_clock.sleep(0.001)
    assert offset(vdcs, task_id) == 0


def test_stop_freezes_the_offset_and_records_it(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1, stop_delay=5)
    admin.set_lag(task_id, write_rate=300)
    virtual_clock.sleep(10)
    stopped_at = virtual_clock.now()
    stop(vdcs, [task_id])
    view = admin.task(task_id)
    assert view["stop_requested_at"] == stopped_at
    assert view["offset_at_stop"] == 3000 and view["offset"] == 3000
    record = {"at": stopped_at, "offset": 3000, "source_keys": 1000, "target_keys": 970}
    assert view["stop_history"] == [record]
    virtual_clock.sleep(2)
    body = stats(vdcs, task_id)
    assert details(vdcs, task_id)["status"] == "TERMINATING"
    assert (body["offset"], body["is_migrating"]) == (3000, False)
    virtual_clock.sleep(100)
    assert details(vdcs, task_id)["status"] == "TERMINATED"
    assert offset(vdcs, task_id) == 3000  # frozen where it stopped
    assert admin.stop_records([task_id]) == [{"task_id": task_id, **record}]


@pytest.mark.parametrize("how", ["stop", "sync-stop", "admin-terminating"])
def test_every_kind_of_stop_is_recorded(
    virtual_simulator: RunningSimulator,
    vdcs: httpx.Client,
    virtual_clock: VirtualClock,
    how: str,
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1)
    admin.set_lag(task_id, write_rate=50)
    virtual_clock.sleep(4)
    if how == "admin-terminating":
        admin.set_status(task_id, "TERMINATING")
    else:
        assert vdcs.post(f"{P}/migration-task/{task_id}/{how}").status_code in (200, 204)
    view = admin.task(task_id)
    assert (view["stop_requested_at"], view["offset_at_stop"]) == (virtual_clock.now(), 200)


def test_restart_resumes_from_the_frozen_lag_and_keeps_the_history(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1, stop_delay=1)
    admin.set_lag(task_id, write_rate=10)
    virtual_clock.sleep(10)
    first = virtual_clock.now()
    stop(vdcs, [task_id])
    virtual_clock.sleep(50)  # TERMINATED; the lag does not move
    response = vdcs.post(f"{P}/migration-tasks/batch-restart", json={"migration_tasks": [task_id]})
    assert response.json()["migration_tasks"][0]["result"] == "success"
    view = admin.task(task_id)
    assert view["stop_requested_at"] is None and view["offset_at_stop"] is None
    assert view["offset"] == 100
    virtual_clock.sleep(5)
    assert offset(vdcs, task_id) == 150
    second = virtual_clock.now()
    stop(vdcs, [task_id])
    assert admin.task(task_id)["stop_history"] == [
        {"at": first, "offset": 100, "source_keys": 1000, "target_keys": 999},
        {"at": second, "offset": 150, "source_keys": 1000, "target_keys": 998},
    ]


@pytest.mark.parametrize("status", ["SUCCESS", "FAILED", "FULLMIGRATING", "RUNNING", "CREATING"])
def test_tasks_not_in_incremental_sync_have_no_lag(
    virtual_simulator: RunningSimulator,
    vdcs: httpx.Client,
    virtual_clock: VirtualClock,
    status: str,
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1)
    admin.set_lag(task_id, write_rate=100)
    virtual_clock.sleep(10)
    admin.set_status(task_id, status)
    virtual_clock.sleep(10)
    assert offset(vdcs, task_id) == 0
    assert admin.task(task_id)["offset"] == 0


def test_a_forced_terminated_task_keeps_its_lag(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1)
    admin.set_lag(task_id, write_rate=100)
    virtual_clock.sleep(3)
    admin.set_status(task_id, "TERMINATED")  # no stop request: nothing recorded
    virtual_clock.sleep(10)
    assert offset(vdcs, task_id) == 300
    assert admin.stop_records([task_id]) == []


def test_stats_agree_with_details_and_list(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    ids = admin.create_tasks(4, stop_delay=1)
    admin.set_lag_many(ids, write_rate=100)
    admin.set_status(ids[3], "SUCCESS")
    virtual_clock.sleep(2)
    stop(vdcs, [ids[1]])
    virtual_clock.sleep(1)
    stop(vdcs, [ids[2]])  # TERMINATING at the moment of the reads below
    listed = vdcs.get(f"{P}/migration-tasks").json()["migration_tasks"]
    by_list = {t["task_id"]: t["status"] for t in listed}
    expected = {
        ids[0]: ("INCRMIGEATING", True, 300),
        ids[1]: ("TERMINATED", False, 200),
        ids[2]: ("TERMINATING", False, 300),
        ids[3]: ("SUCCESS", False, 0),
    }
    for task_id, (status, migrating, lag) in expected.items():
        body = stats(vdcs, task_id)
        assert details(vdcs, task_id)["status"] == by_list[task_id] == status
        assert (body["is_migrating"], body["offset"]) == (migrating, lag), task_id
        assert admin.task(task_id)["offset"] == lag


def test_configuration_gives_every_new_task_its_rates(
    simulator_factory: SimulatorFactory,
    http_client_for: HttpClientFactory,
    virtual_clock: VirtualClock,
) -> None:
    sim = simulator_factory(clock=virtual_clock, write_rate=100.0, drain_rate=25.0, seed=1)
    client = http_client_for(sim)
    seeded = sim.admin.health()["tasks"] == 1 and sim.admin.stop_records() == []
    assert seeded
    online = client.post(
        f"{P}/migration/instance", json={"name": "n", "vpc_id": "v", "security_group_id": "s"}
    ).json()["instance_id"]
    virtual_clock.sleep(10)
    assert offset(client, online) == 0  # CREATING/RUNNING: not syncing yet
    configured = client.post(
        f"{P}/migration/{online}/task",
        json={"migration_method": "incremental_migration", "source_instance": {"id": "s"}},
    )
    assert configured.status_code == 200
    [admin_made] = sim.admin.create_tasks(1)
    virtual_clock.sleep(2)
    assert offset(client, online) == 200 and offset(client, admin_made) == 200
    view = sim.admin.freeze_writes(admin_made)
    assert (view["write_rate"], view["drain_rate"]) == (100.0, 25.0)
    virtual_clock.sleep(4)
    assert offset(client, admin_made) == 100


def test_set_lag_many_applies_at_one_moment_or_not_at_all(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    ids = admin.create_tasks(3)
    assert admin.set_lag_many(None, write_rate=10) == 3
    virtual_clock.sleep(1)
    assert [offset(vdcs, i) for i in ids] == [10, 10, 10]
    with pytest.raises(httpx.HTTPStatusError) as info:
        admin.set_lag_many([ids[0], str(uuid.uuid4())], frozen=True)
    assert info.value.response.status_code == 404
    assert admin.task(ids[0])["writes_frozen"] is False  # nothing changed
    assert admin.set_lag_many(ids[:2], frozen=True, drain_rate=5) == 2
    virtual_clock.sleep(1)
    assert [offset(vdcs, i) for i in ids] == [5, 5, 20]


@pytest.mark.parametrize(
    "body",
    [
        {"write_rate": -1},
        {"drain_rate": "inf"},
        {"offset": -5},
        {"write_rate": True},
        {"frozen": "yes"},
        {"speed": 3},
    ],
)
def test_bad_lag_settings_are_refused(virtual_simulator: RunningSimulator, body: Any) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    with httpx.Client(base_url=virtual_simulator.url) as client:
        response = client.post(f"/_simulator/tasks/{task_id}/lag", json=body)
        assert response.status_code == 400, response.text
        many = client.post("/_simulator/lag", json={"task_ids": [task_id], **body})
        assert many.status_code == 400, many.text
        unknown = client.post(f"/_simulator/tasks/{uuid.uuid4()}/lag", json={"frozen": True})
        assert unknown.status_code == 404
    view = virtual_simulator.admin.task(task_id)
    assert (view["write_rate"], view["writes_frozen"]) == (0.0, False)


def test_stats_of_deleted_and_unknown_tasks_are_4133(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1, status="TERMINATED")
    virtual_simulator.admin.delete_task(task_id)
    for bad in (task_id, str(uuid.uuid4()), "not-an-id"):
        response = vdcs.get(f"{P}/migration-task/{bad}/stats")
        assert response.status_code == 400
        assert response.json()["error_code"] == "DCS.4133"
    virtual_simulator.admin.set_behaviour(deleted_details="deleted_status")
    assert vdcs.get(f"{P}/migration-task/{task_id}/stats").status_code == 400


def test_stats_are_subject_to_faults(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    virtual_simulator.admin.set_faults(
        operations=["stats"], server_error={"count": 1, "status": 503}
    )
    assert vdcs.get(f"{P}/migration-tasks").status_code == 200  # other operations untouched
    failed = vdcs.get(f"{P}/migration-task/{task_id}/stats")
    assert failed.status_code == 503 and failed.json()["error_code"] == "DCS.5000"
    assert offset(vdcs, task_id) == 0
    counters = virtual_simulator.admin.counters()
    assert (counters["stats"], counters["fault"]) == (2, 1)


def test_stopping_only_once_in_sync_is_provable_from_the_records(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    """The pattern a later test uses: a careful stopper freezes writes, waits until the lag is
    under a bound, then stops; the simulator's records prove no stop happened above it."""
    admin = virtual_simulator.admin
    bound = 100
    ids = admin.create_tasks(5)
    for n, task_id in enumerate(ids):
        admin.set_lag(task_id, write_rate=1000 * (n + 1), drain_rate=500)
    virtual_clock.sleep(3)
    admin.set_lag_many(ids, frozen=True)
    pending = list(ids)
    for _ in range(60):  # virtual seconds: the largest lag, 15000 B at 500 B/s, takes 30
        ready = [t for t in pending if offset(vdcs, t) <= bound]
        if ready:
            stop(vdcs, ready)
            pending = [t for t in pending if t not in ready]
        if not pending:
            break
        virtual_clock.sleep(1)
    assert not pending
    records = admin.stop_records(ids)
    assert sorted(r["task_id"] for r in records) == sorted(ids)
    assert all(r["offset"] <= bound for r in records), records
    # and a careless stop is caught by the same record
    [hasty] = admin.create_tasks(1)
    admin.set_lag(hasty, offset=5000)
    stop(vdcs, [hasty])
    assert admin.stop_records([hasty])[0]["offset"] == 5000 > bound


def test_lag_model_on_the_state_directly() -> None:
    now = [1000.0]
    state = SimulatorState(SimulatorConfig(write_rate=10.0, drain_rate=4.0), clock=lambda: now[0])
    [task_id] = state.create_tasks(1)
    task = state.tasks[task_id]
    now[0] += 5
    assert task.lag_at(now[0]) == pytest.approx(50.0)
    task.set_lag(now[0], frozen=True)
    assert task.lag == pytest.approx(50.0) and task.lag_since == 1005.0  # the checkpoint
    assert task.lag_at(now[0] + 10) == pytest.approx(10.0)
    assert task.lag_at(now[0] + 100) == 0.0
    task.request_stop(now[0] + 10)
    assert task.offset_at_stop == 10 and task.lag_at(now[0] + 1000) == pytest.approx(10.0)
    assert state.stop_records() == [
        {"task_id": task_id, "at": 1015.0, "offset": 10, "source_keys": 1000, "target_keys": 999}
    ]
