"""Key counts (issue 23): the stats call's ``source_dbsize`` / ``target_dbsize`` follow the lag
model (equal once the lag is 0), can be set through the admin API (``null`` omits a count), are
strings on the wire, and every stop record keeps the counts shown at that moment. All on a
:class:`VirtualClock`."""

from __future__ import annotations

import httpx
import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import VirtualClock
from pulumi_dcs_migration.models import MigrationTaskStats

from .sim_helpers import P, stats


def counts(client: httpx.Client, task_id: str) -> tuple[object, object]:
    body = stats(client, task_id)
    return body.get("source_dbsize"), body.get("target_dbsize")


def test_counts_are_strings_and_equal_in_sync(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    assert counts(vdcs, task_id) == ("1000", "1000")
    parsed = MigrationTaskStats.model_validate(stats(vdcs, task_id))
    assert (parsed.source_keys, parsed.target_keys) == (1000, 1000)


def test_the_target_lacks_keys_while_it_lags_and_catches_up_with_the_lag(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    virtual_simulator.admin.set_lag(task_id, offset=1000, drain_rate=100, frozen=True)
    assert counts(vdcs, task_id) == ("1000", "990")  # a key per 100 bytes of lag
    virtual_clock.sleep(5)
    assert counts(vdcs, task_id) == ("1000", "995")
    virtual_clock.sleep(4.995)  # 0.5 bytes left: still one key short, like the offset
    assert counts(vdcs, task_id) == ("1000", "999")
    virtual_clock.sleep(0.01)
    assert stats(vdcs, task_id)["offset"] == 0
    assert counts(vdcs, task_id) == ("1000", "1000")


def test_set_counts_hold_whatever_the_lag(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1)
    view = admin.set_keys(task_id, source=5000, target=4990)
    assert (view["source_keys"], view["target_keys"]) == (5000, 4990)
    virtual_clock.sleep(60)
    assert stats(vdcs, task_id)["offset"] == 0
    assert counts(vdcs, task_id) == ("5000", "4990")


def test_a_null_count_is_left_out_of_the_answer(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    virtual_simulator.admin.set_keys(task_id, source=1000, target=None)
    body = stats(vdcs, task_id)
    assert "target_dbsize" not in body and body["source_dbsize"] == "1000"
    assert MigrationTaskStats.model_validate(body).target_keys is None


def test_the_stop_record_keeps_the_counts_at_the_stop(
    virtual_simulator: RunningSimulator, vdcs: httpx.Client, virtual_clock: VirtualClock
) -> None:
    admin = virtual_simulator.admin
    [task_id] = admin.create_tasks(1, stop_delay=1)
    admin.set_keys(task_id, source=1000, target=990)
    stopped_at = virtual_clock.now()
    response = vdcs.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": [task_id]})
    assert response.status_code == 200
    admin.set_keys(task_id, source=1000, target=1000)  # later counts do not rewrite the record
    record = {"at": stopped_at, "offset": 0, "source_keys": 1000, "target_keys": 990}
    assert admin.stop_records([task_id]) == [{"task_id": task_id, **record}]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"source": -1, "target": 0}, "source must be a whole number >= 0"),
        ({"source": 1, "target": 1.5}, "target must be a whole number >= 0"),
        ({"source": 1, "target": "9"}, "target must be a whole number >= 0"),
        ({"sources": 1}, "unknown key-count field(s): sources"),
    ],
)
def test_bad_counts_are_refused_naming_the_field(
    virtual_simulator: RunningSimulator, body: dict[str, object], complaint: str
) -> None:
    [task_id] = virtual_simulator.admin.create_tasks(1)
    response = httpx.post(f"{virtual_simulator.url}/_simulator/tasks/{task_id}/keys", json=body)
    assert response.status_code == 400 and complaint in response.text
