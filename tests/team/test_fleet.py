"""`dcs-migration fleet` end to end: several simulated regions, one stack each, run in parallel."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import UNKNOWN_TASK_ID as UNKNOWN

from ..conftest import SimulatorFactory
from ..e2e.pulumi_project import REPO, VENV_BIN, require_pulumi

pytestmark = pytest.mark.e2e

DCS_MIGRATION = REPO / ".venv" / "bin" / "dcs-migration"

# Region 1 lives in "another account": its keys come from variables the fleet file names.
OTHER_AK, OTHER_SK = "REGION1ACCESSKEY0001", "region-one-secret-key-not-the-demo-one"


@dataclass
class Region:
    """One simulated region and the fleet entry for it."""

    sim: RunningSimulator
    entry: dict[str, Any]

    def statuses(self) -> list[str]:
        """Statuses of the entry's real tasks (the unknown id has none)."""
        return [self.sim.admin.task(t)["status"] for t in self.entry["task_ids"] if t != UNKNOWN]


@dataclass
class FleetRun:
    """What one run of the fleet produced."""

    code: int
    stdout: str
    stderr: str
    summary: dict[str, Any]

    def by_stack(self) -> dict[str, dict[str, Any]]:
        return {row["stack"]: row for row in self.summary["stacks"]}


def make_regions(factory: SimulatorFactory, count: int = 3, tasks: int = 3) -> list[Region]:
    """``count`` simulators (distinct ids via ``rng_seed``), each with ``tasks`` running tasks."""
    regions = []
    for index in range(count):
        keys: dict[str, Any] = (
            {"access_key": OTHER_AK, "secret_key": OTHER_SK} if index == 1 else {}
        )
        sim = factory(stop_delay=0.3, rng_seed=100 + index, **keys)
        entry: dict[str, Any] = {
            "name": f"region-{index}",
            "endpoint": sim.url,
            "project_id": sim.config.project_id,
            "task_ids": sim.admin.create_tasks(tasks),
        }
        if index == 1:
            entry.update(access_key_env="REGION1_AK", secret_key_env="REGION1_SK")
        regions.append(Region(sim, entry))
    return regions


def run_fleet(tmp_path: Path, regions: list[Region], *extra: str) -> FleetRun:
    """Write the fleet file and run the fleet as an operator would, with its own backend/home."""
    require_pulumi()
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(json.dumps({"stacks": [r.entry for r in regions]}))  # JSON is YAML
    summary = tmp_path / "summary.json"
    demo = regions[0].sim.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HW_", "PULUMI_"))}
    env.update(
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
        PULUMI_HOME=str(tmp_path / "home"),
        PULUMI_BACKEND_URL=f"file://{tmp_path / 'state'}",
        PULUMI_CONFIG_PASSPHRASE="fleet-test",
        HW_ACCESS_KEY=demo.access_key,
        HW_SECRET_KEY=demo.secret_key,
        REGION1_AK=OTHER_AK,
        REGION1_SK=OTHER_SK,
    )
    (tmp_path / "state").mkdir(exist_ok=True)
    args = [str(fleet_file), "--log-dir", str(tmp_path / "logs"), "--summary-json", str(summary)]
    proc = subprocess.run(
        [str(DCS_MIGRATION), "fleet", *args, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    data = json.loads(summary.read_text()) if summary.exists() else {}
    return FleetRun(proc.returncode, proc.stdout, proc.stderr, data)


def test_fleet_stops_every_region_and_a_bad_entry_fails_alone(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    regions = make_regions(simulator_factory)
    regions[2].entry["task_ids"].append(UNKNOWN)  # region-2 names a task that does not exist

    first = run_fleet(tmp_path, regions, "--parallel", "3")

    # exit 4, as for every dcs-migration command where not everything reached the goal
    assert first.code == 4, first.stdout + first.stderr
    rows = first.by_stack()
    names = [f"fleet-region-{i}-{r.sim.config.project_id[:8]}" for i, r in enumerate(regions)]
    assert list(rows) == names  # the summary keeps the fleet file's order
    for name in names:
        assert name in first.stdout  # the printed table lists every stack
    for name, region in zip(names[:2], regions[:2], strict=True):
        assert rows[name]["ok"] and rows[name]["terminated"] == 3
        assert region.statuses() == ["TERMINATED"] * 3
    bad = rows[names[2]]
    assert not bad["ok"] and UNKNOWN in bad["outcome"] and "does not exist" in bad["outcome"]
    assert "failed" in first.stdout and "2/3 stacks ok" in first.stdout
    # check() refused the entry before any stop call, so nothing in region-2 was touched.
    assert regions[2].statuses() == ["INCRMIGEATING"] * 3
    assert regions[2].sim.admin.counters().get("batch_stop", 0) == 0
    _assert_logs_clean(tmp_path, names, regions)

    # Fixed, the fleet converges: the two done stacks are no-ops, region-2 is stopped.
    regions[2].entry["task_ids"].remove(UNKNOWN)
    for region in regions:
        region.sim.admin.reset_counters()
    second = run_fleet(tmp_path, regions, "--parallel", "2")
    assert second.code == 0, second.stdout + second.stderr
    rows = second.by_stack()
    assert [rows[n]["outcome"] for n in names[:2]] == ["no change", "no change"]
    assert [r.sim.admin.counters().get("batch_stop", 0) for r in regions[:2]] == [0, 0]
    assert rows[names[2]]["terminated"] == 3 and regions[2].statuses() == ["TERMINATED"] * 3


def _assert_logs_clean(tmp_path: Path, names: list[str], regions: list[Region]) -> None:
    """One log per stack holding only its own output; no credential in logs or state."""
    for index, name in enumerate(names):
        text = (tmp_path / "logs" / f"{name}.log").read_text()
        others = [r.sim.url for i, r in enumerate(regions) if i != index]
        assert not any(url in text for url in others)
        if index < 2:
            assert "[cutover] stopping 3 task(s)" in text
    secrets = {regions[0].sim.config.secret_key, OTHER_SK, OTHER_AK}
    state = list((tmp_path / "state").rglob("*.json"))
    assert state, "no state files: the scan below would prove nothing about the state"
    files = [*state, *(tmp_path / "logs").glob("*.log")]
    for path in files:
        data = path.read_text(errors="replace")
        assert not any(s in data for s in secrets), path


def test_fleet_rejects_a_bad_file_before_running_anything(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        "stacks:\n  - name: x\n    region: cn-north-4\n    endpoint: https://a.example\n"
        "    project_id: 0123456789abcdef0123456789abcdef\n    task_ids: [a]\n"
    )
    env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": "x"}
    proc = subprocess.run(
        [str(DCS_MIGRATION), "fleet", str(fleet_file), "--log-dir", str(tmp_path / "logs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "exactly one of region or endpoint" in proc.stderr
