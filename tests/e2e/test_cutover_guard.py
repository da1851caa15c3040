"""The cutover guard through the real pulumi CLI: the repo's Python program (the dynamic
resource) and a YAML program (the provider plugin), against the simulator's lag model.

No task may be stopped while its lag is above the bound: checked against the simulator's own
record of when each task was stopped and what its offset was then.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator

from ..cli.helpers import run as run_cli
from ..conftest import SimulatorFactory
from ..plugin.project import LanguageProject
from .pulumi_project import PulumiProject

pytestmark = pytest.mark.e2e

BOUND = 100
KEY_FIELDS = ("source_keys", "target_keys")

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


# --- the key check (issue 23): the target must hold the source's keys too -----------------------

KEYED_YAML = GUARDED_YAML.replace(
    "  syncTimeoutSeconds:\n    type: integer\n",
    "  syncTimeoutSeconds:\n    type: integer\n  maxKeyDifference:\n    type: integer\n",
).replace(
    "      syncTimeoutSeconds: ${syncTimeoutSeconds}\n",
    "      syncTimeoutSeconds: ${syncTimeoutSeconds}\n      maxKeyDifference: ${maxKeyDifference}\n",
)


def keyed_tasks(sim: RunningSimulator) -> list[str]:
    """In sync with the same count; in sync with the target 10 keys short; lagging 2,000 bytes
    (20 keys) and catching up at 1,000 B/s; in sync with no target count in its stats."""
    ids = sim.admin.create_tasks(4)
    sim.admin.set_keys(ids[1], source=1000, target=990)
    sim.admin.set_lag(ids[2], offset=2000, drain_rate=1000, frozen=True)
    sim.admin.set_keys(ids[3], source=1000, target=None)
    return ids


def assert_stopped_only_with_every_key(sim: RunningSimulator, ids: list[str]) -> list[str]:
    """The simulator's own record: every stop came with the lag in bounds and the same count."""
    records = sim.admin.stop_records(ids)
    assert all(r["offset"] <= BOUND for r in records), records
    assert all(r["source_keys"] == r["target_keys"] is not None for r in records), records
    return [r["task_id"] for r in records]


def test_the_command_line_stops_only_tasks_whose_target_holds_every_key(
    simulator_factory: SimulatorFactory,
) -> None:
    sim = simulator_factory(stop_delay=0.3)
    ids = keyed_tasks(sim)
    guard = ["--max-offset", str(BOUND), "--max-key-difference", "0", "--sync-timeout", "6"]
    result = run_cli(sim, "stop", *guard, "--json", *ids)
    assert result.code == 4, result.err
    rows = {r["task_id"]: r for r in result.json()}
    assert [rows[t]["outcome"] for t in ids] == [
        "stopped",
        "not_in_sync",
        "stopped",
        "keys_unknown",
    ]
    assert (rows[ids[0]]["source_keys"], rows[ids[0]]["target_keys"]) == (1000, 1000)
    assert (rows[ids[1]]["source_keys"], rows[ids[1]]["target_keys"]) == (1000, 990)
    assert (rows[ids[2]]["offset"], rows[ids[2]]["target_keys"]) == (0, 1000)
    assert rows[ids[3]]["target_keys"] is None
    for words in ("990", "1000", "eviction policy", "key filters", "target_dbsize"):
        assert words in result.err, result.err
    assert "--max-key-difference" in result.err  # the advice, in the command line's words
    assert assert_stopped_only_with_every_key(sim, ids) == [ids[0], ids[2]]
    assert sim.admin.statuses(ids)[1::2] == ["INCRMIGEATING", "INCRMIGEATING"]


@pytest.mark.parametrize("language", ["python", "yaml"])
def test_a_program_stops_only_tasks_whose_target_holds_every_key(
    tmp_path: Path, simulator_factory: SimulatorFactory, language: str
) -> None:
    sim = simulator_factory(stop_delay=0.3)
    ids = keyed_tasks(sim)
    project: PulumiProject
    if language == "python":
        project = PulumiProject(tmp_path / "project")
    else:
        project = LanguageProject(tmp_path, files={"Pulumi.yaml": KEYED_YAML})
    project.init_for(sim, ids)
    project.pulumi("config", "set", "maxOffset", str(BOUND))
    project.pulumi("config", "set", "syncTimeoutSeconds", "6")
    project.pulumi("config", "set", "maxKeyDifference", "0")

    preview = project.pulumi("preview")
    shown = preview.stdout + preview.stderr
    assert f"{ids[0]} (INCRMIGEATING, lag 0, key difference 0)" in shown
    assert f"{ids[1]} (INCRMIGEATING, lag 0, key difference 10)" in shown
    assert f"until their lag is at most {BOUND} and their target is at most 0 key(s) short" in shown
    assert f"would be left running (keys_unknown): {ids[3]}" in shown
    assert sim.admin.stop_records(ids) == []

    up = project.pulumi("up", "--yes", "--skip-preview", check=False)
    out = up.stdout + up.stderr
    assert up.returncode != 0
    assert "not_in_sync" in out and "keys_unknown" in out
    assert "the target holds 990 keys, the source 1000" in out and "eviction policy" in out
    assert assert_stopped_only_with_every_key(sim, ids) == [ids[0], ids[2]]

    # The target got its keys back and the other's stats count again: the next up stops both.
    sim.admin.set_keys(ids[1], source=1000, target=1000)
    sim.admin.set_keys(ids[3], source=1000, target=1000)
    project.pulumi("up", "--yes", "--skip-preview")
    assert sorted(assert_stopped_only_with_every_key(sim, ids)) == sorted(ids)
    outputs = json.loads(project.stack_output_json())
    source, target = ("sourceKeys", "targetKeys") if language == "yaml" else KEY_FIELDS
    recorded = {t["taskId" if language == "yaml" else "task_id"]: t for t in outputs["tasks"]}
    assert [(recorded[t][source], recorded[t][target]) for t in ids[1::2]] == [(1000, 1000)] * 2
