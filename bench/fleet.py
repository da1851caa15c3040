"""How the fleet (dcs-migration fleet) scales with the number of stacks, and what limits it.

Scenarios: 1, 4 and 16 stacks, each against its own simulator (its own HTTP server: one
"region"), 5 tasks per stack, stop delay 1 s, run by ``dcs-migration fleet`` as an operator would
(a subprocess; state in a fresh file backend). For each: wall time, per-stack times, and the CPU
seconds the fleet and all its children (pulumi CLI, provider processes) used.

Components, each the median of a few runs, to say what one stack costs:

* ``cli_start``: ``pulumi version`` (process start of the Go CLI);
* ``provider_start``: ``python -m pulumi.dynamic`` until it prints its port (the dynamic
  provider process the engine starts for every stack), plus importing our resource module;
* ``empty_preview`` / ``empty_up``: an Automation API inline stack with no resource (engine
  start-up, inline language runtime, state read/write; no provider);
* ``api_wait``: the stop-and-wait engine alone stopping 5 tasks (stop delay 1 s): the floor the
  API imposes.

    .venv/bin/python bench/fleet.py            # writes bench/fleet-results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from dcs_simulator import RunningSimulator, SimulatorConfig, start_simulator
from dcs_simulator.testing import client_for
from pulumi_dcs_migration.engine import StopEngine, StopOptions

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = REPO / ".venv"
PULUMI = VENV / "bin" / "pulumi"
DCS_MIGRATION = VENV / "bin" / "dcs-migration"
RESULTS = HERE / "fleet-results.json"
TASKS_PER_STACK = 5
STOP_DELAY = 1.0
# (stacks, parallel): the brief's 1/4/16 at parallelism 4, plus 16 at 1 and 8 to see whether
# more parallelism helps on this machine (it cannot beat the CPU count for CPU-bound work).
SCENARIOS = [(1, 4), (4, 4), (16, 4), (16, 1), (16, 8)]
REPEATS = 3


def median_time(action: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall seconds of ``action`` over ``repeats`` runs."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples), 3)


@contextmanager
def isolated_pulumi_env(backend: str | None = None) -> Iterator[Path]:
    """A fresh backend (``backend`` or a file one), home and passphrase for us and children."""
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        root = Path(tmp)
        (root / "state").mkdir()
        saved = dict(os.environ)
        os.environ.update(
            PULUMI_HOME=str(root / "home"),
            PULUMI_BACKEND_URL=backend or f"file://{root / 'state'}",
            PULUMI_CONFIG_PASSPHRASE="bench",
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        )
        try:
            yield root
        finally:
            os.environ.clear()
            os.environ.update(saved)


# --- components -------------------------------------------------------------------------------


def time_cli_start() -> float:
    return median_time(
        lambda: subprocess.run([str(PULUMI), "version"], check=True, capture_output=True)
    )


def time_provider_start() -> float:
    """Start the dynamic provider server the way the engine's shim does; stop at its port line."""

    def once() -> None:
        proc = subprocess.Popen(
            [str(VENV / "bin" / "python"), "-u", "-m", "pulumi.dynamic"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # the port: the server is ready
        proc.kill()
        proc.wait()

    return median_time(once)


def time_resource_import() -> float:
    """Importing our resource module in a fresh interpreter (the provider does it on unpickle)."""
    code = "import pulumi_dcs_migration.resource"
    python = str(VENV / "bin" / "python")
    bare = median_time(lambda: subprocess.run([python, "-c", "import pulumi.dynamic"], check=True))
    full = median_time(
        lambda: subprocess.run([python, "-c", f"import pulumi.dynamic; {code}"], check=True)
    )
    return round(max(full - bare, 0.0), 3)


def time_empty_stack() -> dict[str, float]:
    """An inline stack without resources: the engine's fixed cost, and Automation API's extras."""
    project = auto.ProjectSettings(
        name="fleet-bench-empty",
        runtime=auto.ProjectRuntimeInfo(name="python", options={"virtualenv": str(VENV)}),
    )
    command = auto.PulumiCommand(root=str(VENV))
    with tempfile.TemporaryDirectory() as work_dir:
        opts = auto.LocalWorkspaceOptions(
            work_dir=work_dir, project_settings=project, pulumi_command=command
        )

        def select() -> auto.Stack:
            return auto.create_or_select_stack(
                "empty", project_name="fleet-bench-empty", program=lambda: None, opts=opts
            )

        stack = select()
        return {
            "select_stack": median_time(select),
            "empty_preview": median_time(stack.preview),
            "empty_up": median_time(stack.up),
            # up() itself runs `stack output` twice and `stack history` after the update.
            "up_followups": median_time(lambda: (stack.outputs(), stack.info())),
        }


def time_api_wait() -> float:
    """The stop-and-wait engine alone: 5 tasks, stop delay 1 s."""

    def once() -> None:
        with start_simulator(SimulatorConfig(stop_delay=STOP_DELAY)) as sim:
            ids = sim.admin.create_tasks(TASKS_PER_STACK)
            with client_for(sim) as client:
                StopEngine(client, StopOptions(timeout=60)).run(ids)

    return median_time(once)


def measure_components() -> dict[str, float]:
    """Every component time, in seconds."""
    with isolated_pulumi_env():
        return {
            "cli_start": time_cli_start(),
            "provider_start": time_provider_start(),
            "resource_import": time_resource_import(),
            **time_empty_stack(),
            "api_wait": time_api_wait(),
        }


# --- fleet scenarios ----------------------------------------------------------------------


def fleet_file(sims: list[RunningSimulator], path: Path) -> list[dict[str, Any]]:
    """Write a fleet file with one entry per simulator, ``TASKS_PER_STACK`` fresh tasks each."""
    entries = [
        {
            "name": f"bench-{index:02d}",
            "endpoint": sim.url,
            "project_id": sim.config.project_id,
            "task_ids": sim.admin.create_tasks(TASKS_PER_STACK),
        }
        for index, sim in enumerate(sims)
    ]
    path.write_text(json.dumps({"stacks": entries}))
    return entries


@contextmanager
def postgres_backend() -> Iterator[str]:
    """A throwaway PostgreSQL cluster from scripts/postgres.sh; yields its backend URL."""
    directory = Path(tempfile.mkdtemp(prefix="fleet-bench-pg-"))
    script = str(REPO / "scripts" / "postgres.sh")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = subprocess.run(
        [script, "start", str(directory), str(port)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield f"{url}&table=fleet_bench"
    finally:
        subprocess.run([script, "stop", str(directory)], check=False, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def children_cpu() -> float:
    """CPU seconds used so far by waited-for children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_scenario(stacks: int, parallel: int, backend: str | None = None) -> dict[str, Any]:
    """One fleet run of ``stacks`` stacks at ``parallel``; wall, per-stack and CPU seconds."""
    sims = [
        start_simulator(SimulatorConfig(stop_delay=STOP_DELAY, rng_seed=i)) for i in range(stacks)
    ]
    try:
        with isolated_pulumi_env(backend) as root:
            cfg = sims[0].config
            env = {**os.environ, "HW_ACCESS_KEY": cfg.access_key, "HW_SECRET_KEY": cfg.secret_key}
            summary, fleet_json = root / "summary.json", root / "fleet.json"
            entries = fleet_file(sims, fleet_json)
            cpu_before, started = children_cpu(), time.perf_counter()
            args = [str(fleet_json), "--parallel", str(parallel), "--log-dir", str(root / "logs")]
            proc = subprocess.run(
                [str(DCS_MIGRATION), "fleet", *args, "--summary-json", str(summary)],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            wall = time.perf_counter() - started
            cpu = children_cpu() - cpu_before
            rows = json.loads(summary.read_text())["stacks"]
        terminated = sum(
            sim.admin.task(t)["status"] == "TERMINATED"
            for sim, entry in zip(sims, entries, strict=True)
            for t in entry["task_ids"]
        )
    finally:
        for sim in sims:
            sim.stop()
    per_stack = [r["seconds"] for r in rows]
    return {
        "stacks": stacks,
        "parallel": parallel,
        "backend": "postgres" if backend else "file",
        "exit_code": proc.returncode,
        "ok": sum(r["ok"] for r in rows),
        "tasks_terminated": terminated,
        "wall_seconds": round(wall, 2),
        "per_stack_seconds": per_stack,
        "per_stack_median": round(statistics.median(per_stack), 2),
        "per_stack_max": round(max(per_stack), 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_seconds_per_stack": round(cpu / stacks, 2),
        "stacks_per_minute": round(60 * stacks / wall, 1),
    }


# --- report -------------------------------------------------------------------------------


def analysis(components: dict[str, float], scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the limit is, computed from the numbers rather than asserted."""
    cores = os.cpu_count() or 1
    one = next(s for s in scenarios if s["stacks"] == 1)
    cpu_per_stack = statistics.median(
        s["cpu_seconds_per_stack"] for s in scenarios if s["backend"] == "file"
    )
    return {
        "cores": cores,
        "single_stack_wall": one["per_stack_median"],
        "api_share_of_single_stack": round(components["api_wait"] / one["per_stack_median"], 2),
        "cpu_seconds_per_stack": round(cpu_per_stack, 2),
        "cpu_bound_max_stacks_per_minute": round(60 * cores / cpu_per_stack, 1),
    }


def markdown(
    components: dict[str, float], scenarios: list[dict[str, Any]], verdict: dict[str, Any]
) -> str:
    """The tables for the README."""
    lines = [
        "| stacks | parallel | backend | wall (s) | per stack median / max (s) | CPU s per stack | stacks/min | ok |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for s in scenarios:
        lines.append(
            f"| {s['stacks']} | {s['parallel']} | {s['backend']} | {s['wall_seconds']} | "
            f"{s['per_stack_median']} / "
            f"{s['per_stack_max']} | {s['cpu_seconds_per_stack']} | {s['stacks_per_minute']} | "
            f"{s['ok']}/{s['stacks']} |"
        )
    lines += ["", "| component | seconds |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in components.items()]
    lines += [
        "",
        f"{verdict['cores']} cores (load average before/after: {verdict['loadavg']}); one stack takes {verdict['single_stack_wall']} s of which the API "
        f"wait is {int(100 * verdict['api_share_of_single_stack'])} %; each stack costs "
        f"{verdict['cpu_seconds_per_stack']} CPU s, so this machine tops out near "
        f"{verdict['cpu_bound_max_stacks_per_minute']} stacks/min whatever --parallel is.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only 1 and 4 stacks")
    args = parser.parse_args()
    scenarios_to_run = [s for s in SCENARIOS if s[0] < 16] if args.quick else SCENARIOS
    load_before = os.getloadavg()  # others' work on the machine skews the numbers: record it
    components = measure_components()
    print(json.dumps(components), file=sys.stderr, flush=True)
    scenarios = []
    for stacks, parallel in scenarios_to_run:
        scenarios.append(run_scenario(stacks, parallel))
        print(json.dumps(scenarios[-1]), file=sys.stderr, flush=True)
    if not args.quick:
        with postgres_backend() as url:  # the team set-up: state shared in PostgreSQL
            scenarios.append(run_scenario(16, 4, url))
        print(json.dumps(scenarios[-1]), file=sys.stderr, flush=True)
    verdict = analysis(components, scenarios)
    verdict["loadavg"] = f"{load_before[0]:.1f} / {os.getloadavg()[0]:.1f}"
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {"tasks_per_stack": TASKS_PER_STACK, "stop_delay": STOP_DELAY},
        "components": components,
        "scenarios": scenarios,
        "analysis": verdict,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(components, scenarios, verdict))


if __name__ == "__main__":
    main()
