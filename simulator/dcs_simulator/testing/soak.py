"""A seeded soak of stop-and-wait under random faults, checked against the simulator.

Each run draws (from one seed) a number of tasks, a mix of starting states, a fault plan and a
few changes made behind the engine's back, runs the engine, and compares every reported outcome
with the simulator's own state (:func:`.truth.mismatches`).

Deterministic for a seed: the simulator and the engine share one :class:`~.VirtualClock`, the
changes behind the engine's back are scheduled on it (they happen while the engine sleeps, at
the drawn virtual moments), requests go out one at a time (so the seeded fault plan sees the
same sequence), and retries are bounded in attempts, not in time. The same seed gives the same
faults, the same meddling and the same outcomes, however busy the machine.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from pulumi_dcs_migration.engine import StopEngine, StopOptions, StopReport
from pulumi_dcs_migration.errors import DcsError
from pulumi_dcs_migration.policy import RetryPolicy, show_retries

from ..config import SimulatorConfig
from ..server import RunningSimulator, start_simulator
from . import VirtualClock, client_for
from .truth import mismatches

# Bounded in attempts only: a time bound would make a busy machine end runs differently.
RETRY = RetryPolicy(attempts=10, timeout=600, wait_initial=0.001, wait_max=0.005, wait_jitter=0)
REQUEST_TIMEOUT = 30.0  # far above any injected latency: a timeout would depend on the machine


@dataclass
class SoakResult:
    """What a soak saw; :meth:`summary` is its one-line report."""

    runs: int = 0
    faults_injected: int = 0
    tasks: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # runs that ended in an exception
    seconds: float = 0.0
    trace: list[str] = field(default_factory=list)  # one line per run: its outcomes, for replay

    def summary(self) -> str:
        """``soak: N runs, ... mismatches, ...``."""
        return (
            f"soak: {self.runs} runs, {self.tasks} tasks, {self.faults_injected} faults injected, "
            f"{len(self.mismatches)} mismatches, {len(self.errors)} runs ended in an error, "
            f"outcomes {dict(sorted(self.outcomes.items()))}, {self.seconds:.1f}s"
        )

    def digest(self) -> str:
        """A fingerprint of every run's outcomes: equal for equal seeds."""
        return hashlib.sha256("\n".join(self.trace).encode()).hexdigest()[:16]


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
        plan["latency"] = {"seconds": rng.uniform(0.001, 0.02), "probability": 0.1}
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
    sim: RunningSimulator,
    clock: VirtualClock,
    rng: random.Random,
    ids: list[str],
    touched: dict[str, float],
) -> None:
    """Schedule a restart, delete or finish of a task or two, behind the engine's back."""
    known = [t for t in ids if t in sim.state.tasks]
    if not known:
        return
    start = clock.now()
    for _ in range(rng.choice([0, 0, 1, 2])):
        task_id, action = rng.choice(known), rng.choice(["restart", "delete", "finish"])
        moment = start + rng.uniform(0, 0.8)

        def act(task_id: str = task_id, action: str = action) -> None:
            if action == "delete":
                sim.admin.delete_task(task_id)
            else:
                sim.admin.set_status(task_id, "INCRMIGEATING" if action == "restart" else "SUCCESS")
            touched[task_id] = clock.now()  # applied: the admin call has returned

        clock.at(moment, act)


def soak(
    sim: RunningSimulator, clock: VirtualClock, *, seed: int, runs: int, max_seconds: float
) -> SoakResult:
    """Run up to ``runs`` seeded stop-and-wait rounds (or until ``max_seconds`` of real time).

    ``sim`` must run on ``clock`` (``start_simulator(config, clock=clock.now)``).
    """
    rng = random.Random(seed)
    result = SoakResult()
    started = time.monotonic()
    while result.runs < runs and time.monotonic() - started < max_seconds:
        report, touched, ids = _one_run(sim, clock, rng, result)
        result.runs += 1
        result.tasks += len(ids)
        if report is not None:
            result.mismatches += [
                f"run {result.runs}: {m}" for m in mismatches(report, sim.admin, touched)
            ]
            for o in report.outcomes:
                result.outcomes[o.outcome.value] = result.outcomes.get(o.outcome.value, 0) + 1
            result.trace.append(
                f"{result.runs}: "
                + " ".join(f"{o.task_id[:8]}={o.outcome.value}" for o in report.outcomes)
            )
    result.seconds = time.monotonic() - started
    return result


def _one_run(
    sim: RunningSimulator, clock: VirtualClock, rng: random.Random, result: SoakResult
) -> tuple[StopReport | None, dict[str, float], list[str]]:
    ids = _tasks(sim, rng)
    sim.admin.set_faults(**_fault_plan(rng))
    touched: dict[str, float] = {}
    _meddle(sim, clock, rng, ids, touched)
    faults_before = sim.admin.counters().get("fault", 0)
    options = StopOptions(timeout=4.0, concurrency=1)
    engine_rng = random.Random(rng.random())
    report: StopReport | None = None
    try:
        with client_for(sim, retry=RETRY, timeout=REQUEST_TIMEOUT, clock=clock) as client:
            engine = StopEngine(client, options, clock=clock, rng=engine_rng)
            report = engine.run(ids)
    except DcsError as exc:  # retries exhausted: a clear error is an allowed ending
        result.errors.append(f"run {result.runs + 1}: {exc}")
        result.trace.append(f"{result.runs + 1}: error {type(exc).__name__}")
    finally:
        clock.clear()  # what the engine did not live to see never happens
        sim.admin.clear_faults()
    result.faults_injected += sim.admin.counters().get("fault", 0) - faults_before
    return report, touched, ids


def run_soak(*, seed: int, runs: int, max_seconds: float, stop_delay: float = 0.2) -> SoakResult:
    """A soak on a simulator of its own, started on a fresh virtual clock.

    Retries are expected by the thousand here: their log lines are silenced.
    """
    show_retries(lambda _line: None)
    clock = VirtualClock()
    config = SimulatorConfig(stop_delay=stop_delay, rng_seed=seed)
    with start_simulator(config, clock=clock.now) as sim:
        return soak(sim, clock, seed=seed, runs=runs, max_seconds=max_seconds)
