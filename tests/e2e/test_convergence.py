"""Declared means converged: with no refresh, plain `preview` and `up` act on what runs now.

The state says every task is stopped; one is restarted behind Pulumi's back through the API
(batch-restart); a plain `preview` plans an update naming it, `up` stops it, and
`preview --expect-no-changes` passes only when nothing declared runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dcs_simulator.testing import client_for

from ..conftest import SimulatorFactory
from .pulumi_project import PulumiProject

pytestmark = pytest.mark.e2e


def test_a_task_restarted_behind_our_back_is_stopped_without_a_refresh(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory(stop_delay=0.3)
    ids = sim.admin.create_tasks(3)
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, ids)
    project.pulumi("up", "--yes", "--skip-preview")
    assert [sim.admin.task(t)["status"] for t in ids] == ["TERMINATED"] * 3
    project.pulumi("preview", "--expect-no-changes")  # converged: nothing to do

    with client_for(sim) as client:
        restarted = client.batch_restart([ids[1]])
    assert [r.succeeded for r in restarted] == [True]
    assert sim.admin.task(ids[1])["status"] == "INCRMIGEATING"
    sim.admin.reset_counters()

    failing = project.pulumi("preview", "--expect-no-changes", check=False)
    assert failing.returncode != 0
    preview = project.pulumi("preview")
    shown = preview.stdout + preview.stderr
    assert "update" in preview.stdout.split("Resources:")[-1]
    assert f"1 task(s) running again since the last stop; up will stop: {ids[1]}" in shown
    assert sim.admin.counters().get("batch_stop", 0) == 0  # preview changed nothing

    up = project.pulumi("up", "--yes")
    assert "stopping 1 task(s)" in up.stdout
    assert [sim.admin.task(t)["status"] for t in ids] == ["TERMINATED"] * 3
    assert sim.admin.counters()["batch_stop"] == 1  # only the restarted task got a stop
    outcomes = {t["task_id"]: t["outcome"] for t in project.outputs()["tasks"]}
    assert outcomes == dict.fromkeys(ids, "stopped")
    project.pulumi("preview", "--expect-no-changes")


def test_a_task_still_stopping_is_waited_for_not_stopped_again(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory()
    # Stopped already, and slow to stop: a stop started behind our back reads TERMINATING for
    # 20 s, far longer than a preview takes, so the test cannot race it.
    ids = sim.admin.create_tasks(2, status="TERMINATED", stop_delay=20)
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, ids)
    project.pulumi("up", "--yes", "--skip-preview")
    sim.admin.set_status(ids[0], "TERMINATING")  # someone else's stop in progress
    sim.admin.reset_counters()
    preview = project.pulumi("preview")
    assert f"1 task(s) stopping now; up will wait for: {ids[0]}" in preview.stdout + preview.stderr
    project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.counters().get("batch_stop", 0) == 0
    assert [sim.admin.task(t)["status"] for t in ids] == ["TERMINATED"] * 2
