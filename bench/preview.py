"""`make bench-preview`: a no-op `pulumi preview` of one resource, the plugin path against the
dynamic path, measured in the same run.

Both stacks declare one MigrationTasksStopped over the same 10 stopped tasks of one simulator:
the Python program of this repo (the dynamic resource) and a YAML program (the provider plugin).
After one `up` each, `pulumi preview` (nothing to do) runs ROUNDS times per path, interleaved so
that machine load hits both alike. Reported: median and min wall seconds, and CPU seconds
(children: the CLI, language hosts and providers). Results: bench/preview-results.json.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dcs_simulator import SimulatorConfig, start_simulator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_BIN = REPO / ".venv" / "bin"
PULUMI = VENV_BIN / "pulumi"
ROUNDS = 9
TASKS = 10

YAML_PROGRAM = """\
name: bench-plugin
runtime: yaml
config:
  taskIds:
    type: array
    items:
      type: string
resources:
  cutover:
    type: dcs-migration:index:MigrationTasksStopped
    properties:
      taskIds: ${taskIds}
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Stack:
    """One program dir with its own backend and home, and the commands to run in it."""

    def __init__(
        self, root: Path, kind: str, sim_url: str, project_id: str, ids: list[str]
    ) -> None:
        self.dir = root / kind
        self.dir.mkdir(parents=True)
        (root / f"{kind}-state").mkdir()
        (root / f"{kind}-home").mkdir()
        if kind == "dynamic":
            shutil.copy(REPO / "Pulumi.yaml", self.dir / "Pulumi.yaml")
            shutil.copytree(
                REPO / "stacks",
                self.dir / "stacks",
                ignore=shutil.ignore_patterns("Pulumi.*.yaml", "__pycache__"),
            )
            (self.dir / ".venv").symlink_to(REPO / ".venv")
            namespace = "dcs"
        else:
            (self.dir / "Pulumi.yaml").write_text(YAML_PROGRAM)
            namespace = "dcs-migration"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HW_", "PULUMI_"))},
            "PULUMI_HOME": str(root / f"{kind}-home"),
            "PULUMI_BACKEND_URL": f"file://{root / f'{kind}-state'}",
            "PULUMI_CONFIG_PASSPHRASE": "bench",
            "HW_ACCESS_KEY": "DCSSIMULATORDEMOAK01",
            "HW_SECRET_KEY": "dcs-simulator-demo-secret-key-0000000001",
        }
        if kind == "plugin":
            self.run(str(VENV_BIN / "dcs-migration"), "plugin", "install", "--pulumi", str(PULUMI))
        self.pulumi("stack", "init", "bench")
        self.pulumi("config", "set", f"{namespace}:endpoint", sim_url)
        self.pulumi("config", "set", f"{namespace}:projectId", project_id)
        pairs = [f"--plaintext=taskIds[{i}]={t}" for i, t in enumerate(ids)]
        self.pulumi("config", "set-all", "--path", *pairs)
        self.pulumi("up", "--yes", "--skip-preview")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=self.dir, env=self.env, capture_output=True, text=True, check=True
        )

    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(PULUMI), *args, "--non-interactive")


def main() -> int:
    """Measure; print a table; write bench/preview-results.json."""
    samples: dict[str, list[tuple[float, float]]] = {"dynamic": [], "plugin": []}
    with (
        start_simulator(SimulatorConfig(stop_delay=0.1)) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        ids = sim.admin.create_tasks(TASKS, status="TERMINATED")
        stacks = {k: Stack(Path(tmp), k, sim.url, sim.config.project_id, ids) for k in samples}
        for _ in range(ROUNDS):
            for kind, stack in stacks.items():
                cpu, start = children_cpu(), time.perf_counter()
                out = stack.pulumi("preview", "--expect-no-changes")
                samples[kind].append((time.perf_counter() - start, children_cpu() - cpu))
                assert "unchanged" in out.stdout, out.stdout
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_after": os.getloadavg()[0],
        },
        "rounds": ROUNDS,
        "tasks": TASKS,
    }
    print(f"no-op `pulumi preview`, one resource of {TASKS} tasks, {ROUNDS} rounds interleaved\n")
    print("| path | wall median (s) | wall min (s) | CPU median (s) |")
    print("|---|---:|---:|---:|")
    for kind, values in samples.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        result[kind] = {
            "wall_median_s": round(statistics.median(walls), 3),
            "wall_min_s": round(min(walls), 3),
            "cpu_median_s": round(statistics.median(cpus), 3),
            "walls_s": [round(w, 3) for w in walls],
        }
        row = result[kind]
        print(
            f"| {kind} | {row['wall_median_s']:.2f} | {row['wall_min_s']:.2f} | {row['cpu_median_s']:.2f} |"
        )
    (HERE / "preview-results.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
