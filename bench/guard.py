"""`make bench-guard`: how soon after a task catches up the cutover guard stops it.

A `dcs-simulator` subprocess holds TASKS tasks whose sources are frozen, each with its own lag
draining at DRAIN bytes/s, so that they reach the bound one after another over about ten
seconds (real time). The engine (in this process) stops them with `max_offset = BOUND`. For each
task the simulator's model gives the moment its offset reached the bound, and its own record
gives the moment the stop arrived and the offset then. Reported: the delay between the two
(target: at most 0.25 s), that no task was stopped above the bound, and the stats requests per
task. Results: bench/guard-results.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from dcs_simulator import SimulatorAdmin
from dcs_simulator.testing import client_for_url
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
TASKS, BOUND, DRAIN, ROUNDS = 10, 1000, 5000.0, 3


def one_round() -> dict[str, Any]:
    sim = subprocess.Popen(
        [str(VENV_BIN / "dcs-simulator"), "--port", "0", "--stop-delay", "0.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        url = next(w for w in sim.stdout.readline().split() if w.startswith("http://"))
        admin = SimulatorAdmin(url)
        ids = admin.create_tasks(TASKS)
        for n, task_id in enumerate(ids):  # in sync after 1, 2, ... 10 s
            admin.set_lag(task_id, offset=BOUND + DRAIN * (n + 1), drain_rate=DRAIN, frozen=True)
        views = {t: admin.task(t) for t in ids}
        in_sync_at = {t: v["lag_since"] + (v["lag"] - BOUND) / DRAIN for t, v in views.items()}
        admin.reset_counters()
        with client_for_url(url) as client:
            report = StopEngine(client, StopOptions(timeout=120, max_offset=BOUND)).run(ids)
        records = {r["task_id"]: r for r in admin.stop_records(ids)}
        counters = admin.counters()
        admin.close()
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes), report.outcomes
    delays = [records[t]["at"] - in_sync_at[t] for t in ids]
    return {
        "delays_s": [round(d, 4) for d in delays],
        "offsets_at_stop": [records[t]["offset"] for t in ids],
        "stats_requests": counters.get("stats", 0),
        "list_requests": counters.get("list", 0),
        "batch_stop_requests": counters.get("batch_stop", 0),
    }


def main() -> int:
    """Measure ROUNDS rounds; print a summary; write bench/guard-results.json."""
    load_before = os.getloadavg()[0]
    rounds = [one_round() for _ in range(ROUNDS)]
    delays = [d for r in rounds for d in r["delays_s"]]
    above = [o for r in rounds for o in r["offsets_at_stop"] if o > BOUND]
    summary = {
        "tasks": TASKS,
        "bound": BOUND,
        "drain_bytes_per_s": DRAIN,
        "rounds": rounds,
        "delay_median_s": round(statistics.median(delays), 4),
        "delay_max_s": round(max(delays), 4),
        "stopped_above_the_bound": len(above),
        "stats_requests_per_task": round(
            statistics.mean(r["stats_requests"] for r in rounds) / TASKS, 2
        ),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    print(
        f"cutover guard, {TASKS} tasks x {ROUNDS} rounds: stop sent {summary['delay_median_s']}s "
        f"(median) / {summary['delay_max_s']}s (max) after the offset reached the bound; "
        f"{len(above)} stopped above it; {summary['stats_requests_per_task']} stats requests "
        f"per task (load {load_before:.1f} -> {summary['load_after']:.1f})"
    )
    (HERE / "guard-results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if not above and summary["delay_max_s"] <= 0.25 else 1


if __name__ == "__main__":
    sys.exit(main())
