"""A Pulumi YAML program using dcs-migration:index:MigrationTasksStopped, run by the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import UNKNOWN_TASK_ID, poll_until

from ..conftest import SimulatorFactory
from .project import PULUMI, LanguageProject, yaml_program

pytestmark = pytest.mark.e2e


@pytest.fixture
def sim(simulator_factory: SimulatorFactory) -> RunningSimulator:
    return simulator_factory(stop_delay=0.3, stop_jitter=0.5)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[LanguageProject]:
    project = LanguageProject(tmp_path, files={"Pulumi.yaml": yaml_program()})
    yield project
    # No plugin outlives the runs that started it.
    assert plugin_processes() == []


def plugin_processes() -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "pulumi_dcs_migration.plugin" in text and str(os.getpid()) != cmdline.parent.name:
            found.append(int(cmdline.parent.name))
    return found


def test_lifecycle_preview_up_reorder_add_drift_refresh_destroy(
    project: LanguageProject, sim: RunningSimulator
) -> None:
    ids = sim.admin.create_tasks(4)
    project.init_for(sim, ids[:3])

    preview = project.pulumi("preview")
    assert "+ 2 to create" in preview.stdout
    assert f"3 of 3 task(s) running now: {ids[0]} (INCRMIGEATING)" in preview.stdout
    assert "warning" not in preview.stdout.lower()  # the plugin is found without a PATH warning
    assert sim.admin.statuses(ids) == ["INCRMIGEATING"] * 4

    project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.statuses(ids[:3]) == ["TERMINATED"] * 3
    outputs = project.stack_outputs()
    assert sorted(outputs["terminatedIds"]) == sorted(ids[:3])
    assert {t["outcome"] for t in outputs["tasks"]} == {"stopped"}

    # the same ids in another order: no change, no call
    sim.admin.reset_counters()
    project.set_task_ids(list(reversed(ids[:3])))
    again = project.pulumi("preview", "--expect-no-changes")
    assert "2 unchanged" in again.stdout
    assert sim.admin.counters().get("batch_stop", 0) == 0

    # an added id: preview --diff names it, up stops only that one
    project.set_task_ids(ids)
    diff = project.pulumi("preview", "--diff")
    assert f'+ [3]: "{ids[3]}"' in diff.stdout
    before = [sim.admin.task(t)["stop_requested_at"] for t in ids[:3]]
    project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 4
    assert [sim.admin.task(t)["stop_requested_at"] for t in ids[:3]] == before
    assert sim.admin.counters()["batch_stop"] == 1

    # restarted behind Pulumi's back: found by refresh, stopped again by the next up
    sim.admin.set_status(ids[1], "INCRMIGEATING")
    project.pulumi("refresh", "--yes", "--skip-preview")
    drift = project.pulumi("preview", "--diff")
    assert f'~ [1]: "{ids[1]}" => "{ids[1]}"' in drift.stdout
    assert "running again" in drift.stdout + drift.stderr  # --diff prints messages on stderr
    project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 4

    # and without a refresh: plain preview sees it, up converges, then nothing is left to do
    sim.admin.set_status(ids[2], "INCRMIGEATING")
    failing = project.pulumi("preview", "--expect-no-changes", check=False)
    assert failing.returncode != 0 and ids[2] in failing.stdout
    project.pulumi("up", "--yes")
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 4
    project.pulumi("preview", "--expect-no-changes")

    # destroy leaves the tasks stopped
    sim.admin.reset_counters()
    destroy = project.pulumi("destroy", "--yes", "--skip-preview")
    assert "leaving 4 task(s) as they are" in destroy.stdout
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 4
    assert sim.admin.counters().get("delete", 0) == 0


def test_bad_input_fails_preview_naming_the_field_or_task(
    project: LanguageProject, sim: RunningSimulator
) -> None:
    ids = sim.admin.create_tasks(1)
    project.init_for(sim, [*ids, UNKNOWN_TASK_ID])
    failed = project.pulumi("preview", check=False)
    assert failed.returncode != 0
    assert f"task '{UNKNOWN_TASK_ID}' does not exist in project" in failed.stdout
    project.set_task_ids([*ids, "not-a-task-id"])
    failed = project.pulumi("preview", check=False)
    assert "taskIds[1] = 'not-a-task-id' is not a valid task id" in failed.stdout
    assert sim.admin.counters().get("batch_stop", 0) == 0


def test_custom_timeout_fails_fast_naming_the_task(tmp_path: Path, sim: RunningSimulator) -> None:
    stuck = sim.admin.create_tasks(1, stop_delay="never")
    project = LanguageProject(tmp_path, files={"Pulumi.yaml": yaml_program(timeout="3s")})
    project.init_for(sim, stuck)
    failed = project.pulumi("up", "--yes", "--skip-preview", check=False, timeout=120)
    assert failed.returncode != 0
    assert f"{stuck[0]} (task-0) status TERMINATING, timed_out" in failed.stdout
    assert "customTimeouts" in failed.stdout


def test_ctrl_c_returns_promptly_and_leaves_no_plugin(
    project: LanguageProject, sim: RunningSimulator
) -> None:
    stuck = sim.admin.create_tasks(2, stop_delay="never")
    project.init_for(sim, stuck)
    up = subprocess.Popen(
        [str(PULUMI), "up", "--yes", "--skip-preview", "--non-interactive", "--color", "never"],
        cwd=project.program_dir,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    poll_until(
        lambda: sim.admin.counters().get("batch_stop", 0), lambda n: n > 0, timeout=120, what="stop"
    )
    os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole process group
    output, _ = up.communicate(timeout=60)
    assert up.returncode != 0
    assert "cancelled: 2 of 2 task(s) are not stopped" in output, output
    assert "stop_requested" in output
    poll_until(plugin_processes, lambda found: found == [], timeout=15, what="no plugin left")
    # the stops keep going on the DCS side; a rerun continues from there
    assert sim.admin.statuses(stuck) == ["TERMINATING"] * 2


def test_import_of_stopped_tasks_generates_a_valid_program(
    project: LanguageProject, sim: RunningSimulator, tmp_path: Path
) -> None:
    stopped = sim.admin.create_tasks(2, status="TERMINATED")
    project.init_for(sim, stopped)
    generated = tmp_path / "imported.yaml"
    project.pulumi(
        "import",
        "dcs-migration:index:MigrationTasksStopped",
        "cutover",
        ",".join(stopped),
        "--yes",
        "--out",
        str(generated),
    )
    code = generated.read_text()
    assert "type: dcs-migration:MigrationTasksStopped" in code  # the index module, shortened
    assert all(t in code for t in stopped)
    state = project.export()
    assert f'"id": "{sim.config.project_id}/' in state
    # The generated code is valid: as the whole program, it previews with nothing to do.
    (project.program_dir / "Pulumi.yaml").write_text("name: yaml-cutover\nruntime: yaml\n" + code)
    project.pulumi("preview", "--expect-no-changes")
    assert sim.admin.counters().get("batch_stop", 0) == 0


def test_no_credential_in_any_file_the_runs_wrote(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    access_key = "PLUGINSCANAK0123456"
    secret_key = "plugin-scan-secret-key-0123456789abcdef"
    token = "plugin-scan-security-token-0123456789"
    sim = simulator_factory(
        access_key=access_key, secret_key=secret_key, security_token=token, stop_delay=0.2
    )
    ids = sim.admin.create_tasks(2)
    project = LanguageProject(tmp_path, files={"Pulumi.yaml": yaml_program()})
    project.init_for(sim, ids)
    project.extra_env["HW_SECURITY_TOKEN"] = token
    verbose = ("--logtostderr", "--logflow", "-v=9")
    runs = [
        project.pulumi("preview", *verbose),
        project.pulumi("up", "--yes", "--skip-preview", *verbose),
        project.pulumi("refresh", "--yes", "--skip-preview", *verbose),
        project.pulumi("destroy", "--yes", "--skip-preview", *verbose),
    ]
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 2
    secrets = [access_key, secret_key, token]
    for run in runs:
        assert not any(s in run.stdout or s in run.stderr for s in secrets)
    for path in project.written_files():
        data = path.read_bytes()
        assert not any(s.encode() in data for s in secrets), path
