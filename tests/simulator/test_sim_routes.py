"""Each DCS route's success shape and error codes, over real sockets with AK/SK signing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing.api import TaskCreatedResponse
from pulumi_dcs_migration.models import (
    BatchResultResponse,
    ListMigrationTasksResponse,
    MigrationTask,
)

from .sim_helpers import P, wait_for_status


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body: dict[str, str] = response.json()
    assert body["error_code"] == code
    assert body["error_msg"]
    assert len(response.headers["X-Request-Id"]) == 32
    return body


# --- list -------------------------------------------------------------------------------------


def test_list_shape_and_paging(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    ids = simulator.admin.create_tasks(5)
    response = dcs.get(f"{P}/migration-tasks", params={"offset": 1, "limit": 3})
    assert response.status_code == 200
    assert len(response.headers["X-Request-Id"]) == 32
    body = ListMigrationTasksResponse.model_validate(response.json())
    assert body.count == 5
    assert [t.task_id for t in body.migration_tasks] == ids[1:4]  # creation order
    item = response.json()["migration_tasks"][0]
    assert item["status"] == "INCRMIGEATING"
    assert item["migration_type"] == "online_migration"
    assert item["created_at"].endswith("Z")


def test_list_default_limit_is_10(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.create_tasks(12)
    body = dcs.get(f"{P}/migration-tasks").json()
    assert body["count"] == 12 and len(body["migration_tasks"]) == 10


def test_list_name_is_substring_match(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    simulator.admin.create_tasks(2, name_prefix="alpha")
    simulator.admin.create_tasks(3, name_prefix="beta")
    body = dcs.get(f"{P}/migration-tasks", params={"name": "eta", "limit": 100}).json()
    assert body["count"] == 3
    assert all("beta" in t["task_name"] for t in body["migration_tasks"])


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"offset": -1}, {"offset": "1.5"}]
)
def test_list_invalid_parameters(dcs: httpx.Client, params: dict[str, str | int]) -> None:
    assert_error(dcs.get(f"{P}/migration-tasks", params=params), 400, "DCS.4063")


def test_list_hides_deleted(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    ids = simulator.admin.create_tasks(3)
    simulator.admin.delete_task(ids[1])
    body = dcs.get(f"{P}/migration-tasks").json()
    assert body["count"] == 2
    assert ids[1] not in [t["task_id"] for t in body["migration_tasks"]]


# --- details ------------------------------------------------------------------------------------


def test_details_shape(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1)
    response = dcs.get(f"{P}/migration-task/{task_id}")
    assert response.status_code == 200
    task = MigrationTask.model_validate(response.json())
    assert task.task_id == task_id and task.status == "INCRMIGEATING"
    assert task.source_instance is not None and task.target_instance is not None
    assert "/" in (task.created_at or "")  # the details call's 2019/10/22 14:44:30 format


@pytest.mark.parametrize("bad", ["bad%20id", "a.b", "%2Fx", "-leading-dash", "x" * 65])
def test_details_malformed_id_is_4133(dcs: httpx.Client, bad: str) -> None:
    assert_error(dcs.get(f"{P}/migration-task/{bad}"), 400, "DCS.4133")


def test_details_unknown_id_is_4133(dcs: httpx.Client) -> None:
    body = assert_error(dcs.get(f"{P}/migration-task/{uuid.uuid4()}"), 400, "DCS.4133")
    assert body["error_msg"] == "Instance job is not found."
    assert "request_id" not in body  # service errors carry no request_id; gateway errors do


# --- stop ---------------------------------------------------------------------------------------


def test_batch_stop_mixed_results(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    ids = simulator.admin.create_tasks(2)
    unknown = uuid.uuid4().hex
    response = dcs.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": [*ids, unknown]})
    assert response.status_code == 200
    items = {
        i.task_id: i for i in BatchResultResponse.model_validate(response.json()).migration_tasks
    }
    assert items[ids[0]].succeeded and items[ids[1]].succeeded
    assert not items[unknown].succeeded
    assert (items[unknown].error_code, items[unknown].error_msg) == (
        "DCS.4133",
        "Instance job is not found.",
    )
    # the 0.05 s stop delay may already have run out: TERMINATING or TERMINATED, stop recorded
    assert dcs.get(f"{P}/migration-task/{ids[0]}").json()["status"] in ("TERMINATING", "TERMINATED")
    assert simulator.admin.task(ids[0])["stop_requested_at"] is not None


@pytest.mark.parametrize("bad", ["", "a/b", "x y", "é", "a?b"])
def test_batch_stop_malformed_id_rejects_whole_request(
    simulator: RunningSimulator, dcs: httpx.Client, bad: str
) -> None:
    [good] = simulator.admin.create_tasks(1)
    response = dcs.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": [good, bad]})
    body = assert_error(response, 400, "DCS.4855")
    assert body["error_msg"] == "invalid migration task id in the request."
    assert simulator.admin.task(good)["status"] == "INCRMIGEATING"  # nothing was stopped


def test_empty_body_is_4004_and_non_json_is_4005(dcs: httpx.Client) -> None:
    url = f"{P}/migration-task/batch-stop"
    assert_error(dcs.post(url), 400, "DCS.4004")
    assert_error(dcs.post(url, content=b"   "), 400, "DCS.4004")
    assert_error(dcs.post(url, content=b"{not json"), 400, "DCS.4005")
    assert_error(dcs.post(url, content=b"\xff\xfe"), 400, "DCS.4005")


@pytest.mark.parametrize(
    "body", [{}, {"migration_tasks": []}, {"migration_tasks": "abc"}, {"migration_tasks": [1]}, []]
)
def test_batch_stop_bad_shape_is_4063(dcs: httpx.Client, body: object) -> None:
    assert_error(dcs.post(f"{P}/migration-task/batch-stop", json=body), 400, "DCS.4063")


def test_single_stop_returns_details_terminating(
    simulator: RunningSimulator, dcs: httpx.Client
) -> None:
    [task_id] = simulator.admin.create_tasks(1)
    response = dcs.post(f"{P}/migration-task/{task_id}/stop")
    assert response.status_code == 200
    assert MigrationTask.model_validate(response.json()).status == "TERMINATING"
    wait_for_status(dcs, task_id, "TERMINATED")


def test_single_stop_unknown_and_malformed(dcs: httpx.Client) -> None:
    assert_error(dcs.post(f"{P}/migration-task/{uuid.uuid4()}/stop"), 400, "DCS.4133")
    assert_error(dcs.post(f"{P}/migration-task/bad.id/stop"), 400, "DCS.4133")
    assert_error(dcs.post(f"{P}/migration-task/{uuid.uuid4()}/sync-stop"), 400, "DCS.4133")


def test_sync_stop_is_204(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1)
    response = dcs.post(f"{P}/migration-task/{task_id}/sync-stop")
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["X-Request-Id"]
    assert simulator.admin.task(task_id)["status"] in ("TERMINATING", "TERMINATED")


# --- delete / restart ---------------------------------------------------------------------------


def test_delete_echoes_and_hides(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    ids = simulator.admin.create_tasks(2, status="TERMINATED")
    response = dcs.request("DELETE", f"{P}/migration-tasks/delete", json={"task_id_list": ids})
    assert response.status_code == 200
    assert response.json() == {"task_id_list": ids}
    assert dcs.get(f"{P}/migration-tasks").json()["count"] == 0
    assert_error(dcs.get(f"{P}/migration-task/{ids[0]}"), 400, "DCS.4133")
    assert simulator.admin.task(ids[0])["deleted"] is True


def test_delete_errors(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    url = f"{P}/migration-tasks/delete"
    assert_error(dcs.request("DELETE", url), 400, "DCS.4004")
    assert_error(dcs.request("DELETE", url, json={"task_id_list": ["a/b"]}), 400, "DCS.4855")
    unknown = {"task_id_list": [str(uuid.uuid4())]}
    assert_error(dcs.request("DELETE", url, json=unknown), 400, "DCS.4133")
    [running] = simulator.admin.create_tasks(1)
    assert_error(dcs.request("DELETE", url, json={"task_id_list": [running]}), 400, "DCS.4026")


def test_batch_restart(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [stopped] = simulator.admin.create_tasks(1, status="TERMINATED")
    [running] = simulator.admin.create_tasks(1)
    [backup] = simulator.admin.create_tasks(
        1, status="TERMINATED", migration_type="backupfile_import"
    )
    unknown = str(uuid.uuid4())
    response = dcs.post(
        f"{P}/migration-tasks/batch-restart",
        json={"migration_tasks": [stopped, running, backup, unknown]},
    )
    assert response.status_code == 200
    items = {
        i.task_id: i for i in BatchResultResponse.model_validate(response.json()).migration_tasks
    }
    assert items[stopped].succeeded
    assert items[running].error_code == "DCS.4026"
    assert items[backup].error_code == "DCS.4026"
    assert items[unknown].error_code == "DCS.4133"
    view = simulator.admin.task(stopped)
    assert view["status"] == "INCRMIGEATING"
    assert view["stop_requested_at"] is None and view["terminated_at"] is None


def test_batch_restart_limits(dcs: httpx.Client) -> None:
    url = f"{P}/migration-tasks/batch-restart"
    too_many = [uuid.uuid4().hex for _ in range(51)]
    assert_error(dcs.post(url, json={"migration_tasks": too_many}), 400, "DCS.4100")
    assert_error(dcs.post(url, json={"migration_tasks": ["a b"]}), 400, "DCS.4855")
    fifty = dcs.post(url, json={"migration_tasks": too_many[:50]})
    assert fifty.status_code == 200 and len(fifty.json()["migration_tasks"]) == 50


# --- create -------------------------------------------------------------------------------------


def test_online_create_then_configure(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    step1 = dcs.post(
        f"{P}/migration/instance",
        json={"name": "mig-1", "vpc_id": "vpc", "subnet_id": "sub", "security_group_id": "sg"},
    )
    assert step1.status_code == 200
    task_id = step1.json()["instance_id"]
    assert dcs.get(f"{P}/migration-task/{task_id}").json()["status"] == "CREATING"
    wait_for_status(dcs, task_id, "RUNNING")
    step2 = dcs.post(
        f"{P}/migration/{task_id}/task",
        json={
            "migration_method": "incremental_migration",
            "resume_mode": "auto",
            "bandwidth_limit_mb": 100,
            "source_instance": {"addrs": "10.0.0.1:6379", "password": "pw"},
            "target_instance": {"id": "target-id"},
        },
    )
    assert step2.status_code == 200
    created = TaskCreatedResponse.model_validate(step2.json())
    assert (created.id, created.name, created.status) == (task_id, "mig-1", "INCRMIGEATING")
    details = dcs.get(f"{P}/migration-task/{task_id}").json()
    assert details["resume_mode"] == "auto" and details["bandwidth_limit_mb"] == "100"
    assert details["source_instance"]["addrs"] == "10.0.0.1:6379"


def test_configure_full_amount_and_errors(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    body = {"name": "m", "vpc_id": "v", "security_group_id": "s"}
    task_id = dcs.post(f"{P}/migration/instance", json=body).json()["instance_id"]
    config = {"migration_method": "full_amount_migration", "source_instance": {"id": "src"}}
    assert (
        dcs.post(f"{P}/migration/{task_id}/task", json=config).json()["status"] == "FULLMIGRATING"
    )
    # configuring a task that already runs is refused
    assert_error(dcs.post(f"{P}/migration/{task_id}/task", json=config), 400, "DCS.4026")
    bad_method = {**config, "migration_method": "nope"}
    assert_error(dcs.post(f"{P}/migration/{task_id}/task", json=bad_method), 400, "DCS.4063")
    no_source = {"migration_method": "full_amount_migration"}
    assert_error(dcs.post(f"{P}/migration/{task_id}/task", json=no_source), 400, "DCS.4063")
    unknown = f"{P}/migration/{uuid.uuid4()}/task"
    assert_error(dcs.post(unknown, json=config), 400, "DCS.4133")
    assert_error(dcs.post(f"{P}/migration/instance", json={"name": "x"}), 400, "DCS.4063")


def test_create_task_backup_import_and_online(dcs: httpx.Client) -> None:
    backup = {
        "task_name": "imp",
        "migration_type": "backupfile_import",
        "migration_method": "full_amount_migration",
        "backup_files": {
            "file_source": "self_build_obs",
            "bucket_name": "b",
            "files": [{"file_name": "dump.rdb"}],
        },
        "target_instance": {"id": "tgt"},
    }
    created = dcs.post(f"{P}/migration-task", json=backup)
    assert created.status_code == 200
    assert created.json()["status"] == "MIGRATING"
    online = {
        "task_name": "on",
        "migration_type": "online_migration",
        "migration_method": "incremental_migration",
        "source_instance": {"addrs": "10.0.0.2:6379"},
        "target_instance": {"id": "tgt"},
    }
    assert dcs.post(f"{P}/migration-task", json=online).json()["status"] == "INCRMIGEATING"
    listed = dcs.get(f"{P}/migration-tasks").json()["migration_tasks"]
    assert listed[0]["data_source"] == "b" and listed[1]["data_source"] == "10.0.0.2:6379"
    missing = {k: v for k, v in backup.items() if k != "backup_files"}
    assert_error(dcs.post(f"{P}/migration-task", json=missing), 400, "DCS.4063")
    bad_type = {**backup, "migration_type": "x"}
    assert_error(dcs.post(f"{P}/migration-task", json=bad_type), 400, "DCS.4063")


# --- stats / logs -------------------------------------------------------------------------------


def test_stats_and_logs(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    [task_id] = simulator.admin.create_tasks(1)
    stats = dcs.get(f"{P}/migration-task/{task_id}/stats").json()
    assert stats["is_migrating"] is True
    assert set(stats) >= {"full_migration_progress", "offset", "source_dbsize", "target_ops"}
    dcs.post(f"{P}/migration-task/{task_id}/stop")
    wait_for_status(dcs, task_id, "TERMINATED")
    logs = dcs.get(f"{P}/migration-task/{task_id}/logs", params={"limit": 2}).json()
    assert logs["log_num"] == 3 and len(logs["migration_logs"]) == 2
    assert logs["migration_logs"][0]["message"] == "migration task created"
    assert dcs.get(f"{P}/migration-task/{task_id}/stats").json()["is_migrating"] is False
    assert_error(dcs.get(f"{P}/migration-task/{uuid.uuid4()}/stats"), 400, "DCS.4133")
    assert_error(dcs.get(f"{P}/migration-task/{uuid.uuid4()}/logs"), 400, "DCS.4133")


# --- routing ------------------------------------------------------------------------------------


def test_unknown_route_404_and_wrong_method_405(dcs: httpx.Client) -> None:
    assert_error(dcs.get(f"{P}/no-such-thing"), 404, "DCS.4001")
    assert_error(dcs.get("/v3/whatever"), 404, "DCS.4001")
    assert_error(dcs.get(f"{P}/migration-tasks/"), 404, "DCS.4001")  # no trailing-slash alias
    assert_error(dcs.delete(f"{P}/migration-tasks"), 405, "DCS.5001")
    assert_error(dcs.get(f"{P}/migration-tasks/delete"), 405, "DCS.5001")


def test_wrong_project_is_4002(dcs: httpx.Client) -> None:
    other = uuid.uuid4().hex
    assert_error(dcs.get(f"/v2/{other}/migration-tasks"), 400, "DCS.4002")
