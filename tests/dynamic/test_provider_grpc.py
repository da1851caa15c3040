"""The dynamic provider's wire behaviour, driven over gRPC as the engine drives it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import UNKNOWN_TASK_ID as UNKNOWN
from pulumi_dcs_migration.resource import MigrationTasksStoppedProvider

from .grpc_harness import ProviderProcess, from_struct


@pytest.fixture
def provider(simulator: RunningSimulator) -> Iterator[ProviderProcess]:
    # Credentials reach the provider through Configure (stack config), as with the CLI.
    proc = ProviderProcess({"HW_ACCESS_KEY": "", "HW_SECRET_KEY": ""})
    cfg = simulator.config
    proc.configure(
        {
            "dcs:accessKey": cfg.access_key,
            "dcs:secretKey": cfg.secret_key,
            "dcs:endpoint": simulator.url,
            "dcs:projectId": cfg.project_id,
        }
    )
    yield proc
    proc.close()


def test_check_fills_defaults_and_rejects_bad_input(
    provider: ProviderProcess, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(2)
    inputs, failures = provider.check({"task_ids": ids})
    assert failures == []
    assert (
        inputs["endpoint"] == simulator.url and inputs["project_id"] == simulator.config.project_id
    )
    assert inputs["timeout_seconds"] == 1800 and inputs["on_finished"] == "warn"

    _, failures = provider.check(
        {"task_ids": [ids[0], "../etc", ids[0]], "bogus": 1, "timeout_seconds": -5}
    )
    reasons = dict.fromkeys(p for p, _ in failures)
    assert set(reasons) == {"bogus", "task_ids", "timeout_seconds"}
    text = " ".join(r for _, r in failures)
    assert "'../etc' is not a valid task id" in text

    # a repeated id is dropped (a list built as a + b may repeat one), not a failure
    inputs, failures = provider.check({"task_ids": [ids[0], ids[1], ids[0]]})
    assert failures == [] and inputs["task_ids"] == ids

    _, failures = provider.check({"task_ids": []})
    assert failures == [("task_ids", "task_ids is empty: give at least one migration task id")]


def test_check_names_a_task_that_does_not_exist(
    provider: ProviderProcess, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(1)
    _, failures = provider.check({"task_ids": [*ids, UNKNOWN]})
    assert (
        failures
        and failures[0][0] == "task_ids"
        and UNKNOWN in failures[0][1]
        and "does not exist" in failures[0][1]
    )


def test_diff_is_set_based_and_replaces_on_location(provider: ProviderProcess) -> None:
    a, b, c = (f"{i:032x}" for i in range(3))
    olds = {
        "task_ids": [a, b],
        "project_id": "0" * 32,
        "endpoint": "http://127.0.0.1:1",
        "tasks": [],
    }
    same = provider.diff(olds, {**olds, "task_ids": [b, a]})
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE
    added = provider.diff(olds, {**olds, "task_ids": [a, b, c]})
    assert added.changes == provider_pb2.DiffResponse.DIFF_SOME and not added.replaces
    moved = provider.diff(olds, {**olds, "project_id": "1" * 32})
    assert list(moved.replaces) == ["project_id"]
    drift = provider.diff({**olds, "tasks": [{"task_id": a, "status": "INCRMIGEATING"}]}, olds)
    assert drift.changes == provider_pb2.DiffResponse.DIFF_SOME and not drift.replaces


def test_create_read_update_delete(provider: ProviderProcess, simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(3)
    inputs, _ = provider.check({"task_ids": ids[:2]})
    id_, outs = provider.create(inputs)
    assert sorted(outs["terminated_ids"]) == sorted(ids[:2])
    assert {t["outcome"] for t in outs["tasks"]} == {"stopped"}
    assert all(t["observed_at"] and t["name"] for t in outs["tasks"])

    simulator.admin.set_status(ids[0], "INCRMIGEATING")  # restarted behind Pulumi's back
    read = provider.read(id_, outs)
    refreshed = from_struct(read.properties)
    assert {t["task_id"]: t["status"] for t in refreshed["tasks"]}[ids[0]] == "INCRMIGEATING"
    assert from_struct(read.inputs)["task_ids"] == ids[:2]  # inputs come back: no false drift
    assert "tasks" not in from_struct(read.inputs)

    simulator.admin.reset_counters()
    news, _ = provider.check({"task_ids": ids})
    updated = provider.update(refreshed, news)
    assert sorted(updated["terminated_ids"]) == sorted(ids)
    assert simulator.admin.task(ids[0])["status"] == "TERMINATED"
    # only the restarted task and the new one were stopped
    stopped_now = {t["task_id"] for t in updated["tasks"] if t["outcome"] == "stopped"}
    assert stopped_now == set(ids)
    assert simulator.admin.counters()["batch_stop"] == 1

    simulator.admin.reset_counters()
    provider.delete(id_, updated)
    assert simulator.admin.counters().get("delete", 0) == 0
    assert all(simulator.admin.task(t)["status"] == "TERMINATED" for t in ids)


def test_create_timeout_lists_unfinished_tasks(
    provider: ProviderProcess, simulator: RunningSimulator
) -> None:
    stuck = simulator.admin.create_tasks(1, stop_delay=float("inf"))
    fine = simulator.admin.create_tasks(1)
    inputs, _ = provider.check({"task_ids": stuck + fine, "timeout_seconds": 1.0})
    with pytest.raises(grpc.RpcError) as info:
        provider.create(inputs)
    details = info.value.details()
    assert details is not None
    assert "1 of 2 task(s) are not stopped" in details and stuck[0] in details
    assert "TERMINATING" in details and "timed_out" in details and "rerun" in details


def test_strict_finished_is_an_error_default_is_a_warning(
    provider: ProviderProcess, simulator: RunningSimulator
) -> None:
    done = simulator.admin.create_tasks(1, status="SUCCESS")
    inputs, _ = provider.check({"task_ids": done})
    _, outs = provider.create(inputs)
    assert (
        outs["tasks"][0]["outcome"] == "finished_before_stop"
        and outs["tasks"][0]["status"] == "SUCCESS"
    )
    strict, _ = provider.check({"task_ids": done, "on_finished": "fail"})
    with pytest.raises(grpc.RpcError, match="finished_before_stop"):
        provider.create(strict)


def test_delete_records_when_asked(provider: ProviderProcess, simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(2)
    inputs, _ = provider.check({"task_ids": ids, "delete_records_on_destroy": True})
    id_, outs = provider.create(inputs)
    provider.delete(id_, outs)
    assert all(simulator.admin.task(t)["deleted"] for t in ids)


def test_wrong_credentials_fail_with_a_clear_401(simulator: RunningSimulator) -> None:
    proc = ProviderProcess({})
    cfg = simulator.config
    proc.configure(
        {
            "dcs:accessKey": cfg.access_key,
            "dcs:secretKey": "not-the-secret",
            "dcs:endpoint": simulator.url,
            "dcs:projectId": cfg.project_id,
        }
    )
    try:
        _, failures = proc.check({"task_ids": simulator.admin.create_tasks(1)})
        assert failures and "401" in failures[0][1] and "APIGW.0301" in failures[0][1]
        assert "not-the-secret" not in failures[0][1]
    finally:
        proc.close()


def test_a_missing_ca_bundle_fails_check_naming_it(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    proc = ProviderProcess({"HW_ACCESS_KEY": "", "HW_SECRET_KEY": ""})
    cfg = simulator.config
    proc.configure(
        {
            "dcs:accessKey": cfg.access_key,
            "dcs:secretKey": cfg.secret_key,
            "dcs:endpoint": simulator.url,
            "dcs:projectId": cfg.project_id,
            "dcs:caBundle": str(missing),
        }
    )
    try:
        _, failures = proc.check({"task_ids": simulator.admin.create_tasks(1)})
        assert failures, "preview passed although no request could be made"
        assert "dcs:caBundle" in failures[0][1] and str(missing) in failures[0][1]
    finally:
        proc.close()


def test_two_resources_with_as_many_tasks_get_ids_of_their_own(
    simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ID is the plugin's scheme: a digest of what names the resource and its tasks."""
    cfg = simulator.config
    env = {
        "HW_ACCESS_KEY": cfg.access_key,
        "HW_SECRET_KEY": cfg.secret_key,
        "HW_DCS_ENDPOINT": simulator.url,
        "HW_PROJECT_ID": cfg.project_id,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ids = simulator.admin.create_tasks(4)
    made = []
    for name, tasks in (("first", ids[:2]), ("second", ids[2:])):
        dynamic = MigrationTasksStoppedProvider(name, f"project/dev/{name}")
        checked = dynamic.check({}, {"task_ids": tasks})
        made.append(dynamic.create(checked.inputs).id)
    assert made[0] != made[1]
    assert all(re.fullmatch(rf"{cfg.project_id}/[0-9a-f]{{12}}", i) for i in made)
