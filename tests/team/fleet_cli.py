"""``dcs-migration fleet`` as separate processes (machines) on one shared state backend.

Each :class:`FleetMachine` has what a CI runner of its own would have: its own ``PULUMI_HOME``,
log dir and summary file; only the backend URL (and the passphrase) are shared.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcs_simulator.testing import poll_until
from pulumi_dcs_migration.fleet import FleetEntry

from ..e2e.pulumi_project import VENV_BIN, require_pulumi
from .test_fleet import DCS_MIGRATION, OTHER_AK, OTHER_SK, FleetRun, Region

PASSPHRASE = "fleet-shared-passphrase"


def write_fleet_file(path: Path, regions: list[Region]) -> Path:
    """The fleet file of ``regions`` (JSON, which is YAML)."""
    path.write_text(json.dumps({"stacks": [r.entry for r in regions]}))
    return path


def stack_names(regions: list[Region]) -> list[str]:
    """The stack of each region's entry, in file order (what the fleet names them)."""
    return [
        FleetEntry(
            name=r.entry["name"], project_id=r.entry["project_id"], task_ids=("x",)
        ).stack_name
        for r in regions
    ]


@dataclass
class FleetMachine:
    """One machine running ``dcs-migration fleet FILE *args`` against ``backend_url``."""

    root: Path
    fleet_file: Path
    backend_url: str
    regions: list[Region]
    extra_env: dict[str, str]
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[str] | None = None

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    @property
    def env(self) -> dict[str, str]:
        demo = self.regions[0].sim.config
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HW_", "PULUMI_", "AWS_"))}
        env.update(
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
            PULUMI_HOME=str(self.root / "home"),
            PULUMI_BACKEND_URL=self.backend_url,
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            HW_ACCESS_KEY=demo.access_key,
            HW_SECRET_KEY=demo.secret_key,
            REGION1_AK=OTHER_AK,
            REGION1_SK=OTHER_SK,
        )
        env.update(self.extra_env)
        return env

    def start(self) -> FleetMachine:
        """Start the fleet process (returns at once)."""
        require_pulumi()
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(DCS_MIGRATION),
            "fleet",
            str(self.fleet_file),
            "--log-dir",
            str(self.root / "logs"),
            "--summary-json",
            str(self.summary_path),
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        return self

    def finish(self) -> FleetRun:
        """Wait for the process (a guard against hangs, not a speed bound); what it produced."""
        assert self.proc is not None, "start() first"
        out, err = self.proc.communicate(timeout=600)
        summary: dict[str, Any] = (
            json.loads(self.summary_path.read_text()) if self.summary_path.exists() else {}
        )
        return FleetRun(self.proc.returncode, out, err, summary)

    def run(self) -> FleetRun:
        return self.start().finish()

    def log_of(self, stack: str) -> str:
        return (self.root / "logs" / f"{stack}.log").read_text()


def wait_until_stopping(region: Region, runs: list[FleetMachine]) -> None:
    """Until ``region``'s tasks were sent their stop (its stack's ``up`` is underway, holding the
    lock); fails early, with the runs' output, if every run ended first."""

    def ended() -> bool:
        return all(m.proc is not None and m.proc.poll() is not None for m in runs)

    poll_until(
        lambda: (region.statuses(), ended()),
        lambda seen: all(s == "TERMINATING" for s in seen[0]) or seen[1],
        timeout=300,
        interval=0.05,
        what="the stops of the run holding the lock",
    )
    if ended():
        outputs = [m.finish() for m in runs]
        raise AssertionError(
            "every run ended before the stops were sent:\n"
            + "\n---\n".join(r.stdout + r.stderr for r in outputs)
        )
