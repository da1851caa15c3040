"""DcsClient against the simulator over real sockets, with real signatures."""

from __future__ import annotations

import dataclasses

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import FAST_RETRY, client_for, poll_until
from dcs_simulator.testing import UNKNOWN_TASK_ID as UNKNOWN
from dcs_simulator.testing.api import (
    ConfigInstance,
    ConfigureOnlineTaskBody,
    CreateOnlineTaskBody,
    CreateTaskBody,
    api_client,
    configure_online_task,
    create_online_task,
    create_task,
    stop_task,
)
from pulumi_dcs_migration.auth import AkSkAuth, TokenAuth
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import (
    AuthenticationError,
    DcsApiError,
    DcsTransportError,
    ServerError,
    TaskNotFoundError,
)

from ..conftest import SimulatorFactory


def test_list_paginates_over_every_task(simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(2503)
    with client_for(simulator) as client:
        page = client.list_tasks(offset=0, limit=1000)
        assert page.count == 2503 and len(page.migration_tasks) == 1000
        listed = [t.task_id for t in client.iter_tasks()]
    assert sorted(listed) == sorted(ids)
    assert simulator.admin.counters()["list"] == 1 + 3


def test_details_stop_restart_delete(simulator: RunningSimulator) -> None:
    [tid] = simulator.admin.create_tasks(1, name_prefix="orders")
    with client_for(simulator) as client, api_client(simulator) as http:
        task = client.get_task(tid)
        assert task.status == "INCRMIGEATING" and task.task_id == tid and task.task_name
        assert stop_task(http, tid).status == "TERMINATING"
        StopEngine(client, StopOptions(timeout=10)).run([tid])
        assert client.get_task(tid).status == "TERMINATED"
        [restart] = client.batch_restart([tid])
        assert restart.succeeded and client.get_task(tid).status == "INCRMIGEATING"
        client.batch_stop([tid])
        StopEngine(client, StopOptions(timeout=10)).run([tid])
        assert client.delete_tasks([tid]) == [tid]
        assert tid not in {t.task_id for t in client.iter_tasks()}
        with pytest.raises(TaskNotFoundError) as info:
            client.get_task(tid)
    assert info.value.error_code == "DCS.4133" and info.value.request_id


def test_batch_stop_mixed_results(simulator: RunningSimulator) -> None:
    running = simulator.admin.create_tasks(2)
    [done] = simulator.admin.create_tasks(1, status="SUCCESS")
    with client_for(simulator) as client:
        results = {r.task_id: r for r in client.batch_stop([*running, done, UNKNOWN])}
    assert results[running[0]].succeeded and results[running[1]].succeeded
    assert not results[done].succeeded and results[done].error_code
    assert not results[UNKNOWN].succeeded


def test_wrong_secret_key_is_a_clear_401(simulator: RunningSimulator) -> None:
    cfg = simulator.config
    client = client_for(
        simulator, auth=AkSkAuth(cfg.access_key, "wrong-secret", project_id=cfg.project_id)
    )
    with pytest.raises(AuthenticationError) as info:
        client.list_tasks()
    message = str(info.value)
    assert info.value.status_code == 401 and "APIGW.0301" in message and "clock" in message
    assert (
        cfg.secret_key not in message
        and "wrong-secret" not in message
        and cfg.access_key not in message
    )


def test_token_auth(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(tokens=("tok-123",))
    with client_for(sim, auth=TokenAuth("tok-123")) as client:
        assert client.list_tasks().count == 0
    with pytest.raises(AuthenticationError):
        client_for(sim, auth=TokenAuth("tok-bad")).list_tasks()


def test_throttling_and_server_errors_are_retried_and_recovered(
    simulator: RunningSimulator,
) -> None:
    simulator.admin.create_tasks(3)
    with client_for(simulator) as client:
        simulator.admin.set_faults(seed=1, throttle={"count": 2, "retry_after": 0.05})
        assert client.list_tasks().count == 3
        simulator.admin.set_faults(seed=1, throttle={"count": 2, "retry_after": None})
        assert client.list_tasks().count == 3
        simulator.admin.set_faults(seed=1, server_error={"count": 2, "status": 503})
        assert client.list_tasks().count == 3
    counters = simulator.admin.counters()
    assert counters["list"] == 9 and counters["fault"] == 6  # each call: 2 faults, then success


def test_dropped_connections_are_retried(simulator: RunningSimulator) -> None:
    simulator.admin.set_faults(seed=2, drop={"count": 2})
    with client_for(simulator) as client:
        assert client.list_tasks().count == 0


def test_persistent_failure_gives_up_with_a_clear_error(simulator: RunningSimulator) -> None:
    simulator.admin.set_faults(seed=3, server_error={"probability": 1.0, "status": 500})
    with client_for(simulator) as client, pytest.raises(ServerError, match="retry later"):
        client.list_tasks()


def test_latency_past_request_timeout(simulator: RunningSimulator) -> None:
    simulator.admin.set_faults(seed=4, latency={"seconds": 2.0, "probability": 1.0})
    two = dataclasses.replace(FAST_RETRY, attempts=2)
    with (
        client_for(simulator, timeout=0.2, retry=two) as client,
        pytest.raises(DcsTransportError, match="timed out"),
    ):
        client.list_tasks()


def test_engine_against_simulator_with_mixed_states(simulator: RunningSimulator) -> None:
    running = simulator.admin.create_tasks(120)
    [finished] = simulator.admin.create_tasks(1, status="FAILED")
    with client_for(simulator) as client:
        report = StopEngine(client, StopOptions(timeout=30)).run([*running, finished, UNKNOWN])
    by = {o.task_id: o.outcome for o in report.outcomes}
    assert all(by[t] is Outcome.STOPPED for t in running)
    assert by[finished] is Outcome.FINISHED and by[UNKNOWN] is Outcome.NOT_FOUND
    for t in running[:5]:
        assert simulator.admin.task(t)["status"] == "TERMINATED"


@pytest.mark.parametrize("reading", ["failed", "reject_400"])
def test_engine_handles_each_unknown_id_reading(simulator: RunningSimulator, reading: str) -> None:
    simulator.admin.set_behaviour(unknown_in_batch=reading)
    running = simulator.admin.create_tasks(4)
    with client_for(simulator) as client:
        report = StopEngine(client, StopOptions(timeout=30)).run([*running, UNKNOWN])
    by = {o.task_id: o.outcome for o in report.outcomes}
    assert [by[t] for t in running] == [Outcome.STOPPED] * 4
    assert by[UNKNOWN] is Outcome.NOT_FOUND


@pytest.mark.parametrize("reading", ["failed", "noop_success", "reject_400"])
def test_engine_handles_each_finished_task_reading(
    simulator: RunningSimulator, reading: str
) -> None:
    simulator.admin.set_behaviour(stop_finished=reading)
    running = simulator.admin.create_tasks(3)
    [done] = simulator.admin.create_tasks(1, status="SUCCESS")
    with client_for(simulator) as client:
        report = StopEngine(client, StopOptions(timeout=30)).run([*running, done])
    by = {o.task_id: o for o in report.outcomes}
    assert [by[t].outcome for t in running] == [Outcome.STOPPED] * 3
    assert by[done].outcome is Outcome.FINISHED and by[done].status == "SUCCESS"


def test_batch_limit_reading_is_respected_by_chunking(simulator: RunningSimulator) -> None:
    simulator.admin.set_behaviour(batch_limit=50)
    ids = simulator.admin.create_tasks(130)
    with client_for(simulator) as client:
        report = StopEngine(client, StopOptions(timeout=30)).run(ids)
        assert all(o.outcome is Outcome.STOPPED for o in report.outcomes)
        with pytest.raises(DcsApiError) as info:
            client.batch_stop(ids[:51])
    assert info.value.error_code == "DCS.4100"


def test_create_online_task_both_steps_and_create_task(simulator: RunningSimulator) -> None:
    from pulumi_dcs_migration.models import BackupFile, BackupFiles

    with client_for(simulator) as client, api_client(simulator) as http:
        task_id = create_online_task(
            http,
            CreateOnlineTaskBody(
                name="cutover-orders",
                vpc_id="vpc-1",
                subnet_id="subnet-1",
                security_group_id="sg-1",
            ),
        )
        assert client.get_task(task_id).status in ("CREATING", "RUNNING")
        poll_until(
            lambda: client.get_task(task_id).status,
            lambda status: status == "RUNNING",
            what=f"{task_id} RUNNING",
        )
        configured = configure_online_task(
            http,
            task_id,
            ConfigureOnlineTaskBody(
                migration_method="incremental_migration",
                resume_mode="auto",
                source_instance=ConfigInstance(addrs="10.0.0.1:6379", password="src-pass"),
                target_instance=ConfigInstance(id="dcs-target-1", password="dst-pass"),
            ),
        )
        assert configured.id == task_id and client.get_task(task_id).status == "INCRMIGEATING"
        created = create_task(
            http,
            CreateTaskBody(
                task_name="import-1",
                migration_type="backupfile_import",
                migration_method="full_amount_migration",
                backup_files=BackupFiles(
                    file_source="self_build_obs",
                    bucket_name="bkt",
                    files=[BackupFile(file_name="dump.rdb", size="1024")],
                ),
                target_instance=ConfigInstance(id="dcs-target-1"),
            ),
        )
        assert created.id and client.get_task(created.id).status == "MIGRATING"
    assert simulator.admin.counters()["create_online"] == 1
    assert simulator.admin.counters()["configure_online"] == 1
