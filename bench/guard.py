"""`make bench-guard`: how soon after a task catches up the cutover guard stops it.

A `dcs-simulator` subprocess holds TASKS tasks whose sources are frozen, each with its own lag
draining at DRAIN bytes/s, so that they reach the bound one after another over about ten
seconds (real time). The engine (in this process) stops them with `max_offset = BOUND`. For each
task the simulator's model gives the moment its offset reached the bound, and its own record
gives the moment the stop arrived and the offset then. Reported: the delay between the two
(target: at most 0.25 s), that no task was stopped above the bound, and the stats requests per
task. Results: bench/guard-results.json.

``--keys`` (issue 23) adds the key check (``max_key_difference = 0``): the lags start at DRAIN x
1, 2, ... 10 bytes, so each task reaches both bounds when its lag reaches 0 (the simulator's
target lacks a key per 100 bytes of lag); and STEP more tasks in sync whose target is 10 keys
short until the bench sets the same count at a moment of its own (a step nothing can predict).
Reported: the delay from the moment both bounds were reached to the stop, for each kind, and no
stop with a key difference. Results: bench/guard-keys-results.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dcs_simulator import SimulatorAdmin
from dcs_simulator.testing import client_for_url
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
TASKS, BOUND, DRAIN, ROUNDS = 10, 1000, 5000.0, 3
STEP = 5  # --keys: tasks whose target gets its missing keys at once, at a moment in 1-10 s
KEYS = "--keys" in sys.argv[1:]


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
        start = 0 if KEYS else BOUND  # with the key check: both bounds once the lag is 0
        for n, task_id in enumerate(ids):  # in sync after 1, 2, ... 10 s
            admin.set_lag(task_id, offset=start + DRAIN * (n + 1), drain_rate=DRAIN, frozen=True)
        views = {t: admin.task(t) for t in ids}
        in_sync_at = {t: v["lag_since"] + (v["lag"] - start) / DRAIN for t, v in views.items()}
        steps = admin.create_tasks(STEP) if KEYS else []
        timers = [_step_later(admin, t, in_sync_at) for t in steps]
        admin.reset_counters()
        options = StopOptions(timeout=120, max_offset=BOUND, max_key_difference=0 if KEYS else None)
        with client_for_url(url) as client:
            report = StopEngine(client, options).run(ids + steps)
        for timer in timers:
            timer.join()
        records = {r["task_id"]: r for r in admin.stop_records(ids + steps)}
        counters = admin.counters()
        admin.close()
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes), report.outcomes
    delays = [records[t]["at"] - in_sync_at[t] for t in ids]
    stepped = [records[t]["at"] - in_sync_at[t] for t in steps]
    return {
        "delays_s": [round(d, 4) for d in delays],
        **({"step_delays_s": [round(d, 4) for d in stepped]} if KEYS else {}),
        **({"key_differences_at_stop": _differences(records)} if KEYS else {}),
        "offsets_at_stop": [records[t]["offset"] for t in ids],
        "stats_requests": counters.get("stats", 0),
        "list_requests": counters.get("list", 0),
        "batch_stop_requests": counters.get("batch_stop", 0),
    }


def _step_later(admin: SimulatorAdmin, task_id: str, moments: dict[str, float]) -> threading.Thread:
    """--keys: the target of ``task_id`` lacks 10 keys until a random moment in 1-10 s; the
    moment is noted (just before the request: the delay measured is never too short)."""
    admin.set_keys(task_id, source=1000, target=990)
    wait = random.uniform(1.0, 10.0)

    def catch_up() -> None:
        time.sleep(wait)
        moments[task_id] = time.time()
        SimulatorAdmin(admin.base_url).set_keys(task_id, source=1000, target=1000)

    thread = threading.Thread(target=catch_up)
    thread.start()
    return thread


def _differences(records: dict[str, dict[str, Any]]) -> list[int]:
    return [r["source_keys"] - r["target_keys"] for r in records.values()]


def main() -> int:
    """Measure ROUNDS rounds; print a summary; write bench/guard-results.json."""
    load_before = os.getloadavg()[0]
    rounds = [one_round() for _ in range(ROUNDS)]
    delays = [d for r in rounds for d in r["delays_s"]]
    above = [o for r in rounds for o in r["offsets_at_stop"] if o > BOUND]
    above += [d for r in rounds for d in r.get("key_differences_at_stop", []) if d > 0]
    steps = [d for r in rounds for d in r.get("step_delays_s", [])]
    summary = {
        "tasks": TASKS,
        "bound": BOUND,
        "drain_bytes_per_s": DRAIN,
        "rounds": rounds,
        "delay_median_s": round(statistics.median(delays), 4),
        "delay_max_s": round(max(delays), 4),
        **(
            {
                "step_delay_median_s": round(statistics.median(steps), 4),
                "step_delay_max_s": round(max(steps), 4),
            }
            if KEYS
            else {}
        ),
        "stopped_above_the_bound": len(above),
        "stats_requests_per_task": round(
            statistics.mean(r["stats_requests"] for r in rounds) / (TASKS + (STEP if KEYS else 0)),
            2,
        ),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    print(
        f"cutover guard{' with the key check' if KEYS else ''}, {TASKS} tasks x {ROUNDS} rounds: "
        f"stop sent {summary['delay_median_s']}s (median) / {summary['delay_max_s']}s (max) after "
        f"the bound(s) were reached; {len(above)} stopped above them; "
        f"{summary['stats_requests_per_task']} stats requests per task "
        f"(load {load_before:.1f} -> {summary['load_after']:.1f})"
    )
    if KEYS:
        print(
            f"  a step to the same count ({STEP} tasks x {ROUNDS}): stop sent "
            f"{summary['step_delay_median_s']}s (median) / {summary['step_delay_max_s']}s (max) after"
        )
    name = "guard-keys-results.json" if KEYS else "guard-results.json"
    (HERE / name).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if not above and summary["delay_max_s"] <= 0.25 else 1


if __name__ == "__main__":
    sys.exit(main())
