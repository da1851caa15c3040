"""What the two shared-state backends' tests (PostgreSQL, S3) check the same way: two runs of one
stack and Pulumi's lock.

Pulumi's DIY lock (v3.274.1, pkg/backend/diy/lock.go) is an object or row
``.pulumi/locks/<org>/<project>/<stack>/<uuid>.json``: ``up`` lists locks, writes its own, lists
again and gives up if any other exists. So two runs can never both proceed on a store that lists
what was just written, and two that write at the same instant may both give up (there is no
compare-and-swap). The helpers here make the first run hold the lock for as long as a test needs
(its tasks never stop on their own), so no test depends on a stop delay outlasting a start-up.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import poll_until

from ..e2e.pulumi_project import PULUMI, PulumiProject

LOCKED = "the stack is currently locked by 1 lock(s)"
UP = ("up", "--yes", "--skip-preview", "--non-interactive", "--color", "never")
RACE_ROUNDS = 5
"""Rounds of :func:`race_two_ups`: a round in which both runs gave up (seen here 3 times in about
40 tries) is checked to be harmless and started again; five such rounds in a row would be a real
liveness problem."""


def start_up(project: PulumiProject) -> subprocess.Popen[str]:
    """``pulumi up`` of ``project`` in the background."""
    return subprocess.Popen(
        [str(PULUMI), *UP],
        cwd=project.program_dir,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Exit code and output of a background run (the timeout guards against hangs only)."""
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out + err


def never_stopping_tasks(
    factory: Callable[..., RunningSimulator],
) -> tuple[RunningSimulator, list[str]]:
    """Two tasks that stay TERMINATING until :func:`finish_stops`: an ``up`` of them holds the
    stack's lock until then, however slow the machine."""
    sim = factory()
    return sim, sim.admin.create_tasks(2, stop_delay="never")


def wait_for_stops(
    sim: RunningSimulator, ids: list[str], runs: list[subprocess.Popen[str]]
) -> bool:
    """Until an ``up`` has sent its stops (True: it is inside the update, holding the lock) or
    every run has ended (False)."""
    seen = poll_until(
        lambda: (sim.admin.statuses(ids), all(p.poll() is not None for p in runs)),
        lambda now: now[0] == ["TERMINATING"] * len(ids) or now[1],
        timeout=300,
        interval=0.05,
        what="the stops of the run holding the lock",
    )
    return seen[0] == ["TERMINATING"] * len(ids)


def finish_stops(sim: RunningSimulator, ids: list[str], runs: list[subprocess.Popen[str]]) -> None:
    """Once an ``up`` has sent its stops (or every run has ended), let the API complete them."""
    wait_for_stops(sim, ids, runs)
    for task_id in ids:
        sim.admin.set_status(task_id, "TERMINATED")


def assert_state_intact(project: PulumiProject, sim: RunningSimulator, ids: list[str]) -> None:
    """The stack exports, holds the resource with every task, and one more up changes nothing."""
    exported = json.loads(project.export())
    ours = [
        r
        for r in exported["deployment"]["resources"]
        if r["type"].endswith("MigrationTasksStopped")
    ]
    assert len(ours) == 1 and sorted(ours[0]["outputs"]["terminated_ids"]) == sorted(ids)
    assert not exported["deployment"].get("pending_operations")
    sim.admin.reset_counters()
    again = project.pulumi("up", "--yes", "--skip-preview")
    assert "2 unchanged" in again.stdout and "created" not in again.stdout  # stack + resource
    assert sim.admin.counters().get("batch_stop", 0) == 0


def race_two_ups(
    project: PulumiProject,
    sim: RunningSimulator,
    ids: list[str],
    locks_left: Callable[[], list[str]],
) -> list[tuple[int, str]]:
    """Start two ``up`` of one stack at once until a round has a winner; return that round.

    A round where both gave up must leave no trace (no stop sent, no lock left) before the next.
    """
    transcripts: list[str] = []
    for _ in range(RACE_ROUNDS):
        procs = [start_up(project), start_up(project)]
        if wait_for_stops(sim, ids, procs):  # one is inside the update, holding the lock
            for task_id in ids:
                sim.admin.set_status(task_id, "TERMINATED")
            return [finish(p) for p in procs]
        results = [finish(p) for p in procs]
        transcripts += [out for _, out in results]
        assert all(code != 0 and LOCKED in out for code, out in results), transcripts
        assert sim.admin.counters().get("batch_stop", 0) == 0
        assert sim.admin.statuses(ids) == ["INCRMIGEATING"] * 2
        assert not locks_left()
    raise AssertionError(f"no winner in {RACE_ROUNDS} rounds:\n" + "\n---\n".join(transcripts))


def assert_exactly_one_won(
    results: list[tuple[int, str]], sim: RunningSimulator, ids: list[str]
) -> None:
    """Safety: never both; the loser met the winner's lock; one batch-stop in all."""
    winners = [out for code, out in results if code == 0]
    losers = [out for code, out in results if code != 0]
    assert len(winners) == 1, "\n---\n".join(out for _, out in results)
    assert all(LOCKED in out for out in losers), losers
    assert sim.admin.counters()["batch_stop"] == 1
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 2
