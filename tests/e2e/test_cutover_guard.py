"""The cutover guard through the real pulumi CLI: the repo's Python program (the dynamic
resource) and a YAML program (the provider plugin), against the simulator's lag model.

No task may be stopped while its lag is above the bound: checked against the simulator's own
record of when each task was stopped and what its offset was then.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator

from ..conftest import SimulatorFactory
from ..plugin.project import LanguageProject
from .pulumi_project import PulumiProject

pytestmark = pytest.mark.e2e

BOUND = 100

GUARDED_YAML = """\
name: yaml-guarded-cutover
runtime: yaml
config:
  taskIds:
    type: array
    items:
      type: string
  maxOffset:
    type: integer
  syncTimeoutSeconds:
    type: integer
resources:
  cutover:
    type: dcs-migration:index:MigrationTasksStopped
    properties:
      taskIds: ${taskIds}
      maxOffset: ${maxOffset}
      syncTimeoutSeconds: ${syncTimeoutSeconds}
outputs:
  tasks: ${cutover.tasks}
"""


def lagging_tasks(sim: RunningSimulator) -> list[str]:
    """One task in sync, one lagging 1000 bytes (writes frozen, not draining yet: see
    :func:`start_catching_up`), one whose writes never stop."""
    ids = sim.admin.create_tasks(3)
    sim.admin.set_lag(ids[1], offset=1000, drain_rate=0, frozen=True)
    sim.admin.set_lag(ids[2], offset=5000, write_rate=100)
    return ids


def start_catching_up(sim: RunningSimulator, task_id: str) -> None:
    """From now on, the lagging task catches up in 14 s: it starts when the ``up`` does, not
    when the task was made, so a slow machine cannot let it catch up before the first stop."""
    sim.admin.set_lag(task_id, offset=1500, drain_rate=100)


def assert_never_stopped_above_the_bound(sim: RunningSimulator, ids: list[str]) -> dict[str, float]:
    stops = {r["task_id"]: r for r in sim.admin.stop_records(ids)}
    assert all(r["offset"] <= BOUND for r in stops.values()), stops
    return {t: r["at"] for t, r in stops.items()}


@pytest.mark.parametrize("language", ["python", "yaml"])
def test_each_task_is_stopped_only_in_sync_and_a_lagging_one_is_left_running(
    tmp_path: Path, simulator_factory: SimulatorFactory, language: str
) -> None:
    sim = simulator_factory(stop_delay=0.3)
    ids = lagging_tasks(sim)
    project: PulumiProject
    if language == "python":
        project = PulumiProject(tmp_path / "project")
    else:
        project = LanguageProject(tmp_path, files={"Pulumi.yaml": GUARDED_YAML})
    project.init_for(sim, ids)
    project.pulumi("config", "set", "maxOffset", str(BOUND))
    project.pulumi("config", "set", "syncTimeoutSeconds", "20")

    preview = project.pulumi("preview")
    shown = preview.stdout + preview.stderr
    assert f"{ids[0]} (INCRMIGEATING, lag 0)" in shown
    lag = re.search(rf"{ids[1]} \(INCRMIGEATING, lag (\d+)\)", shown)
    assert lag is not None and BOUND < int(lag.group(1)) <= 1000, shown
    assert f"2 task(s) would wait (up to 20s) until their lag is at most {BOUND}" in shown
    assert sim.admin.stop_records(ids) == []

    start_catching_up(sim, ids[1])
    up = project.pulumi("up", "--yes", "--skip-preview", check=False)
    out = up.stdout + up.stderr
    assert up.returncode != 0
    assert f"{ids[2]}" in out and "not_in_sync" in out and "lag " in out
    assert "writes to the source Redis are frozen" in out
    stops = assert_never_stopped_above_the_bound(sim, ids)
    assert set(stops) == {ids[0], ids[1]}  # the in-sync one at once, the other after catching up
    assert stops[ids[0]] < stops[ids[1]]
    assert sim.admin.statuses(ids) == [
        "TERMINATED",
        "TERMINATED",
        "INCRMIGEATING",
    ]

    # Writes to the last source are frozen: the next up stops it once it has caught up.
    sim.admin.set_lag(ids[2], drain_rate=4000, frozen=True)
    project.pulumi("config", "set", "syncTimeoutSeconds", "60")
    project.pulumi("up", "--yes", "--skip-preview")
    assert_never_stopped_above_the_bound(sim, ids)
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3
