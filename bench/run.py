"""`make bench`: the stop-and-wait engine at scale, against the official-SDK baseline.

Starts a simulator (stop delay 2 s, +/-50 % jitter per task), and for N = 1, 10, 100, 1,000 and
10,000 tasks measures, each run in a fresh process:

* wall time from the call to its return, and the overhead past the moment the last task
  reached TERMINATED in the simulator (the physical limit);
* requests sent per operation, read from the simulator's counters;
* peak memory of the process;

for this project's engine and for a naive baseline with the official SDK (bench/baseline_sdk.py).
It also times `pulumi preview` and `pulumi up` of a stack with one resource of 100 tasks, against
the bare engine. Results go to bench/results.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dcs_simulator import DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, SimulatorAdmin

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_BIN = Path(sys.executable).parent
STOP_DELAY, JITTER = 2.0, 0.5


class Simulator:
    """A `dcs-simulator` subprocess (its own process, so its memory is not counted as ours)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "dcs-simulator"),
                "--port",
                "0",
                "--stop-delay",
                str(STOP_DELAY),
                "--stop-jitter",
                str(JITTER),
                "--rng-seed",
                "7",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.url = next(w for w in line.split() if w.startswith("http://"))
        self.admin = SimulatorAdmin(self.url)
        health = self.admin.health()
        self.project_id = health.get("project_id", DEMO_PROJECT_ID)

    def close(self) -> None:
        self.admin.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def measure(script: str, n: int, workdir: Path) -> dict[str, Any]:
    """In a fresh simulator (the project holds just these n tasks), stop them with `script`."""
    sim = Simulator()
    try:
        return _measure(sim, script, n, workdir)
    finally:
        sim.close()


def _measure(sim: Simulator, script: str, n: int, workdir: Path) -> dict[str, Any]:
    ids = sim.admin.create_tasks(n)
    ids_file = workdir / f"ids-{script}-{n}.txt"
    ids_file.write_text("\n".join(ids))
    sim.admin.reset_counters()
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / script),
            "--endpoint",
            sim.url,
            "--project-id",
            sim.project_id,
            "--access-key",
            DEMO_ACCESS_KEY,
            "--secret-key",
            DEMO_SECRET_KEY,
            "--ids-file",
            str(ids_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    run = json.loads(out.stdout)
    last = sim.admin.last_terminated_at(ids)
    counters = {k: v for k, v in sim.admin.counters().items() if v}
    return {
        "n": n,
        "wall_s": run["returned"] - run["started"],
        "physical_limit_s": (last - run["started"]) if last else None,
        "overhead_s": (run["returned"] - last) if last else None,
        "requests": counters,
        "requests_total": sum(counters.values()),
        "peak_rss_mb": run["peak_rss_mb"],
        "outcomes": run["outcomes"],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run (by wall time), plus the worst overhead and every run."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    median = dict(ordered[len(ordered) // 2])
    median["overhead_max_s"] = max(r["overhead_s"] for r in runs)
    median["peak_rss_max_mb"] = max(r["peak_rss_mb"] for r in runs)
    median["runs"] = runs
    return median


def pulumi_layer(sim: Simulator, n: int = 100) -> dict[str, Any]:
    """Time `pulumi preview` and `pulumi up` of one resource with n tasks.

    The repo's Pulumi.yaml and stacks/ program in a throwaway directory, with its own file
    backend and home, the simulator's keys in the environment, as a user runs them.
    """
    with tempfile.TemporaryDirectory(prefix="bench-pulumi-") as tmp:
        root = Path(tmp)
        (root / "stacks").mkdir()
        (root / "state").mkdir()
        shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
        shutil.copy(REPO / "stacks" / "__main__.py", root / "stacks" / "__main__.py")
        (root / ".venv").symlink_to(REPO / ".venv")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HW_", "PULUMI_"))}
        env.update(
            PULUMI_HOME=str(root / "home"),
            PULUMI_BACKEND_URL=f"file://{root / 'state'}",
            PULUMI_CONFIG_PASSPHRASE="bench",
            HW_ACCESS_KEY=DEMO_ACCESS_KEY,
            HW_SECRET_KEY=DEMO_SECRET_KEY,
        )

        def pulumi(*args: str) -> None:
            subprocess.run(
                [str(VENV_BIN / "pulumi"), *args, "--non-interactive"],
                cwd=root,
                env=env,
                check=True,
                capture_output=True,
            )

        ids = sim.admin.create_tasks(n)
        pulumi("stack", "init", "bench")
        pulumi("config", "set", "dcs:endpoint", sim.url)
        pulumi("config", "set", "dcs:projectId", sim.project_id)
        pulumi(
            "config",
            "set-all",
            "--path",
            *(f"--plaintext=taskIds[{i}]={t}" for i, t in enumerate(ids)),
        )
        timings = {}
        for name, args in (("preview", ("preview",)), ("up", ("up", "--yes", "--skip-preview"))):
            started = time.perf_counter()
            pulumi(*args)
            timings[f"{name}_s"] = time.perf_counter() - started
        return timings


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| N | engine wall s | overhead s (median / worst) | physical limit s | requests (engine) "
        "| peak MB | baseline wall s | baseline overhead s | requests (baseline) | fewer requests "
        "| speed-up |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        e, b = row["engine"], row.get("baseline")
        breq = " ".join(f"{k}={v}" for k, v in b["requests"].items()) if b else "-"
        lines.append(
            f"| {row['n']:,} | {e['wall_s']:.2f} | {e['overhead_s']:.3f} / {e['overhead_max_s']:.3f} "
            f"| {e['physical_limit_s']:.2f} | "
            + " ".join(f"{k}={v}" for k, v in e["requests"].items())
            + f" | {e['peak_rss_max_mb']:.0f} | "
            + (
                f"{b['wall_s']:.2f} | {b['overhead_s']:.3f} | {breq} | "
                f"{b['requests_total'] / e['requests_total']:.1f}x | {b['wall_s'] / e['wall_s']:.2f}x |"
                if b
                else "- | - | - | - | - |"
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,10,100,1000,10000")
    parser.add_argument(
        "--baseline-max", type=int, default=10000, help="largest N for the baseline"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per N (median reported)")
    parser.add_argument("--skip-pulumi", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            runs = [measure("stop_once.py", n, Path(tmp)) for _ in range(args.repeats)]
            row: dict[str, Any] = {"n": n, "engine": summarize(runs)}
            if n <= args.baseline_max:
                base = [measure("baseline_sdk.py", n, Path(tmp)) for _ in range(args.repeats)]
                row["baseline"] = summarize(base)
            rows.append(row)
            print(f"N={n}: engine {row['engine']['wall_s']:.2f}s", file=sys.stderr, flush=True)
    engine_100 = next((r["engine"]["wall_s"] for r in rows if r["n"] == 100), None)
    layer = None
    if not args.skip_pulumi:
        sim = Simulator()
        try:
            layer = pulumi_layer(sim)
        finally:
            sim.close()
    result = {
        "stop_delay_s": STOP_DELAY,
        "jitter": JITTER,
        "rows": rows,
        "pulumi_layer_100_tasks": layer,
        "bare_engine_100_tasks_s": engine_100,
        "machine": {"cores": os.cpu_count()},
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    if layer:
        print(
            f"\n100 tasks: bare engine {engine_100:.2f}s; pulumi preview {layer['preview_s']:.2f}s; "
            f"pulumi up {layer['up_s']:.2f}s"
        )


if __name__ == "__main__":
    main()
