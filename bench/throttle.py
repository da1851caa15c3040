"""The fleet against a throttling gateway: 16 stacks x 100 tasks in one project (issue 14).

One simulator, one project of 1,600 tasks, and ``dcs-migration fleet`` running 16 stacks of 100
tasks each, all at once (``--parallel 16``), as an operator would (a subprocess; state in a fresh
file backend). The same fleet runs twice in one go, side by side:

* **throttled**: the simulator throttles like the API gateway, 20 requests per second per
  project (a token bucket of 20, answering 429 ``APIGW.0308`` with ``Retry-After``);
* **unthrottled**: the same simulator with throttling off.

For each: wall time, the requests the simulator answered, the 429s among them and their
share, the peak requests in any one second, tasks stopped, stacks failed. Every stack is its
own provider process with its own adaptive request budget, with the product's defaults (no
setting is passed). Targets: every task stopped, no stack failed, 429s at most 5 % of all
responses.

With ``--reference``, the same pair again with the ceiling lifted to 1000/s
(``HW_DCS_MAX_REQUESTS_PER_SECOND=1000``: the budget starts at 100/s, so it paces nothing and
only reacts to 429s), to show what the adaptive start costs and buys.

    .venv/bin/python bench/throttle.py            # writes bench/throttle-results.json
    .venv/bin/python bench/throttle.py --repeats 2 --reference
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dcs_simulator import SimulatorConfig, start_simulator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = REPO / ".venv"
DCS_MIGRATION = VENV / "bin" / "dcs-migration"
RESULTS = HERE / "throttle-results.json"

STACKS = 16
TASKS_PER_STACK = 100
PARALLEL = 16
GATEWAY_RATE = 20.0  # requests per second per project (burst: the same, rounded up)
STOP_DELAY = 2.0  # seconds a stopped task reads TERMINATING (the simulator's default) ...
STOP_JITTER = 0.5  # ... +/- 50 %
TARGET_429_SHARE = 0.05
NOT_REQUESTS = ("throttled", "fault", "unauthorized", "admin_refused")


@contextmanager
def isolated_pulumi_env() -> Iterator[Path]:
    """A fresh file backend, home and passphrase for us and our children."""
    with tempfile.TemporaryDirectory(prefix="throttle-bench-") as tmp:
        root = Path(tmp)
        (root / "state").mkdir()
        saved = dict(os.environ)
        os.environ.update(
            PULUMI_HOME=str(root / "home"),
            PULUMI_BACKEND_URL=f"file://{root / 'state'}",
            PULUMI_CONFIG_PASSPHRASE="bench",
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        )
        for name in [k for k in os.environ if k.startswith(("HW_", "HUAWEICLOUD_SDK_"))]:
            del os.environ[name]  # the product's defaults, whatever this shell has set
        try:
            yield root
        finally:
            os.environ.clear()
            os.environ.update(saved)


def requests_of(counters: dict[str, int]) -> int:
    """DCS requests answered (a throttled one counts under its operation too)."""
    return sum(v for k, v in counters.items() if k not in NOT_REQUESTS)


class Sampler:
    """The simulator's counters every ``period`` seconds while the fleet runs (a timeline)."""

    def __init__(self, admin: Any, period: float = 0.5) -> None:
        self._admin = admin
        self._period = period
        self._stop = threading.Event()
        self.samples: list[tuple[float, int, int]] = []  # (seconds, requests, 429s)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            counters = self._admin.counters()
            elapsed = round(time.perf_counter() - self._started, 2)
            self.samples.append((elapsed, requests_of(counters), counters.get("throttled", 0)))

    def peak_per_second(self) -> int:
        """The most requests answered in any one second (from consecutive samples)."""
        step = max(1, round(1.0 / self._period))
        pairs = zip(self.samples, self.samples[step:], strict=False)
        return max((b[1] - a[1] for a, b in pairs), default=0)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_fleet(throttled: bool, seed: int, ceiling: str | None = None) -> dict[str, Any]:
    """One fleet run of ``STACKS`` stacks in one project; what the gateway saw, and the outcome.

    ``ceiling``: ``HW_DCS_MAX_REQUESTS_PER_SECOND`` for every stack (``None``: the default)."""
    config = SimulatorConfig(
        stop_delay=STOP_DELAY,
        stop_jitter=STOP_JITTER,
        rng_seed=seed,
        throttle_rate=GATEWAY_RATE if throttled else None,
    )
    with start_simulator(config) as sim, isolated_pulumi_env() as root:
        ids = sim.admin.create_tasks(STACKS * TASKS_PER_STACK)
        entries = [
            {
                "name": f"throttle-{index:02d}",
                "endpoint": sim.url,
                "project_id": config.project_id,
                "task_ids": ids[index * TASKS_PER_STACK : (index + 1) * TASKS_PER_STACK],
            }
            for index in range(STACKS)
        ]
        fleet_json, summary = root / "fleet.json", root / "summary.json"
        fleet_json.write_text(json.dumps({"stacks": entries}))
        env = {**os.environ, "HW_ACCESS_KEY": config.access_key, "HW_SECRET_KEY": config.secret_key}
        if ceiling is not None:
            env["HW_DCS_MAX_REQUESTS_PER_SECOND"] = ceiling
        args = [str(fleet_json), "--parallel", str(PARALLEL), "--log-dir", str(root / "logs")]
        sim.admin.reset_counters()
        cpu_before, started = children_cpu(), time.perf_counter()
        with Sampler(sim.admin) as sampler:
            proc = subprocess.run(
                [str(DCS_MIGRATION), "fleet", *args, "--summary-json", str(summary)],
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu_before
        counters = sim.admin.counters()
        rows = json.loads(summary.read_text())["stacks"] if summary.exists() else []
        logs = "".join(p.read_text() for p in sorted((root / "logs").glob("*.log")))
        stopped = sum(sim.admin.task(t)["status"] == "TERMINATED" for t in ids)
    requests = requests_of(counters)
    throttled_count = counters.get("throttled", 0)
    failed = [r["stack"] for r in rows if not r["ok"]]
    return {
        "gateway": f"{GATEWAY_RATE:g}/s" if throttled else "off",
        "ceiling": f"{ceiling}/s" if ceiling else "default",
        "exit_code": proc.returncode,
        "wall_seconds": round(wall, 1),
        "requests": requests,
        "throttled_429": throttled_count,
        "share_429": round(throttled_count / requests, 4) if requests else 0.0,
        "peak_requests_per_second": sampler.peak_per_second(),
        "by_operation": {k: v for k, v in sorted(counters.items()) if k not in NOT_REQUESTS},
        "retry_lines": logs.count("retrying a DCS call"),
        "tasks": len(ids),
        "tasks_stopped": stopped,
        "stacks": STACKS,
        "stacks_failed": len(failed),
        "failed": failed,
        "cpu_seconds": round(cpu, 1),
        "timeline": sampler.samples,
        "stderr_tail": proc.stderr[-2000:] if proc.returncode else "",
    }


def verdict(run: dict[str, Any]) -> str:
    """Which targets a throttled run met."""
    gaps = []
    if run["tasks_stopped"] != run["tasks"]:
        gaps.append(f"{run['tasks'] - run['tasks_stopped']} task(s) not stopped")
    if run["stacks_failed"]:
        gaps.append(f"{run['stacks_failed']} stack(s) failed")
    if run["share_429"] > TARGET_429_SHARE:
        gaps.append(f"429 share {100 * run['share_429']:.1f} % > {100 * TARGET_429_SHARE:g} %")
    return "targets met" if not gaps else "; ".join(gaps)


def markdown(runs: list[dict[str, Any]], load: tuple[list[float], list[float]]) -> str:
    """The README table: throttled and unthrottled side by side."""
    lines = [
        "| gateway | ceiling | wall (s) | requests | 429s | 429 share | peak req/s | tasks stopped | stacks failed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['gateway']} | {r['ceiling']} | {r['wall_seconds']} | {r['requests']} | "
            f"{r['throttled_429']} | "
            f"{100 * r['share_429']:.1f} % | {r['peak_requests_per_second']} | "
            f"{r['tasks_stopped']}/{r['tasks']} | {r['stacks_failed']}/{r['stacks']} |"
        )
    before, after = load
    lines += [
        "",
        f"{STACKS} stacks x {TASKS_PER_STACK} tasks in one project, --parallel {PARALLEL}; stop "
        f"delay {STOP_DELAY:g} s +/- {100 * STOP_JITTER:g} %; {os.cpu_count()} cores, load "
        f"average before/after {before[0]:.1f} / {after[0]:.1f}.",
    ]
    lines += [
        f"Throttled run {i + 1} (ceiling {r['ceiling']}): {verdict(r)}."
        for i, r in enumerate(x for x in runs if x["gateway"] != "off")
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="pairs of runs (interleaved)")
    parser.add_argument("--throttled-only", action="store_true", help="skip the unthrottled runs")
    parser.add_argument(
        "--reference", action="store_true", help="also run with the ceiling lifted to 1000/s"
    )
    args = parser.parse_args()
    ceilings: list[str | None] = [None, "1000"] if args.reference else [None]
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        for ceiling in ceilings:  # interleaved: the machine's load hits every kind alike
            for throttled in (True, False)[: 1 if args.throttled_only else 2]:
                runs.append(run_fleet(throttled, seed=repeat, ceiling=ceiling))
                shown = {k: v for k, v in runs[-1].items() if k != "timeline"}
                print(json.dumps(shown), file=sys.stderr, flush=True)
    load_after = [round(x, 2) for x in os.getloadavg()]
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "settings": {
            "stacks": STACKS,
            "tasks_per_stack": TASKS_PER_STACK,
            "parallel": PARALLEL,
            "gateway_rate": GATEWAY_RATE,
            "stop_delay": STOP_DELAY,
            "stop_jitter": STOP_JITTER,
        },
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(runs, (load_before, load_after)))


if __name__ == "__main__":
    main()
