"""Fidelity: the official Huawei Cloud SDK (huaweicloudsdkdcs 3.1.219) drives the simulator
unchanged: its signer, request shapes, response parsing and exception mapping all work."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkdcs.v2 import (
    BatchStopMigrationTasksBody,
    BatchStopMigrationTasksRequest,
    DcsClient,
    ListMigrationTaskRequest,
    ShowMigrationTaskRequest,
    ShowMigrationTaskStatsRequest,
    StopMigrationTaskRequest,
    StopMigrationTaskSyncRequest,
)

from dcs_simulator import (
    DEMO_ACCESS_KEY,
    DEMO_PROJECT_ID,
    DEMO_SECRET_KEY,
    RunningSimulator,
)
from dcs_simulator.testing import UNKNOWN_TASK_ID, VirtualClock
from pulumi_dcs_migration.models import MigrationTaskStats

from ..conftest import SimulatorFactory


def sdk_client(sim: RunningSimulator, secret_key: str = DEMO_SECRET_KEY) -> Any:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True  # plain http; nothing to verify
    credentials = BasicCredentials(DEMO_ACCESS_KEY, secret_key, DEMO_PROJECT_ID)
    return (
        DcsClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoints([sim.url])
        .build()
    )


@pytest.fixture
def sdk(simulator: RunningSimulator) -> Any:
    return sdk_client(simulator)


def test_list_and_show(simulator: RunningSimulator, sdk: Any) -> None:
    ids = simulator.admin.create_tasks(3, name_prefix="sdk")
    listed = sdk.list_migration_task(ListMigrationTaskRequest(offset=1, limit=2, name="sdk"))
    assert listed.count == 3
    assert [t.task_id for t in listed.migration_tasks] == ids[1:3]
    assert listed.migration_tasks[0].status == "INCRMIGEATING"
    shown = sdk.show_migration_task(ShowMigrationTaskRequest(task_id=ids[0]))
    assert shown.task_id == ids[0] and shown.status == "INCRMIGEATING"
    assert shown.migration_type == "online_migration"


def test_batch_stop_mixed(simulator: RunningSimulator, sdk: Any) -> None:
    [running] = simulator.admin.create_tasks(1)
    [finished] = simulator.admin.create_tasks(1, status="SUCCESS")
    unknown = uuid.uuid4().hex
    body = BatchStopMigrationTasksBody(migration_tasks=[running, finished, unknown])
    result = sdk.batch_stop_migration_tasks(BatchStopMigrationTasksRequest(body=body))
    items = {i.task_id: i for i in result.migration_tasks}
    assert items[running].result == "success"
    assert (items[finished].result, items[finished].error_code) == ("failed", "DCS.4026")
    assert (items[unknown].result, items[unknown].error_code) == ("failed", "DCS.4133")
    shown = sdk.show_migration_task(ShowMigrationTaskRequest(task_id=running))
    assert shown.status in ("TERMINATING", "TERMINATED")
    assert simulator.admin.counters()["batch_stop"] == 1


def test_single_stop_sync_stop_and_stats(simulator: RunningSimulator, sdk: Any) -> None:
    first, second = simulator.admin.create_tasks(2, stop_delay=10)
    stopped = sdk.stop_migration_task(StopMigrationTaskRequest(task_id=first))
    assert stopped.status == "TERMINATING"
    sdk.stop_migration_task_sync(StopMigrationTaskSyncRequest(task_id=second))
    assert simulator.admin.task(second)["status"] == "TERMINATING"
    stats = sdk.show_migration_task_stats(ShowMigrationTaskStatsRequest(task_id=first))
    assert stats.is_migrating is False


def test_invalid_id_on_show_raises_4133(sdk: Any) -> None:
    with pytest.raises(ClientRequestException) as info:
        sdk.show_migration_task(ShowMigrationTaskRequest(task_id="not a valid/id"))
    error = info.value
    assert error.status_code == 400
    assert error.error_code == "DCS.4133"
    assert error.error_msg == "Instance job is not found."
    assert len(error.request_id) == 32  # taken from X-Request-Id


def test_unknown_id_on_show_raises_4133(sdk: Any) -> None:
    with pytest.raises(ClientRequestException) as info:
        sdk.show_migration_task(ShowMigrationTaskRequest(task_id=str(uuid.uuid4())))
    assert (info.value.status_code, info.value.error_code) == (400, "DCS.4133")


def test_invalid_id_in_batch_raises_4855(simulator: RunningSimulator, sdk: Any) -> None:
    [running] = simulator.admin.create_tasks(1)
    body = BatchStopMigrationTasksBody(migration_tasks=[running, "bad/id"])
    with pytest.raises(ClientRequestException) as info:
        sdk.batch_stop_migration_tasks(BatchStopMigrationTasksRequest(body=body))
    error = info.value
    assert (error.status_code, error.error_code) == (400, "DCS.4855")
    assert error.error_msg == "invalid migration task id in the request."
    assert error.request_id
    assert simulator.admin.task(running)["status"] == "INCRMIGEATING"


def test_sdk_with_wrong_secret_gets_401(simulator: RunningSimulator) -> None:
    client = sdk_client(simulator, secret_key="wrong-secret")
    with pytest.raises(ClientRequestException) as info:
        client.list_migration_task(ListMigrationTaskRequest())
    assert (info.value.status_code, info.value.error_code) == (401, "APIGW.0301")
    assert info.value.request_id


def test_stats_offset_read_by_the_sdk(simulator: RunningSimulator, sdk: Any) -> None:
    [task_id] = simulator.admin.create_tasks(1, stop_delay=600)
    simulator.admin.set_lag(task_id, offset=12345, write_rate=0, drain_rate=0)  # holds still
    request = ShowMigrationTaskStatsRequest(task_id=task_id)
    stats = sdk.show_migration_task_stats(request)
    # The simulator answers numbers (as the doc example); the SDK types them as strings.
    assert stats.offset == "12345"
    assert (stats.full_migration_progress, stats.is_migrating) == ("100", True)
    assert MigrationTaskStats.model_validate(stats.to_json_object()).offset == 12345
    sdk.stop_migration_task(StopMigrationTaskRequest(task_id=task_id))
    stopped = sdk.show_migration_task_stats(request)
    assert (stopped.offset, stopped.is_migrating) == ("12345", False)
    assert simulator.admin.task(task_id)["offset_at_stop"] == 12345
    with pytest.raises(ClientRequestException) as info:
        sdk.show_migration_task_stats(ShowMigrationTaskStatsRequest(task_id=UNKNOWN_TASK_ID))
    assert (info.value.status_code, info.value.error_code) == (400, "DCS.4133")


def test_sdk_sees_the_lag_grow_and_drain(
    virtual_simulator: RunningSimulator, virtual_clock: VirtualClock
) -> None:
    sdk = sdk_client(virtual_simulator)
    [task_id] = virtual_simulator.admin.create_tasks(1)
    virtual_simulator.admin.set_lag(task_id, write_rate=1000, drain_rate=400)
    request = ShowMigrationTaskStatsRequest(task_id=task_id)
    virtual_clock.sleep(7)
    assert sdk.show_migration_task_stats(request).offset == "7000"
    virtual_simulator.admin.freeze_writes(task_id)
    virtual_clock.sleep(10)
    assert sdk.show_migration_task_stats(request).offset == "3000"
    virtual_clock.sleep(10)
    assert sdk.show_migration_task_stats(request).offset == "0"


def test_sdk_reads_the_throttle_429(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> None:
    sim = simulator_factory(clock=virtual_clock, throttle_rate=0.5, throttle_burst=1)
    sdk = sdk_client(sim)
    sdk.list_migration_task(ListMigrationTaskRequest())
    with pytest.raises(ClientRequestException) as info:
        sdk.list_migration_task(ListMigrationTaskRequest())
    # The SDK's urllib3 Retry lists 429 in status_forcelist: even with retry_times=0 (no
    # retry) it raises "too many 429 error responses" and the SDK maps that to error_code
    # "429", dropping the gateway's body and request id. So a 429 reads as a 429, no more.
    error = info.value
    assert (error.status_code, error.error_code) == (429, "429")
    assert "too many 429 error responses" in error.error_msg
    assert sim.admin.counters() == {"list": 2, "throttled": 1}  # one request, not retried
    virtual_clock.sleep(2)
    assert sdk.list_migration_task(ListMigrationTaskRequest()).count == 0
