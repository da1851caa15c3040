"""What to do with one task now: the engine's decisions, read as a table."""

from __future__ import annotations

import pytest

from pulumi_dcs_migration.decisions import (
    READ_LAG,
    STOP,
    WAIT,
    WAIT_SYNC,
    Act,
    Outcome,
    Step,
    StopPolicy,
    TaskState,
    decide,
    lag_read,
    polled,
    stop_sent,
)

POLICY = StopPolicy(resend_after=5.0, max_stop_attempts=3)
GUARD = StopPolicy(resend_after=5.0, max_stop_attempts=3, max_offset=100, sync_deadline=60.0)
KEYS = StopPolicy(
    resend_after=5.0, max_stop_attempts=3, max_offset=100, sync_deadline=60.0, max_key_difference=0
)


def counted(offset: int, source: int | None, target: int | None) -> TaskState:
    """A running task whose lag and key counts were just read."""
    return lag_read(TaskState("INCRMIGEATING"), offset, keys=(source, target))


def settle(outcome: Outcome) -> Step:
    return Step(Act.DONE, outcome)


ROWS = [
    # (case, state, now, policy, step)
    (
        "terminated at the first look",
        TaskState("TERMINATED", initially_terminated=True),
        0,
        POLICY,
        settle(Outcome.ALREADY_TERMINATED),
    ),
    (
        "terminated after our stop",
        TaskState("TERMINATED", 1, 0.0),
        3,
        POLICY,
        settle(Outcome.STOPPED),
    ),
    ("finished on its own", TaskState("SUCCESS"), 0, POLICY, settle(Outcome.FINISHED)),
    ("failed on its own", TaskState("FAILED"), 0, POLICY, settle(Outcome.FINISHED)),
    ("deleted", TaskState("DELETED"), 0, POLICY, settle(Outcome.NOT_FOUND)),
    ("stopping", TaskState("TERMINATING"), 0, POLICY, WAIT),
    ("running, never stopped", TaskState("INCRMIGEATING"), 0, POLICY, STOP),
    ("unknown status, never stopped", TaskState("SOMETHING_NEW"), 0, POLICY, STOP),
    ("running, stop sent just now", TaskState("INCRMIGEATING", 1, 10.0), 12, POLICY, WAIT),
    ("running, stop not taken after 5 s", TaskState("INCRMIGEATING", 1, 10.0), 15, POLICY, STOP),
    (
        "running again after stopping",
        TaskState("INCRMIGEATING", 1, 10.0, seen_stopping=True),
        11,
        POLICY,
        STOP,
    ),
    (
        "running, out of attempts",
        TaskState("INCRMIGEATING", 3, 10.0),
        20,
        POLICY,
        settle(Outcome.STOP_REJECTED),
    ),
    ("guard: lag not read yet", TaskState("INCRMIGEATING"), 0, GUARD, READ_LAG),
    (
        "guard: lag read in an earlier look",
        TaskState("INCRMIGEATING", offset=10, offset_fresh=False),
        0,
        GUARD,
        READ_LAG,
    ),
    ("guard: in sync", TaskState("INCRMIGEATING", offset=100, offset_fresh=True), 0, GUARD, STOP),
    (
        "guard: lagging",
        TaskState("INCRMIGEATING", offset=101, offset_fresh=True),
        10,
        GUARD,
        WAIT_SYNC,
    ),
    (
        "guard: lagging at the sync deadline",
        TaskState("INCRMIGEATING", offset=101, offset_fresh=True),
        60,
        GUARD,
        settle(Outcome.NOT_IN_SYNC),
    ),
    (
        "guard: lag unreadable",
        TaskState("INCRMIGEATING", offset_fresh=True, lag_error="500"),
        0,
        GUARD,
        settle(Outcome.LAG_UNKNOWN),
    ),
    ("guard: stopping needs no lag", TaskState("TERMINATING"), 0, GUARD, WAIT),
    (
        "guard: terminated needs no lag",
        TaskState("TERMINATED", initially_terminated=True),
        0,
        GUARD,
        settle(Outcome.ALREADY_TERMINATED),
    ),
    (
        "guard: restarted after our stop",
        TaskState("INCRMIGEATING", 1, 1.0, seen_stopping=True),
        2,
        GUARD,
        READ_LAG,
    ),
    ("keys: in sync, same count", counted(100, 1000, 1000), 0, KEYS, STOP),
    ("keys: in sync, target 10 short", counted(0, 1000, 990), 10, KEYS, WAIT_SYNC),
    (
        "keys: target short at the sync deadline",
        counted(0, 1000, 990),
        60,
        KEYS,
        settle(Outcome.NOT_IN_SYNC),
    ),
    ("keys: lagging, same count", counted(101, 1000, 1000), 10, KEYS, WAIT_SYNC),
    ("keys: target holds more", counted(0, 1000, 1001), 0, KEYS, STOP),
    ("keys: no target count", counted(0, 1000, None), 0, KEYS, settle(Outcome.KEYS_UNKNOWN)),
    ("keys: no source count", counted(101, None, 1000), 0, KEYS, settle(Outcome.KEYS_UNKNOWN)),
    ("keys: lag alone without the check", counted(0, 1000, None), 0, GUARD, STOP),
    ("keys: lag not read yet", TaskState("INCRMIGEATING"), 0, KEYS, READ_LAG),
]


@pytest.mark.parametrize(
    ("state", "now", "policy", "step"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_decide(state: TaskState, now: float, policy: StopPolicy, step: Step) -> None:
    assert decide(state, now, policy) == step


def test_a_look_makes_the_lag_stale_and_notes_a_stop_in_progress() -> None:
    state = lag_read(TaskState("INCRMIGEATING"), 50)
    assert state.offset_fresh
    after = polled(state, "TERMINATING")
    assert not after.offset_fresh and after.offset == 50 and after.seen_stopping
    assert polled(TaskState(), "TERMINATED", first_poll=True).initially_terminated


def test_a_stop_counts_as_an_attempt_and_an_accepted_one_restarts_the_clock() -> None:
    refused = stop_sent(TaskState("INCRMIGEATING"), accepted=False, now=1.0)
    assert (refused.stop_attempts, refused.stop_sent_at) == (1, None)
    accepted = stop_sent(TaskState("INCRMIGEATING", seen_stopping=True), accepted=True, now=2.0)
    assert (accepted.stop_attempts, accepted.stop_sent_at, accepted.seen_stopping) == (
        1,
        2.0,
        False,
    )
