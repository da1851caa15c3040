"""``dcs-migration`` end to end: the installed console script against an in-process simulator."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing.api import ConfigInstance, CreateTaskBody, api_client, create_task

from ..conftest import SimulatorFactory
from .helpers import SCRIPT, clean_env, requests_made, run, sim_env

# --- list -----------------------------------------------------------------------------------


def test_list_reads_every_page(simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(1100)
    simulator.admin.reset_counters()
    result = run(simulator, "list", "--json")
    assert result.code == 0, result.err
    listed = [t["task_id"] for t in result.json()]
    assert listed == ids
    assert simulator.admin.counters()["list"] == 2  # 1000 + 100


def test_list_status_filter_is_case_insensitive_and_repeatable(
    simulator: RunningSimulator,
) -> None:
    ids = simulator.admin.create_tasks(5)
    for task_id in ids[:2]:
        simulator.admin.set_status(task_id, "TERMINATED")
    result = run(simulator, "list", "--status", "terminated", "--json")
    assert result.code == 0, result.err
    assert sorted(t["task_id"] for t in result.json()) == sorted(ids[:2])
    both = run(simulator, "list", "--status", "Terminated", "--status", "incrmigrating", "--json")
    assert len(both.json()) == 5  # the docs' spelling matches the API's INCRMIGEATING
    commas = run(simulator, "list", "--status", "TERMINATED,FAILED", "--json")
    assert len(commas.json()) == 2


def test_list_name_filter_goes_to_the_api_and_table_shows_tasks(
    simulator: RunningSimulator,
) -> None:
    alpha = simulator.admin.create_tasks(2, name_prefix="alpha")
    simulator.admin.create_tasks(3, name_prefix="beta")
    result = run(simulator, "list", "--name", "alpha", "--json")
    assert result.code == 0, result.err
    assert [t["task_id"] for t in result.json()] == alpha
    table = run(simulator, "list", "--name", "alpha")
    assert table.code == 0
    for task_id in alpha:
        assert task_id in table.out  # ids are never cut, even when piped
    assert "INCRMIGEATING" in table.out and "2 task(s)" in table.out


# --- show -----------------------------------------------------------------------------------


def _task_with_passwords(sim: RunningSimulator) -> str:
    body = CreateTaskBody(
        task_name="with-passwords",
        migration_type="online_migration",
        source_instance=ConfigInstance(addrs="10.0.0.1:6379", password="src-pass-0001"),
        target_instance=ConfigInstance(id=str(uuid.uuid4()), password="tgt-pass-0002"),
    )
    with api_client(sim) as http:
        return create_task(http, body).id


def test_show_masks_passwords_in_json_and_table(simulator: RunningSimulator) -> None:
    task_id = _task_with_passwords(simulator)
    result = run(simulator, "show", task_id, "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["task_id"] == task_id and data["task_name"] == "with-passwords"
    assert data["source_instance"]["password"] == "********"
    assert data["target_instance"]["password"] == "********"
    table = run(simulator, "show", task_id)
    assert table.code == 0 and "source_instance.password" in table.out
    for shown in (result.out, result.err, table.out, table.err):
        assert "src-pass-0001" not in shown and "tgt-pass-0002" not in shown


def test_show_unknown_task_is_an_api_error(simulator: RunningSimulator) -> None:
    result = run(simulator, "show", str(uuid.uuid4()))
    assert result.code == 3
    assert "DCS.4133" in result.err and "Traceback" not in result.err


# --- stop -----------------------------------------------------------------------------------


def test_stop_waits_until_terminated(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=0.2)
    ids = sim.admin.create_tasks(3)
    result = run(sim, "stop", *ids, "--json")
    assert result.code == 0, result.err
    rows = result.json()
    assert [r["task_id"] for r in rows] == ids
    assert {r["outcome"] for r in rows} == {"stopped"}
    assert {r["status"] for r in rows} == {"TERMINATED"}
    assert all(r["name"] and r["observed_at"] and r["detail"] is None for r in rows)
    assert set(sim.admin.statuses(ids)) == {"TERMINATED"}
    assert "3/3 stopped" in result.err  # plain progress lines when stderr is not a terminal


def test_stop_table_output(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=0.2)
    ids = sim.admin.create_tasks(2)
    result = run(sim, "stop", *ids)
    assert result.code == 0, result.err
    assert all(i in result.out for i in ids) and "stopped" in result.out


def test_stop_no_wait_returns_while_terminating(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=30.0)
    ids = sim.admin.create_tasks(2)
    result = run(sim, "stop", "--no-wait", *ids, "--json")
    assert result.code == 0, result.err
    assert {r["outcome"] for r in result.json()} == {"stop_requested"}
    assert set(sim.admin.statuses(ids)) == {"TERMINATING"}


def test_stop_timeout_exits_4_and_names_the_task(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=0.2)
    quick = sim.admin.create_tasks(1)[0]
    stuck = sim.admin.create_tasks(1, stop_delay="never")[0]
    result = run(sim, "stop", quick, stuck, "--timeout", "1", "--json")
    assert result.code == 4, result.err
    rows = {r["task_id"]: r for r in result.json()}
    assert rows[quick]["outcome"] == "stopped"
    assert rows[stuck]["outcome"] == "timed_out"
    assert rows[stuck]["status"] == "TERMINATING"
    assert "1 of 2 task(s) are not stopped" in result.err
    assert stuck in result.err and "TERMINATING" in result.err and "--timeout" in result.err


def test_stop_unknown_id_is_not_found(simulator: RunningSimulator) -> None:
    known = simulator.admin.create_tasks(1)[0]
    unknown = str(uuid.uuid4())
    result = run(simulator, "stop", known, unknown, "--json")
    assert result.code == 4
    rows = {r["task_id"]: r for r in result.json()}
    assert rows[unknown]["outcome"] == "not_found"
    assert rows[known]["outcome"] == "stopped"
    assert unknown in result.err


def test_stop_ids_from_stdin(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=0.2)
    ids = sim.admin.create_tasks(3)
    piped = f'{ids[0]}\n\n# a comment\n"{ids[1]}"\n{ids[2]}\n{ids[0]}\n'
    result = run(sim, "stop", "-", "--json", stdin=piped)
    assert result.code == 0, result.err
    assert [r["task_id"] for r in result.json()] == ids  # de-duplicated, in order
    assert set(sim.admin.statuses(ids)) == {"TERMINATED"}


def test_list_piped_into_stop(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=0.2)
    ids = sim.admin.create_tasks(4)
    listed = run(sim, "list", "--status", "incrmigeating", "--json")
    lines = "\n".join(t["task_id"] for t in listed.json())
    result = run(sim, "stop", "-", stdin=lines)
    assert result.code == 0, result.err
    assert set(sim.admin.statuses(ids)) == {"TERMINATED"}


def test_stop_without_ids_is_usage_error(simulator: RunningSimulator) -> None:
    result = run(simulator, "stop", "-", stdin="\n")
    assert result.code == 2 and "no task ids" in result.err


# --- bad input, configuration, credentials ------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["stop"], ["stop", "--no-wait"], ["show"], ["restart"], ["delete", "--yes"]],
)
def test_bad_id_exits_2_before_any_request(simulator: RunningSimulator, command: list[str]) -> None:
    good = simulator.admin.create_tasks(1)[0]
    simulator.admin.reset_counters()
    ids = ["../etc/passwd"] if command == ["show"] else [good, "../etc/passwd"]
    result = run(simulator, *command, *ids)
    assert result.code == 2
    assert "invalid task id '../etc/passwd'" in result.err
    assert "Traceback" not in result.err
    assert requests_made(simulator) == 0


def test_wrong_secret_key_exits_3_without_leaking(simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(1)
    wrong = "not-the-right-secret-key-123456"
    result = run(simulator, "stop", *ids, env=sim_env(simulator, HW_SECRET_KEY=wrong))
    assert result.code == 3
    assert "401" in result.err and "APIGW.0301" in result.err
    assert "HW_SECRET_KEY" in result.err  # the hint says what to check
    assert wrong not in result.err and wrong not in result.out
    assert "Traceback" not in result.err
    assert set(simulator.admin.statuses(ids)) == {"INCRMIGEATING"}


def test_missing_project_id_exits_2(simulator: RunningSimulator) -> None:
    env = clean_env(HW_ACCESS_KEY="AK", HW_SECRET_KEY="SK")
    result = run(simulator, "list", env=env)
    assert result.code == 2 and "no project id" in result.err


def test_missing_credentials_exits_2(simulator: RunningSimulator) -> None:
    env = clean_env(HW_PROJECT_ID=simulator.config.project_id)
    result = run(simulator, "list", env=env)
    assert result.code == 2 and "no DCS credentials" in result.err


def test_settings_from_environment_and_sdk_variables(simulator: RunningSimulator) -> None:
    simulator.admin.create_tasks(2)
    env = clean_env(
        HUAWEICLOUD_SDK_AK=simulator.config.access_key,
        HUAWEICLOUD_SDK_SK=simulator.config.secret_key,
        HW_PROJECT_ID=simulator.config.project_id,
        HW_DCS_ENDPOINT=simulator.url,
    )
    result = run(None, "list", "--json", env=env)
    assert result.code == 0, result.err
    assert len(result.json()) == 2


def test_project_id_option_overrides_environment(simulator: RunningSimulator) -> None:
    env = sim_env(simulator, HW_PROJECT_ID="f" * 32)
    result = run(simulator, "--project-id", simulator.config.project_id, "list", env=env)
    assert result.code == 0, result.err


def test_insecure_warns_loudly(simulator: RunningSimulator) -> None:
    result = run(simulator, "--insecure", "list", "--json")
    assert result.code == 0, result.err
    assert "WARNING" in result.err and "NOT verified" in result.err
    assert result.json() == []


def test_ca_bundle_must_exist_and_excludes_insecure(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    missing = run(simulator, "--ca-bundle", "/nonexistent/ca.pem", "list")
    assert missing.code == 2
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    both = run(simulator, "--ca-bundle", str(bundle), "--insecure", "list")
    assert both.code == 2 and "contradict" in both.err


# --- restart / delete -----------------------------------------------------------------------


def test_restart_stopped_tasks(simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(3)
    for task_id in ids:
        simulator.admin.set_status(task_id, "TERMINATED")
    result = run(simulator, "restart", *ids, "--json")
    assert result.code == 0, result.err
    assert [r["result"] for r in result.json()] == ["success"] * 3
    assert set(simulator.admin.statuses(ids)) == {"INCRMIGEATING"}


def test_restart_in_chunks_of_50(simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(120, status="TERMINATED")
    simulator.admin.reset_counters()
    result = run(simulator, "restart", "-", "--json", stdin="\n".join(ids))
    assert result.code == 0, result.err
    assert simulator.admin.counters()["batch_restart"] == 3
    assert set(simulator.admin.statuses(ids)) == {"INCRMIGEATING"}


def test_restart_reports_each_refused_task(simulator: RunningSimulator) -> None:
    stopped = simulator.admin.create_tasks(1, status="TERMINATED")[0]
    unknown = str(uuid.uuid4())
    result = run(simulator, "restart", stopped, unknown, "--json")
    assert result.code == 4
    rows = {r["task_id"]: r for r in result.json()}
    assert rows[stopped]["result"] == "success"
    assert rows[unknown]["result"] == "failed" and rows[unknown]["error_code"] == "DCS.4133"
    assert "1 of 2 task(s) were not restarted" in result.err and unknown in result.err


def test_delete_refuses_without_yes(simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(2, status="TERMINATED")
    simulator.admin.reset_counters()
    result = run(simulator, "delete", *ids)
    assert result.code == 2 and "--yes" in result.err
    assert requests_made(simulator) == 0
    assert not any(simulator.admin.task(i)["deleted"] for i in ids)


def test_delete_with_yes_in_chunks(simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(60, status="TERMINATED")
    keep = simulator.admin.create_tasks(1)
    simulator.admin.reset_counters()
    result = run(simulator, "delete", *ids, "--yes", "--json")
    assert result.code == 0, result.err
    assert [r["task_id"] for r in result.json()] == ids
    assert simulator.admin.counters()["delete"] == 2
    listed = run(simulator, "list", "--json")
    assert [t["task_id"] for t in listed.json()] == keep


def test_delete_refused_by_the_api_exits_3(simulator: RunningSimulator) -> None:
    running = simulator.admin.create_tasks(1)  # the simulator refuses to delete a running task
    result = run(simulator, "delete", *running, "--yes")
    assert result.code == 3 and "DCS.4026" in result.err


def test_delete_refused_gets_the_same_advice_as_every_command(
    simulator: RunningSimulator,
) -> None:
    ids = simulator.admin.create_tasks(1, status="TERMINATED")
    wrong = "not-the-right-secret-key-123456"
    result = run(simulator, "delete", *ids, "--yes", env=sim_env(simulator, HW_SECRET_KEY=wrong))
    assert result.code == 3 and "APIGW.0301" in result.err
    assert "HW_SECRET_KEY" in result.err  # the command line's own advice, as for stop
    assert wrong not in result.err + result.out
    assert not simulator.admin.task(ids[0])["deleted"]


def test_ctrl_c_exits_130_with_one_line(simulator: RunningSimulator) -> None:
    stuck = simulator.admin.create_tasks(1, stop_delay="never")
    proc = subprocess.Popen(
        [SCRIPT, "--endpoint", simulator.url, "stop", *stuck],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sim_env(simulator),
    )
    deadline = time.monotonic() + 30
    while simulator.admin.task(stuck[0])["status"] != "TERMINATING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err


def test_retries_are_one_readable_line_each(simulator: RunningSimulator) -> None:
    simulator.admin.create_tasks(1)
    simulator.admin.set_faults(operations=["list"], server_error={"count": 2, "status": 503})
    result = run(simulator, "list", "--json")
    assert result.code == 0, result.err
    assert len(result.json()) == 1
    notes = [line for line in result.err.splitlines() if line]
    assert len(notes) == 2 and all("retrying a DCS call" in n and "HTTP 503" in n for n in notes)
    assert "stamina" not in result.err
