"""The product as a user runs it: the real pulumi CLI, the stacks/ program, the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import UNKNOWN_TASK_ID as UNKNOWN

from ..conftest import SimulatorFactory
from .pulumi_project import PulumiProject

pytestmark = pytest.mark.e2e


def project_for(
    tmp_path: Path, sim: RunningSimulator, task_ids: list[str], *, credentials_in: str = "env"
) -> PulumiProject:
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, task_ids, credentials_in=credentials_in)
    return project


def test_preview_up_again_add_refresh_restart_destroy(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory(stop_delay=0.3, stop_jitter=0.5)
    ids = sim.admin.create_tasks(4)
    project = project_for(tmp_path, sim, ids[:3])

    # preview shows the planned stop and changes nothing
    preview = project.pulumi("preview", "--diff")
    assert "MigrationTasksStopped" in preview.stdout and "create" in preview.stdout
    shown = preview.stdout + preview.stderr
    assert f"[cutover] 3 of 3 task(s) running now: {ids[0]} (INCRMIGEATING)" in shown, shown
    assert "2 to create" in preview.stdout
    assert sim.admin.statuses(ids) == ["INCRMIGEATING"] * 4
    assert sim.admin.counters().get("batch_stop", 0) == 0

    # up stops and waits, with progress lines
    up = project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.statuses(ids[:3]) == ["TERMINATED"] * 3 and sim.admin.statuses(ids[3:]) == [
        "INCRMIGEATING"
    ]
    assert "[cutover] stopping 3 task(s)" in up.stdout and "3/3 terminated" in up.stdout
    outputs = project.outputs()
    assert sorted(outputs["terminated_ids"]) == sorted(ids[:3])
    assert {t["outcome"] for t in outputs["tasks"]} == {"stopped"}

    # a second up changes nothing
    sim.admin.reset_counters()
    again = project.pulumi("up", "--yes", "--skip-preview")
    assert "2 unchanged" in again.stdout and "stopping" not in again.stdout
    assert sim.admin.counters().get("batch_stop", 0) == 0

    # adding a task stops only that one
    project.set_task_ids(ids)
    before = [sim.admin.task(t)["stop_requested_at"] for t in ids[:3]]
    project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 4
    assert [sim.admin.task(t)["stop_requested_at"] for t in ids[:3]] == before
    assert sim.admin.counters()["batch_stop"] == 1

    # a task restarted behind Pulumi's back is found by refresh and stopped again by up
    sim.admin.set_status(ids[1], "INCRMIGEATING")
    project.pulumi("refresh", "--yes", "--skip-preview")
    drift = project.pulumi("preview")
    assert "update" in drift.stdout and "running again" in drift.stdout
    project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 4
    assert "update" not in project.pulumi("preview").stdout.split("Resources:")[-1]

    # destroy leaves the tasks stopped
    sim.admin.reset_counters()
    destroy = project.pulumi("destroy", "--yes", "--skip-preview")
    assert "leaving 4 task(s)" in destroy.stdout
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 4
    assert (
        sim.admin.counters().get("delete", 0) == 0
        and sim.admin.counters().get("batch_restart", 0) == 0
    )


def test_bad_id_fails_preview_naming_it(tmp_path: Path, simulator: RunningSimulator) -> None:
    ids = simulator.admin.create_tasks(1)
    project = project_for(tmp_path, simulator, [*ids, UNKNOWN])
    preview = project.pulumi("preview", check=False)
    assert preview.returncode != 0
    assert UNKNOWN in preview.stdout and "does not exist" in preview.stdout
    malformed = PulumiProject(tmp_path / "malformed")
    malformed.init_for(simulator, ["not a/valid id"])
    bad = malformed.pulumi("preview", check=False)
    assert bad.returncode != 0 and "'not a/valid id' is not a valid task id" in bad.stdout
    assert simulator.admin.counters().get("batch_stop", 0) == 0


def test_wrong_credentials_fail_with_a_clear_401(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(1)
    project = PulumiProject(tmp_path / "project")
    project.init_for(simulator, ids, secret_key="definitely-wrong-secret")
    preview = project.pulumi("preview", check=False)
    assert preview.returncode != 0
    assert "HTTP 401 APIGW.0301" in preview.stdout and "clock" in preview.stdout
    assert "definitely-wrong-secret" not in preview.stdout + preview.stderr


def _state_files(project: PulumiProject) -> list[bytes]:
    """Every file of the project's file backend; there are some, so a scan of them means something."""
    files = [p.read_bytes() for p in (project.root / "state").rglob("*") if p.is_file()]
    assert files, "no state files: the backend is not where the test looks"
    return files


def test_environment_credentials_never_reach_the_state(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    ids = simulator.admin.create_tasks(2)
    project = project_for(tmp_path, simulator, ids)  # credentials in HW_ACCESS_KEY / HW_SECRET_KEY
    up = project.pulumi("up", "--yes", "--skip-preview")
    exported = project.export()
    assert ids[0] in exported  # the export is real and has the resource
    cfg = simulator.config
    for text in (exported, up.stdout, up.stderr):
        assert cfg.access_key not in text and cfg.secret_key not in text
    for data in _state_files(project):
        assert cfg.secret_key.encode() not in data and cfg.access_key.encode() not in data


def test_config_credentials_are_stored_only_encrypted(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    """Secret config reaches the engine's provider entry encrypted; our resource never holds it.

    The engine copies the whole stack config into the default ``pulumi-python`` provider's
    state (pulumi/pulumi#17229, #17673), so secret config is in the state as ciphertext; this is
    why the README recommends the environment for credentials.
    """
    ids = simulator.admin.create_tasks(1)
    project = project_for(tmp_path, simulator, ids, credentials_in="config")
    project.pulumi("up", "--yes", "--skip-preview")
    cfg = simulator.config
    for data in _state_files(project):
        assert cfg.secret_key.encode() not in data and cfg.access_key.encode() not in data
    assert cfg.secret_key not in project.pulumi("stack", "export").stdout
    resources = json.loads(project.export())["deployment"]["resources"]
    ours = [r for r in resources if r["type"].endswith("MigrationTasksStopped")]
    assert (
        ours and cfg.secret_key not in json.dumps(ours) and cfg.access_key not in json.dumps(ours)
    )
