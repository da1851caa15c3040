"""The stop-and-wait engine against an in-memory fake of the client, on a virtual clock."""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from dcs_simulator.testing import VirtualClock
from pulumi_dcs_migration.engine import (
    Outcome,
    ProgressEvent,
    StopEngine,
    StopOptions,
)
from pulumi_dcs_migration.errors import DcsApiError, ServerError, TaskNotFoundError
from pulumi_dcs_migration.lifecycle import PULUMI, entry, incomplete_message, outputs
from pulumi_dcs_migration.models import (
    BatchItemResult,
    MigrationTask,
    MigrationTaskStats,
    TaskStatusItem,
    TaskStatusPage,
)
from pulumi_dcs_migration.plugin.provider import status_line


@dataclass
class FakeTask:
    status: str
    stop_at: float | None = None
    delay: float = 1.0
    refuse: int = 0  # answer "failed" to this many stops
    # the cutover guard: lag (bytes) at lag_at, growing by write/s or draining by drain/s
    lag: float = 0.0
    lag_at: float = 0.0
    write: float = 0.0
    drain: float = 0.0
    stats_errors: int = 0  # answer stats with a 500 this many times
    offset_at_stop: int | None = None
    stopped_at: float | None = None
    # the key check: the source holds `source` keys, the target `short` fewer at t = 0, falling by
    # `catch_up` keys/s; None: the stats answer leaves that count out
    source: int | None = 1000
    short: float = 0.0
    catch_up: float = 0.0
    no_target: bool = False

    def keys(self, now: float) -> tuple[str | None, str | None]:
        """The stats answer's key counts (strings, as on the wire), frozen at a stop."""
        moment = self.stopped_at if self.stopped_at is not None else now
        short = max(0, math.ceil(self.short - self.catch_up * moment))
        target = None if self.no_target or self.source is None else self.source - short
        return (
            None if self.source is None else str(self.source),
            None if target is None else str(target),
        )

    def offset(self, now: float) -> int:
        if self.stopped_at is not None:
            return self.offset_at_stop or 0
        elapsed = now - self.lag_at
        lag = self.lag + self.write * elapsed if self.write else self.lag - self.drain * elapsed
        return max(0, math.ceil(lag))

    def set_rates(self, now: float, *, write: float, drain: float) -> None:
        self.lag, self.lag_at = float(self.offset(now)), now
        self.write, self.drain = write, drain


@dataclass
class FakeDcs:
    """Just enough of DcsClient for the engine (a :class:`StopApi`), on a shared virtual clock."""

    clock: VirtualClock
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    reject_whole_batch_with: set[str] = field(default_factory=set)
    # Called with the task id before each details call answers: a change behind the engine's back.
    before_show: Callable[[str], None] | None = None

    lock: threading.Lock = field(default_factory=threading.Lock)  # the engine calls from threads
    deadlines: list[float | None] = field(default_factory=list)  # what the engine bounded us by

    @contextlib.contextmanager
    def deadline(self, at: float | None) -> Iterator[None]:
        self.deadlines.append(at)
        yield

    def pace(self, requests: int, interval: float) -> float:
        return interval  # no rate limit

    def _tick(self, op: str) -> None:
        with self.lock:
            self.calls[op] = self.calls.get(op, 0) + 1
        now = self.clock.now()
        for t in self.tasks.values():
            if t.status == "TERMINATING" and t.stop_at is not None and now >= t.stop_at:
                t.status = "TERMINATED"

    def list_task_statuses(self, *, offset: int = 0, limit: int = 1000) -> TaskStatusPage:
        self._tick("list")
        visible = [(k, v) for k, v in self.tasks.items() if v.status != "DELETED"]
        page = visible[offset : offset + limit]
        return TaskStatusPage(
            count=len(visible),
            migration_tasks=[TaskStatusItem(task_id=k, status=v.status) for k, v in page],
        )

    def get_task(self, task_id: str) -> MigrationTask:
        if self.before_show is not None:
            self.before_show(task_id)
        self._tick("show")
        t = self.tasks.get(task_id)
        if t is None or t.status == "DELETED":
            raise TaskNotFoundError("show task", 400, "DCS.4133", "Instance job is not found.")
        return MigrationTask(task_id=task_id, status=t.status, task_name=f"name-{task_id[:4]}")

    def batch_stop(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        self._tick("batch_stop")
        if self.reject_whole_batch_with & set(task_ids):
            raise DcsApiError(
                "batch stop", 400, "DCS.4855", "invalid migration task id in the request."
            )
        out = []
        for tid in task_ids:
            t = self.tasks.get(tid)
            if t is None:
                out.append(BatchItemResult(task_id=tid, result="failed", error_code="DCS.4133"))
            elif t.refuse > 0 and t.status not in ("TERMINATING", "TERMINATED"):
                t.refuse -= 1
                out.append(
                    BatchItemResult(
                        task_id=tid, result="failed", error_code="DCS.4017", error_msg="busy"
                    )
                )
            elif t.status in ("SUCCESS", "FAILED"):
                out.append(BatchItemResult(task_id=tid, result="failed", error_code="DCS.4026"))
            else:
                if t.status not in ("TERMINATING", "TERMINATED"):
                    now = self.clock.now()
                    t.offset_at_stop, t.stopped_at = t.offset(now), now
                    t.status, t.stop_at = "TERMINATING", now + t.delay
                out.append(BatchItemResult(task_id=tid, result="success"))
        return out

    def get_stats(self, task_id: str) -> MigrationTaskStats:
        self._tick("stats")
        t = self.tasks.get(task_id)
        if t is None or t.status == "DELETED":
            raise TaskNotFoundError("task stats", 400, "DCS.4133", "Instance job is not found.")
        if t.stats_errors > 0:
            t.stats_errors -= 1
            raise ServerError("task stats", 500, "DCS.5000", "Internal error.")
        now = self.clock.now()
        source, target = t.keys(now)
        return MigrationTaskStats(offset=t.offset(now), source_dbsize=source, target_dbsize=target)


def fake_dcs(tasks: dict[str, FakeTask], *, start: float = 0.0) -> FakeDcs:
    """A fake holding ``tasks``, its virtual clock at ``start``."""
    return FakeDcs(VirtualClock(start), tasks)


def tid(i: int) -> str:
    return f"{i:032x}"


def engine(
    fake: FakeDcs,
    options: StopOptions | None = None,
    *,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    seed: int = 7,
) -> StopEngine:
    """An engine on ``fake``'s virtual clock, its poll jitter seeded."""
    clock = fake.clock
    return StopEngine(
        fake,  # type-checked against the engine's StopApi Protocol: no ignore needed
        options,
        clock=clock,
        on_progress=on_progress,
        rng=random.Random(seed),
    )


def test_stops_and_waits_with_outcomes() -> None:
    fake = fake_dcs(
        {
            tid(1): FakeTask("INCRMIGEATING"),
            tid(2): FakeTask("TERMINATED"),
            tid(3): FakeTask("SUCCESS"),
            tid(4): FakeTask("TERMINATING", stop_at=0.5),
        },
    )
    report = engine(fake).run([tid(1), tid(2), tid(3), tid(4), tid(1)])
    outcomes = {o.task_id: o.outcome for o in report.outcomes}
    assert outcomes == {
        tid(1): Outcome.STOPPED,
        tid(2): Outcome.ALREADY_TERMINATED,
        tid(3): Outcome.FINISHED,
        tid(4): Outcome.STOPPED,
    }
    assert fake.tasks[tid(1)].status == "TERMINATED"
    assert report.failures() == [] and [
        o.task_id for o in report.failures(strict_finished=True)
    ] == [tid(3)]
    assert fake.calls["batch_stop"] == 1


def test_overhead_past_last_termination_is_small() -> None:
    fake = fake_dcs({tid(i): FakeTask("INCRMIGEATING", delay=2.0 + i * 0.01) for i in range(100)})
    report = engine(fake).run([tid(i) for i in range(100)])
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes)
    last = 2.0 + 99 * 0.01
    assert report.elapsed - last <= 0.1 * last + 0.05  # polls at ~8 % of the time waited
    assert fake.calls["batch_stop"] == 2  # 100 ids in chunks of 50
    # 100 tasks in one page: a look lists, except when a single task is left (1 detail = 1 page)
    assert fake.calls["list"] >= 10 and fake.calls.get("show", 0) <= 1


def test_timeout_lists_every_unfinished_task() -> None:
    fake = fake_dcs(
        {tid(1): FakeTask("INCRMIGEATING", delay=1e9), tid(2): FakeTask("INCRMIGEATING")}
    )
    report = engine(fake, StopOptions(timeout=60)).run([tid(1), tid(2)])
    by = {o.task_id: o for o in report.outcomes}
    assert by[tid(1)].outcome is Outcome.TIMED_OUT and by[tid(1)].status == "TERMINATING"
    assert by[tid(2)].outcome is Outcome.STOPPED
    assert 60 <= report.elapsed <= 61
    failed = report.failures()
    message = incomplete_message(failed, len(report.outcomes), PULUMI)
    assert (
        tid(1) in message
        and "TERMINATING" in message
        and "timeout" in message
        and tid(2) not in message
    )


def test_failed_items_rechecked_and_resent_only_while_running() -> None:
    fake = fake_dcs(
        {tid(1): FakeTask("INCRMIGEATING", refuse=1), tid(2): FakeTask("INCRMIGEATING")}
    )
    report = engine(fake).run([tid(1), tid(2)])
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes)
    assert fake.calls["batch_stop"] == 2  # the second call carries only the refused id


def test_stop_rejected_after_max_attempts() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", refuse=99)})
    report = engine(fake, StopOptions(max_stop_attempts=3)).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOP_REJECTED
    assert "DCS.4017" in (report.outcomes[0].detail or "")
    assert fake.calls["batch_stop"] == 3


def test_unknown_ids_are_not_found_whole_batch_rejection_is_bisected() -> None:
    fake = fake_dcs({tid(i): FakeTask("INCRMIGEATING") for i in range(1, 5)})
    fake.reject_whole_batch_with = {tid(3)}
    report = engine(fake).run([tid(i) for i in range(1, 6)])
    by = {o.task_id: o.outcome for o in report.outcomes}
    assert by[tid(5)] is Outcome.NOT_FOUND
    assert by[tid(3)] is Outcome.STOP_REJECTED
    assert all(by[tid(i)] is Outcome.STOPPED for i in (1, 2, 4))


def test_restart_while_waiting_is_stopped_again() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", delay=5.0)})
    restarted: list[str] = []

    def restart_once(task_id: str) -> None:
        if fake.clock.now() > 1.0 and not restarted:
            restarted.append(task_id)
            fake.tasks[task_id] = FakeTask("INCRMIGEATING", delay=1.0)

    fake.before_show = restart_once
    report = engine(fake).run([tid(1)])
    assert restarted == [tid(1)]
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert fake.calls["batch_stop"] == 2


def test_deleted_while_waiting_is_reported() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", delay=5.0)})

    def delete_after_a_second(task_id: str) -> None:
        if fake.clock.now() > 1.0:
            fake.tasks[task_id].status = "DELETED"

    fake.before_show = delete_after_a_second
    report = engine(fake).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.NOT_FOUND


def test_no_wait_returns_after_sending() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING")})
    report = engine(fake, StopOptions(wait=False)).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOP_REQUESTED
    assert fake.clock.now() == 0.0


def test_progress_events_on_change() -> None:
    fake = fake_dcs({tid(i): FakeTask("INCRMIGEATING", delay=1.0 + i) for i in range(3)})
    events: list[ProgressEvent] = []
    engine(fake, StopOptions(), on_progress=events.append).run([tid(i) for i in range(3)])
    assert events[0].terminated == 0 and events[-1].terminated == 3
    assert "0/3 stopped; waiting for" in events[0].line()
    assert len(events) < 40


def test_a_status_read_in_lower_case_is_terminated_everywhere() -> None:
    """``terminated`` is TERMINATED for the outcome, ``terminated_ids`` and the state's outputs
    alike (one definition: ``phase_of``)."""
    fake = fake_dcs({tid(1): FakeTask("terminated"), tid(2): FakeTask("INCRMIGEATING")})
    report = engine(fake).run([tid(1), tid(2)])
    assert [o.outcome for o in report.outcomes] == [
        Outcome.ALREADY_TERMINATED,
        Outcome.STOPPED,
    ]
    assert report.terminated_ids == [tid(1), tid(2)]
    outs = outputs({"task_ids": [tid(1), tid(2)]}, [entry(o) for o in report.outcomes])
    assert outs["terminated_ids"] == [tid(1), tid(2)]


def test_progress_counts_a_task_that_finished_on_its_own_apart() -> None:
    fake = fake_dcs({tid(1): FakeTask("SUCCESS"), tid(2): FakeTask("INCRMIGEATING")})
    events: list[ProgressEvent] = []
    engine(fake, on_progress=events.append).run([tid(1), tid(2)])
    last = events[-1]
    assert (last.terminated, last.finished, last.total) == (1, 1, 2)
    assert last.line().startswith("1/2 stopped, 1 finished on its own")
    assert status_line(last) == "stopping: 1/2 TERMINATED, 1 finished on its own"


def test_invalid_option_values() -> None:
    with pytest.raises(ValueError):
        StopOptions(timeout=0)
    with pytest.raises(ValueError):
        StopOptions(chunk_size=0)


def test_never_a_silent_minute() -> None:
    """While nothing changes, a progress event still comes at least every progress_interval."""
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", delay=120.0)})
    stamps: list[float] = []
    engine(
        fake,
        StopOptions(progress_interval=5.0),
        on_progress=lambda e: stamps.append(fake.clock.now()),
    ).run([tid(1)])
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert stamps[-1] >= 120.0 and max(gaps) <= 5.0 + 1e-6
    assert len(stamps) >= 120 / 5


@pytest.mark.timeout(20)
@pytest.mark.parametrize("start", [0.0, 1e6, 1e9, 123456789.123])
def test_clock_rounding_never_makes_the_wait_spin(start: float) -> None:
    """Far from zero a float clock cannot move by a rounding residue; the wait must not spin."""
    # Each stop_at is computed from the clock when the stop arrives: start + 30 s.
    fake = fake_dcs({tid(i): FakeTask("INCRMIGEATING", delay=30.0) for i in range(3)}, start=start)
    report = engine(
        fake, StopOptions(progress_interval=0.7), on_progress=lambda e: None, seed=3
    ).run([tid(i) for i in range(3)])
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes)


# --- the cutover guard (max_offset): stop a task only once its lag is within the bound --------


def guarded(bound: int = 100, sync: float = 60.0, timeout: float = 600.0) -> StopOptions:
    return StopOptions(timeout=timeout, max_offset=bound, sync_timeout=sync)


def test_a_lagging_task_is_stopped_right_after_it_catches_up() -> None:
    # lag 1,000 bytes draining at 100 B/s: within the bound of 100 at t = 9 s
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=1000, drain=100)})
    report = engine(fake, guarded()).run([tid(1)])
    task = fake.tasks[tid(1)]
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert task.offset_at_stop is not None and task.offset_at_stop <= 100
    assert task.stopped_at is not None and 9.0 <= task.stopped_at <= 9.25


def test_a_task_in_sync_is_stopped_at_once_with_one_stats_request() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=50)})
    report = engine(fake, guarded()).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert fake.calls["stats"] == 1 and fake.tasks[tid(1)].stopped_at == 0.0


def test_a_lag_that_never_drains_leaves_the_task_running_and_says_why() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=5000, write=10)})
    report = engine(fake, guarded(sync=30)).run([tid(1)])
    outcome = report.outcomes[0]
    assert outcome.outcome is Outcome.NOT_IN_SYNC
    assert fake.calls.get("batch_stop", 0) == 0 and fake.tasks[tid(1)].status == "INCRMIGEATING"
    assert outcome.offset is not None and outcome.offset > 5000
    assert (
        outcome.detail is not None
        and "lag" in outcome.detail
        and "max offset 100" in outcome.detail
    )
    assert 30.0 <= report.elapsed <= 31.0


def test_a_mix_stops_each_task_as_it_catches_up_and_reads_each_lag_once_per_look() -> None:
    fake = fake_dcs(
        {
            tid(1): FakeTask("INCRMIGEATING", lag=0),
            tid(2): FakeTask("INCRMIGEATING", lag=400, drain=100),
            tid(3): FakeTask("INCRMIGEATING", lag=900, drain=100),
        }
    )
    report = engine(fake, guarded()).run([tid(1), tid(2), tid(3)])
    assert [o.outcome for o in report.outcomes] == [Outcome.STOPPED] * 3
    stops = {t: fake.tasks[t].stopped_at for t in (tid(1), tid(2), tid(3))}
    assert stops[tid(1)] == 0.0
    assert 3.0 <= (stops[tid(2)] or 0) <= 3.25 and 8.0 <= (stops[tid(3)] or 0) <= 8.25
    assert all((fake.tasks[t].offset_at_stop or 0) <= 100 for t in stops)
    looks = fake.calls["list"] + fake.calls.get("show", 0)
    assert fake.calls["stats"] <= 1 + 2 * looks  # never more than one per lagging task per look


def test_writes_that_restart_mid_wait_hold_the_stop_back() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=1000, drain=100)})
    task = fake.tasks[tid(1)]
    # At t = 5 s (lag 500) the source is written to again for 10 s, then frozen again.
    fake.clock.at(5.0, lambda: task.set_rates(5.0, write=20, drain=100))
    fake.clock.at(15.0, lambda: task.set_rates(15.0, write=0, drain=100))
    report = engine(fake, guarded(sync=120)).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert task.offset_at_stop is not None and task.offset_at_stop <= 100
    # 700 bytes at t = 15 drain to 100 by t = 21
    assert task.stopped_at is not None and 21.0 <= task.stopped_at <= 21.25


def test_a_lag_that_cannot_be_read_is_never_guessed() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=0, stats_errors=99)})
    report = engine(fake, guarded()).run([tid(1)])
    outcome = report.outcomes[0]
    assert outcome.outcome is Outcome.LAG_UNKNOWN and fake.calls.get("batch_stop", 0) == 0
    assert outcome.detail is not None and "could not be read" in outcome.detail


def test_without_the_guard_no_stats_are_read() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=5000, write=10)})
    report = engine(fake, StopOptions(timeout=60)).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOPPED and "stats" not in fake.calls


def test_look_shows_the_lag_of_running_tasks_with_the_guard() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=700), tid(2): FakeTask("TERMINATED")})
    looks = engine(fake, guarded()).read([tid(1), tid(2)])
    assert [(o.outcome, o.offset) for o in looks] == [
        (Outcome.RUNNING, 700),
        (Outcome.ALREADY_TERMINATED, None),
    ]
    assert fake.calls["stats"] == 1


# --- the key check (max_key_difference): the target must hold the source's keys too -----------


def counting(keys: int = 0, sync: float = 60.0) -> StopOptions:
    return StopOptions(timeout=600.0, max_offset=100, sync_timeout=sync, max_key_difference=keys)


def test_in_sync_with_the_same_count_is_stopped_at_once_and_the_counts_recorded() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=0)})
    report = engine(fake, counting()).run([tid(1)])
    outcome = report.outcomes[0]
    assert outcome.outcome is Outcome.STOPPED and fake.tasks[tid(1)].stopped_at == 0.0
    assert (outcome.offset, outcome.source_keys, outcome.target_keys) == (0, 1000, 1000)
    assert entry(outcome)["source_keys"] == 1000 and entry(outcome)["target_keys"] == 1000
    assert fake.calls["stats"] == 1


def test_a_target_keys_short_is_left_running_naming_both_counts_and_what_to_check() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=0, short=10)})
    report = engine(fake, counting(sync=30)).run([tid(1)])
    outcome = report.outcomes[0]
    assert outcome.outcome is Outcome.NOT_IN_SYNC
    assert fake.calls.get("batch_stop", 0) == 0 and fake.tasks[tid(1)].status == "INCRMIGEATING"
    assert (outcome.source_keys, outcome.target_keys) == (1000, 990)
    message = incomplete_message(report.failures(), 1, PULUMI)
    for words in ("990", "1000", "10 short", "max key difference 0", "eviction", "key filters"):
        assert words in message, message
    assert 30.0 <= report.elapsed <= 31.0


def test_a_target_that_catches_up_is_stopped_right_after() -> None:
    # 100 keys short, 10 keys/s: the same count at t = 10 s (the lag is 0 all along)
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=0, short=100, catch_up=10)})
    report = engine(fake, counting()).run([tid(1)])
    task = fake.tasks[tid(1)]
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert report.outcomes[0].target_keys == 1000
    assert task.stopped_at is not None and 10.0 <= task.stopped_at <= 10.25


def test_both_bounds_are_waited_for_whichever_comes_last() -> None:
    # lag within 100 at t = 9 s; keys the same at t = 12 s
    fake = fake_dcs(
        {tid(1): FakeTask("INCRMIGEATING", lag=1000, drain=100, short=120, catch_up=10)}
    )
    engine(fake, counting()).run([tid(1)])
    task = fake.tasks[tid(1)]
    assert task.stopped_at is not None and 12.0 <= task.stopped_at <= 12.25
    assert (task.offset_at_stop or 0) <= 100


def test_a_step_to_the_same_count_is_seen_at_the_next_look() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=0, short=10)})
    task = fake.tasks[tid(1)]
    fake.clock.at(5.0, lambda: setattr(task, "short", 0.0))
    report = engine(fake, counting()).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert task.stopped_at is not None and 5.0 <= task.stopped_at <= 6.0


@pytest.mark.parametrize("missing", ["target", "source"])
def test_no_key_counts_leave_the_task_running_with_its_own_outcome(missing: str) -> None:
    task = FakeTask("INCRMIGEATING", lag=0, no_target=missing == "target")
    if missing == "source":
        task.source = None
    fake = fake_dcs({tid(1): task})
    report = engine(fake, counting()).run([tid(1)])
    outcome = report.outcomes[0]
    assert outcome.outcome is Outcome.KEYS_UNKNOWN and fake.calls.get("batch_stop", 0) == 0
    assert outcome.detail is not None and f"{missing}_dbsize" in outcome.detail
    message = incomplete_message(report.failures(), 1, PULUMI)
    assert "keys_unknown" in message and "drop max_key_difference" in message
    assert fake.calls["stats"] == 1  # never waited for


def test_without_the_key_check_counts_are_neither_needed_nor_recorded() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=0, short=10, no_target=True)})
    report = engine(fake, guarded()).run([tid(1)])
    outcome = report.outcomes[0]
    assert outcome.outcome is Outcome.STOPPED
    assert (outcome.source_keys, outcome.target_keys) == (None, None)


def test_progress_shows_the_key_difference_beside_the_lag() -> None:
    fake = fake_dcs({tid(1): FakeTask("INCRMIGEATING", lag=0, short=10)})
    events: list[ProgressEvent] = []
    engine(fake, counting(sync=5), on_progress=events.append).run([tid(1)])
    assert any(
        "INCRMIGEATING, lag 0, key difference 10" in (status or "")
        for e in events
        for _, status in e.pending
    ), events
