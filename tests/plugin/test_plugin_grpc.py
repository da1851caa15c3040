"""The provider plugin's wire behaviour, driven over gRPC as the engine drives it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import UNKNOWN_TASK_ID, poll_until

from .harness import PLUGIN, TYPE, URN, PluginProcess, plugin, struct

CLEAN_ENV = {
    "HW_ACCESS_KEY": "",
    "HW_SECRET_KEY": "",
    "HW_PROJECT_ID": "",
    "HW_REGION_NAME": "",
    "HW_DCS_ENDPOINT": "",
}


@pytest.fixture
def provider(simulator: RunningSimulator) -> Iterator[PluginProcess]:
    """The plugin configured like a stack would: provider config with secret credentials."""
    cfg = simulator.config
    with plugin(CLEAN_ENV) as proc:
        proc.configure(
            {
                "accessKey": cfg.access_key,
                "secretKey": cfg.secret_key,
                "endpoint": simulator.url,
                "projectId": cfg.project_id,
            }
        )
        yield proc


def test_schema_describes_the_resource_and_the_config() -> None:
    with plugin(CLEAN_ENV) as proc:
        schema = json.loads(proc.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0)).schema)
    resource = schema["resources"][TYPE]
    assert resource["requiredInputs"] == ["taskIds"]
    assert set(resource["inputProperties"]) == {
        "taskIds",
        "projectId",
        "region",
        "endpoint",
        "timeoutSeconds",
        "onFinished",
        "deleteRecordsOnDestroy",
        "maxOffset",
        "syncTimeoutSeconds",
        "maxKeyDifference",
    }
    assert {"tasks", "terminatedIds"} <= set(resource["properties"])
    task = schema["types"]["dcs-migration:index:TaskResult"]["properties"]
    assert set(task) == {
        "taskId",
        "name",
        "status",
        "outcome",
        "observedAt",
        "offset",
        "sourceKeys",
        "targetKeys",
    }
    secret = {k for k, v in schema["config"]["variables"].items() if v.get("secret")}
    assert secret == {"accessKey", "secretKey", "securityToken"}
    documented = [
        *resource["inputProperties"].values(),
        *resource["properties"].values(),
        *task.values(),
        *schema["config"]["variables"].values(),
    ]
    assert all(p.get("description") for p in documented)


def test_check_fills_defaults_and_names_bad_fields_in_camel_case(
    provider: PluginProcess, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(2)
    inputs, failures = provider.check({"taskIds": [ids[0], ids[1], ids[0]]})
    assert failures == []
    assert inputs["taskIds"] == ids  # the repeated id is dropped, with a warning on the row
    assert inputs["endpoint"] == simulator.url
    assert inputs["projectId"] == simulator.config.project_id
    assert inputs["timeoutSeconds"] == 1800 and inputs["onFinished"] == "warn"
    assert any("taskIds[2] repeats taskIds[0]" in m for m in provider.engine.messages())
    assert any(
        m.startswith("2 of 2 task(s) running now")
        for m in provider.engine.messages(ephemeral=False)
    )

    _, failures = provider.check({"taskIds": [ids[0], "../etc"], "bogus": 1, "timeoutSeconds": -5})
    assert {p for p, _ in failures} == {"bogus", "taskIds", "timeoutSeconds"}
    text = " ".join(r for _, r in failures)
    assert "taskIds[1] = '../etc' is not a valid task id" in text
    assert "timeoutSeconds must be a number of seconds" in text
    _, failures = provider.check({"taskIds": []})
    assert failures == [("taskIds", "taskIds is empty: give at least one migration task id")]


def test_check_refuses_the_key_check_without_the_guard_naming_both(
    provider: PluginProcess, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(1)
    _, failures = provider.check({"taskIds": ids, "maxKeyDifference": 0})
    assert [p for p, _ in failures] == ["maxKeyDifference"]
    assert "maxKeyDifference needs maxOffset" in failures[0][1]
    inputs, failures = provider.check({"taskIds": ids, "maxOffset": 0, "maxKeyDifference": 0})
    assert failures == [] and inputs["maxKeyDifference"] == 0
    assert any(
        f"{ids[0]} (INCRMIGEATING, lag 0, key difference 0)" in m
        for m in provider.engine.messages(ephemeral=False)
    )


def test_check_names_a_task_that_does_not_exist(
    provider: PluginProcess, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(1)
    _, failures = provider.check({"taskIds": [*ids, UNKNOWN_TASK_ID]})
    assert len(failures) == 1 and failures[0][0] == "taskIds"
    assert UNKNOWN_TASK_ID in failures[0][1] and "does not exist" in failures[0][1]


def test_missing_project_names_where_to_set_it(simulator: RunningSimulator) -> None:
    with plugin(CLEAN_ENV) as proc:
        proc.configure({"endpoint": simulator.url})
        _, failures = proc.check({"taskIds": [UNKNOWN_TASK_ID]})
    assert failures and failures[0][0] == "projectId"
    assert "dcs-migration:projectId" in failures[0][1] and "HW_PROJECT_ID" in failures[0][1]


def test_detailed_diff_names_ids_replacements_and_tasks_running_again(
    provider: PluginProcess,
) -> None:
    a, b, c = (f"{i:032x}" for i in range(3))
    olds = {
        "taskIds": [a, b],
        "projectId": "0" * 32,
        "endpoint": "http://127.0.0.1:1",
        "timeoutSeconds": 1800,
        "onFinished": "warn",
        "deleteRecordsOnDestroy": False,
        "tasks": [{"taskId": a, "status": "TERMINATED"}, {"taskId": b, "status": "TERMINATED"}],
    }
    news = {k: v for k, v in olds.items() if k != "tasks"}
    same = provider.diff(olds, {**news, "taskIds": [b, a]})
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE

    added = provider.diff(olds, {**news, "taskIds": [a, b, c]})
    assert added.changes == provider_pb2.DiffResponse.DIFF_SOME and not added.replaces
    assert dict(added.detailedDiff)["taskIds[2]"].kind == provider_pb2.PropertyDiff.ADD

    removed = provider.diff(olds, {**news, "taskIds": [b]})
    assert dict(removed.detailedDiff)["taskIds[0]"].kind == provider_pb2.PropertyDiff.DELETE

    moved = provider.diff(olds, {**news, "projectId": "1" * 32})
    assert list(moved.replaces) == ["projectId"]
    assert dict(moved.detailedDiff)["projectId"].kind == provider_pb2.PropertyDiff.UPDATE_REPLACE

    running = {
        **olds,
        "tasks": [{"taskId": a, "status": "TERMINATED"}, {"taskId": b, "status": "INCRMIGEATING"}],
    }
    drift = provider.diff(running, news)
    assert drift.changes == provider_pb2.DiffResponse.DIFF_SOME and not drift.replaces
    assert dict(drift.detailedDiff)["taskIds[1]"].kind == provider_pb2.PropertyDiff.UPDATE
    assert any(
        f"running again since the last stop; up will stop: {b}" in m
        for m in provider.engine.messages()
    )


def test_create_read_update_delete_and_status_lines(
    provider: PluginProcess, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(3)
    inputs, _ = provider.check({"taskIds": ids[:2]})
    resource_id, outs = provider.create(inputs)
    assert re.fullmatch(rf"{simulator.config.project_id}/[0-9a-f]{{12}}", resource_id)
    assert sorted(outs["terminatedIds"]) == sorted(ids[:2])
    assert {t["outcome"] for t in outs["tasks"]} == {"stopped"}
    assert all(t["observedAt"] and t["name"] for t in outs["tasks"])
    status = provider.engine.messages(ephemeral=True)
    assert any(
        re.fullmatch(r"stopping: \d/2 TERMINATED, waiting for \d \(.+\)", m) for m in status
    ), status
    assert "stopping: 2/2 TERMINATED" in status
    assert all(line.urn == URN for line in provider.engine.lines)

    simulator.admin.set_status(ids[0], "INCRMIGEATING")  # restarted behind Pulumi's back
    same_id, refreshed, read_inputs = provider.read(resource_id, outs, inputs)
    assert same_id == resource_id
    assert {t["taskId"]: t["status"] for t in refreshed["tasks"]}[ids[0]] == "INCRMIGEATING"
    assert read_inputs["taskIds"] == ids[:2] and "tasks" not in read_inputs

    simulator.admin.reset_counters()
    news, _ = provider.check({"taskIds": ids})
    updated = provider.update(refreshed, news)
    assert sorted(updated["terminatedIds"]) == sorted(ids)
    assert simulator.admin.counters()["batch_stop"] == 1  # the restarted task and the new one

    simulator.admin.reset_counters()
    provider.delete(resource_id, updated)
    assert simulator.admin.counters().get("delete", 0) == 0
    assert all(simulator.admin.task(t)["status"] == "TERMINATED" for t in ids)


def test_custom_timeout_bounds_the_wait_and_names_the_task(
    provider: PluginProcess, simulator: RunningSimulator
) -> None:
    stuck = simulator.admin.create_tasks(1, stop_delay="never")
    done = simulator.admin.create_tasks(1)
    inputs, _ = provider.check({"taskIds": [*stuck, *done]})
    with pytest.raises(grpc.RpcError) as info:
        provider.create(inputs, timeout=1.0)  # customTimeouts: {create: 1s}
    message = info.value.details() or ""
    assert f"{stuck[0]} (task-0) status TERMINATING, timed_out" in message
    assert done[0] not in message.split("To fix")[0]
    assert "customTimeouts" in message and "Traceback" not in message


def test_cancel_ends_the_wait_and_reports_accepted_stops(
    provider: PluginProcess, simulator: RunningSimulator
) -> None:
    stuck = simulator.admin.create_tasks(2, stop_delay="never")
    inputs, _ = provider.check({"taskIds": stuck})
    failure: list[BaseException] = []

    def create() -> None:
        try:
            provider.create(inputs)
        except grpc.RpcError as exc:
            failure.append(exc)

    thread = threading.Thread(target=create)
    thread.start()
    provider.engine.seen_status.wait(30)
    poll_until(
        lambda: simulator.admin.counters().get("batch_stop", 0), lambda n: n > 0, what="a stop"
    )
    provider.cancel()
    thread.join(30)
    assert not thread.is_alive() and failure
    details = failure[0].details()  # type: ignore[attr-defined]
    assert details.startswith("cancelled: 2 of 2 task(s) are not stopped")
    # as it stands: the stops were accepted (the status is the last one seen)
    assert all(
        re.search(rf"{t} \(task-{n}\) status \w+, stop_requested", details)
        for n, t in enumerate(stuck)
    )


def test_import_adopts_tasks_from_a_comma_separated_id(
    provider: PluginProcess, simulator: RunningSimulator
) -> None:
    stopped = simulator.admin.create_tasks(2, status="TERMINATED")
    resource_id, outs, inputs = provider.read(",".join(stopped), {}, {})
    assert re.fullmatch(rf"{simulator.config.project_id}/[0-9a-f]{{12}}", resource_id)
    assert inputs["taskIds"] == stopped and inputs["projectId"] == simulator.config.project_id
    assert outs["terminatedIds"] == stopped
    assert {t["outcome"] for t in outs["tasks"]} == {"already_terminated"}
    with pytest.raises(grpc.RpcError) as info:
        provider.read(f"{stopped[0]},{UNKNOWN_TASK_ID}", {}, {})
    details = info.value.details() or ""
    assert "does not exist" in details and UNKNOWN_TASK_ID in details


def test_delete_records_when_asked(provider: PluginProcess, simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(2, status="TERMINATED")
    inputs, _ = provider.check({"taskIds": ids, "deleteRecordsOnDestroy": True})
    resource_id, outs = provider.create(inputs)
    provider.delete(resource_id, outs)
    assert simulator.admin.counters()["delete"] == 1
    assert all(simulator.admin.task(t)["deleted"] for t in ids)


def test_wrong_credentials_fail_with_a_clear_401(simulator: RunningSimulator) -> None:
    wrong = "not-the-secret-key-0123456789"
    with plugin(CLEAN_ENV) as proc:
        proc.configure(
            {
                "accessKey": simulator.config.access_key,
                "secretKey": wrong,
                "endpoint": simulator.url,
                "projectId": simulator.config.project_id,
            }
        )
        _, failures = proc.check({"taskIds": simulator.admin.create_tasks(1)})
    text = " ".join(r for _, r in failures)
    assert "401" in text and "APIGW.0301" in text and "dcs-migration:secretKey" in text
    assert wrong not in text


def test_bad_provider_config_is_refused_naming_the_key() -> None:
    with plugin(CLEAN_ENV) as proc:
        resp = proc.stub.CheckConfig(
            provider_pb2.CheckRequest(
                urn="urn:pulumi:test::p::pulumi:providers:dcs-migration::default",
                news=struct({"insecureSkipVerify": "banana", "regoin": "cn-north-4"}),
            )
        )
    failures = {f.property: f.reason for f in resp.failures}
    assert set(failures) == {"insecureSkipVerify", "regoin"}
    assert "must be true or false" in failures["insecureSkipVerify"]


def test_the_plugin_exits_when_the_cli_that_started_it_is_killed(tmp_path: Path) -> None:
    # A stand-in for the pulumi CLI: it starts the plugin, says its pid, and waits forever.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            f"child = subprocess.Popen([{str(PLUGIN)!r}], stdout=subprocess.PIPE, text=True)\n"
            "child.stdout.readline()\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **CLEAN_ENV},
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()  # SIGKILL: the CLI has no chance to stop its plugins
    parent.wait()
    poll_until(lambda: _alive(child), lambda alive: not alive, timeout=15, what="plugin exit")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" not in status.read()
    except FileNotFoundError:
        return False
