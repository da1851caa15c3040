"""What to do with one task now: pure functions over its last status, its stop history and the time.

The stop-and-wait engine keeps one :class:`TaskState` per task and asks :func:`decide` after
every poll; it then performs the :class:`Step` (send a stop, keep waiting, or settle the task
with an :class:`Outcome`). Nothing here does I/O or keeps state, so the rules read as tables in
the tests.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from .models import Phase, phase_of


class Outcome(enum.StrEnum):
    """What happened to one task in one run."""

    STOPPED = "stopped"  # reached TERMINATED during this run
    ALREADY_TERMINATED = "already_terminated"  # was TERMINATED before this run touched it
    FINISHED = "finished_before_stop"  # ended on its own (SUCCESS, FAILED, ...): never TERMINATED
    STOP_REQUESTED = "stop_requested"  # stop accepted, not waited for (wait=False)
    NOT_FOUND = "not_found"  # no such task, or deleted
    STOP_REJECTED = "stop_rejected"  # the API refused to stop it, repeatedly
    TIMED_OUT = "timed_out"  # still not terminated at the deadline
    INTERRUPTED = "interrupted"  # the run was cancelled before this task's stop was accepted
    NOT_IN_SYNC = "not_in_sync"  # guard: lag or key difference above its bound at the sync timeout
    LAG_UNKNOWN = "lag_unknown"  # guard: its lag could not be read, so it was not stopped
    KEYS_UNKNOWN = "keys_unknown"  # guard's key check: the stats gave no key counts, not stopped
    RUNNING = "running"  # seen running or stopping by a read (StopEngine.read), nothing sent


GOOD_OUTCOMES = frozenset({Outcome.STOPPED, Outcome.ALREADY_TERMINATED, Outcome.FINISHED})
"""Outcomes that leave a task not running."""


class Act(enum.StrEnum):
    """The engine's next action for one task."""

    STOP = "stop"  # send (or re-send) a stop request
    WAIT = "wait"  # poll again later
    READ_LAG = "read_lag"  # guard: read its lag (stats) before deciding
    WAIT_SYNC = "wait_sync"  # guard: its lag is above the bound; read it again later
    DONE = "done"  # done: the step's outcome is final


@dataclass(frozen=True)
class Step:
    """One decision: an action, and the outcome when the action is :attr:`Act.DONE`."""

    act: Act
    outcome: Outcome | None = None


WAIT = Step(Act.WAIT)
STOP = Step(Act.STOP)
READ_LAG = Step(Act.READ_LAG)
WAIT_SYNC = Step(Act.WAIT_SYNC)


@dataclass(frozen=True)
class StopPolicy:
    """The numbers the decisions depend on.

    ``max_offset`` turns the cutover guard on: a running task is stopped only once its lag
    (the stats call's ``offset``) is at most this; ``sync_deadline`` (on the engine's clock) is
    when a task still lagging is given up on, left running. ``max_key_difference`` adds the key
    check to the guard: the source's key count minus the target's must be at most this too.
    """

    resend_after: float  # a task still running this long after its stop gets it again
    max_stop_attempts: int  # stop requests per task before it counts as rejected
    max_offset: int | None = None  # the guard's bound; None: stop at once (no guard)
    sync_deadline: float = float("inf")  # when the guard stops waiting for a lagging task
    max_key_difference: int | None = None  # the key check's bound; None: the lag alone


@dataclass(frozen=True)
class TaskState:
    """What the engine knows of one task: the last status seen and its stop history."""

    status: str | None = None
    stop_attempts: int = 0  # stop requests sent (a batch refused as a whole does not count)
    stop_sent_at: float | None = None  # when the last accepted stop was sent
    seen_stopping: bool = False  # seen TERMINATING since the last accepted stop
    initially_terminated: bool = False  # TERMINATED at the first poll of this run
    offset: int | None = None  # guard: the lag last read
    offset_fresh: bool = False  # guard: read since the last poll (a poll makes it stale)
    lag_error: str | None = None  # guard: why the lag could not be read
    source_keys: int | None = None  # guard: the source's key count last read (None: not given)
    target_keys: int | None = None  # guard: the target's key count last read (None: not given)

    @property
    def key_difference(self) -> int | None:
        """The source's key count minus the target's, when both were read."""
        return key_difference(self.source_keys, self.target_keys)

    @property
    def phase(self) -> Phase:
        """The status's :class:`~.models.Phase`."""
        return phase_of(self.status)


def decide(task: TaskState, now: float, policy: StopPolicy) -> Step:
    """The next step for ``task`` at ``now``.

    A terminal status settles the task; a stopping one is waited for. A running (or unknown)
    one gets a stop if none was accepted yet, if it ran again after being seen stopping
    (restarted behind our back), or if its stop has not taken effect after ``resend_after``;
    after ``max_stop_attempts`` it is settled as rejected instead.
    """
    phase = task.phase
    if phase is Phase.TERMINATED:
        done = Outcome.ALREADY_TERMINATED if task.initially_terminated else Outcome.STOPPED
        return Step(Act.DONE, done)
    if phase is Phase.FINISHED:
        return Step(Act.DONE, Outcome.FINISHED)
    if phase is Phase.GONE:
        return Step(Act.DONE, Outcome.NOT_FOUND)
    if phase is Phase.STOPPING:
        return WAIT
    needs_stop = (
        task.stop_sent_at is None
        or task.seen_stopping
        or now - task.stop_sent_at >= policy.resend_after
    )
    if not needs_stop:
        return WAIT
    if task.stop_attempts >= policy.max_stop_attempts:
        return Step(Act.DONE, Outcome.STOP_REJECTED)
    return _guarded(task, now, policy)


def _guarded(task: TaskState, now: float, policy: StopPolicy) -> Step:
    """The cutover guard in front of a stop: only a task whose lag is within the bound (and,
    with the key check, whose target is at most ``max_key_difference`` keys short)."""
    if policy.max_offset is None:
        return STOP
    if task.lag_error is not None:
        return Step(Act.DONE, Outcome.LAG_UNKNOWN)
    if not task.offset_fresh or task.offset is None:
        return READ_LAG
    if in_sync(task, policy):
        return STOP
    if policy.max_key_difference is not None and task.key_difference is None:
        # Counts that are not given cannot be compared: never guessed, never waited for.
        return Step(Act.DONE, Outcome.KEYS_UNKNOWN)
    if now >= policy.sync_deadline:
        return Step(Act.DONE, Outcome.NOT_IN_SYNC)
    return WAIT_SYNC


def key_difference(source_keys: int | None, target_keys: int | None) -> int | None:
    """How many keys the target holds fewer than the source; None unless both were read."""
    return None if source_keys is None or target_keys is None else source_keys - target_keys


def guard_reading(offset: int, difference: int | None) -> str:
    """What the guard read, as every front end shows it: ``lag 120, key difference 10`` (the key
    difference with the key check only)."""
    keys = "" if difference is None else f", key difference {difference}"
    return f"lag {offset}{keys}"


def in_sync(task: TaskState, policy: StopPolicy) -> bool:
    """Guard: the lag last read is within ``max_offset`` and, with the key check, the key
    difference last read within ``max_key_difference``."""
    if task.offset is None or policy.max_offset is None or task.offset > policy.max_offset:
        return False
    if policy.max_key_difference is None:
        return True
    difference = task.key_difference
    return difference is not None and difference <= policy.max_key_difference


def polled(task: TaskState, status: str | None, *, first_poll: bool = False) -> TaskState:
    """``task`` after a poll that read ``status``."""
    phase = phase_of(status)
    return dataclasses.replace(
        task,
        status=status,
        offset_fresh=False,
        seen_stopping=task.seen_stopping or phase is Phase.STOPPING,
        initially_terminated=phase is Phase.TERMINATED if first_poll else task.initially_terminated,
    )


def stop_sent(task: TaskState, *, accepted: bool, now: float) -> TaskState:
    """``task`` after one stop request for it (``accepted`` per the batch's answer)."""
    task = dataclasses.replace(task, stop_attempts=task.stop_attempts + 1)
    return dataclasses.replace(task, stop_sent_at=now, seen_stopping=False) if accepted else task


def lag_read(
    task: TaskState,
    offset: int | None,
    *,
    error: str | None = None,
    keys: tuple[int | None, int | None] = (None, None),
) -> TaskState:
    """``task`` after reading its lag (``error``: why it could not be read) and, from the same
    stats answer, ``keys``: the source's and the target's key counts (None: not given)."""
    source, target = keys
    return dataclasses.replace(
        task,
        offset=offset,
        offset_fresh=True,
        lag_error=error,
        source_keys=source,
        target_keys=target,
    )
