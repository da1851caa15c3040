"""A randomized soak of stop-and-wait under random faults, checked against the simulator.

Each run draws (from one seed) a number of tasks, a mix of starting states, a fault plan and a
few changes made behind the engine's back, runs the engine, and compares every reported outcome
with the simulator's own state (:func:`truth.mismatches`). Bounded in runs and in time.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pulumi_dcs_migration.client import RetryPolicy
from pulumi_dcs_migration.engine import StopEngine, StopOptions
from pulumi_dcs_migration.errors import DcsError
from pulumi_dcs_migration.simulator import RunningSimulator

from ..helpers import client_for
from .truth import mismatches

RETRY = RetryPolicy(attempts=10, timeout=15, wait_initial=0.02, wait_max=0.2, wait_jitter=0.05)


@dataclass
class SoakResult:
    runs: int = 0
    faults_injected: int = 0
    tasks: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # runs that ended in an exception
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"soak: {self.runs} runs, {self.tasks} tasks, {self.faults_injected} faults injected, "
            f"{len(self.mismatches)} mismatches, {len(self.errors)} runs ended in an error, "
            f"outcomes {dict(sorted(self.outcomes.items()))}, {self.seconds:.1f}s"
        )


def _fault_plan(rng: random.Random) -> dict[str, Any]:
    plan: dict[str, Any] = {"seed": rng.randrange(1 << 30)}
    if rng.random() < 0.5:
        plan["throttle"] = {
            "probability": rng.uniform(0.05, 0.3),
            "retry_after": rng.choice([0.0, None]),
        }
    if rng.random() < 0.5:
        plan["server_error"] = {
            "probability": rng.uniform(0.05, 0.25),
            "status": rng.choice([500, 503]),
        }
    if rng.random() < 0.3:
        plan["drop"] = {"probability": rng.uniform(0.05, 0.2)}
    if rng.random() < 0.2:
        plan["latency"] = {"seconds": rng.uniform(0.05, 0.4), "probability": 0.1}
    return plan


def _tasks(sim: RunningSimulator, rng: random.Random) -> list[str]:
    ids = sim.admin.create_tasks(
        rng.randint(1, 60), stop_delay=rng.uniform(0.05, 0.6), stop_jitter=0.5
    )
    for status in ("TERMINATED", "SUCCESS", "TERMINATING"):
        if rng.random() < 0.3:
            ids += sim.admin.create_tasks(rng.randint(1, 3), status=status, stop_delay=0.1)
    if rng.random() < 0.2:
        ids += sim.admin.create_tasks(1, stop_delay="never")
    if rng.random() < 0.2:
        ids.append(f"{rng.getrandbits(128):032x}")  # unknown to the simulator
    rng.shuffle(ids)
    return ids


def _meddle(
    sim: RunningSimulator, rng: random.Random, ids: list[str], touched: dict[str, float]
) -> threading.Thread:
    """Restart, delete or finish a task or two at a random moment, behind the engine's back."""
    known = [t for t in ids if t in sim.state.tasks]
    actions = (
        [
            (rng.choice(known), rng.choice(["restart", "delete", "finish"]), rng.uniform(0, 0.8))
            for _ in range(rng.choice([0, 0, 1, 2]))
        ]
        if known
        else []
    )

    def act() -> None:
        for task_id, action, delay in actions:
            time.sleep(delay)
            touched[task_id] = time.time()
            if action == "delete":
                sim.admin.delete_task(task_id)
            else:
                sim.admin.set_status(task_id, "INCRMIGEATING" if action == "restart" else "SUCCESS")

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def soak(sim: RunningSimulator, *, seed: int, runs: int, max_seconds: float) -> SoakResult:
    """Run up to ``runs`` seeded stop-and-wait rounds (or until ``max_seconds``)."""
    rng = random.Random(seed)
    result = SoakResult()
    started = time.monotonic()
    while result.runs < runs and time.monotonic() - started < max_seconds:
        ids = _tasks(sim, rng)
        sim.admin.set_faults(**_fault_plan(rng))
        touched: dict[str, float] = {}
        meddler = _meddle(sim, rng, ids, touched)
        faults_before = sim.admin.counters().get("fault", 0)
        client = client_for(sim, retry=RETRY, timeout=2.0)
        try:
            with client:
                report = StopEngine(
                    client, StopOptions(timeout=4.0), rng=random.Random(rng.random())
                ).run(ids)
        except DcsError as exc:  # retries exhausted: a clear error is an allowed ending
            result.errors.append(f"run {result.runs}: {exc}")
            report = None
        meddler.join()
        sim.admin.clear_faults()
        result.faults_injected += sim.admin.counters().get("fault", 0) - faults_before
        result.runs += 1
        result.tasks += len(ids)
        if report is not None:
            result.mismatches += [
                f"run {result.runs}: {m}" for m in mismatches(report, sim.admin, touched)
            ]
            for o in report.outcomes:
                result.outcomes[o.outcome.value] = result.outcomes.get(o.outcome.value, 0) + 1
    result.seconds = time.monotonic() - started
    return result
