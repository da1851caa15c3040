"""The stop-and-wait engine against an in-memory fake of the client, on a fake clock."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

import pytest

from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import DcsApiError, TaskNotFoundError
from pulumi_dcs_migration.lifecycle import incomplete_message, pulumi_advice
from pulumi_dcs_migration.models import (
    BatchItemResult,
    ListMigrationTasksResponse,
    MigrationTask,
    MigrationTaskSummary,
)


@dataclass
class FakeTask:
    status: str
    stop_at: float | None = None
    delay: float = 1.0
    refuse: int = 0  # answer "failed" to this many stops


@dataclass
class FakeDcs:
    """Just enough of DcsClient for the engine, driven by a shared fake clock."""

    clock: list[float]
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    reject_whole_batch_with: set[str] = field(default_factory=set)

    lock: threading.Lock = field(default_factory=threading.Lock)  # the engine calls from threads

    def _tick(self, op: str) -> None:
        with self.lock:
            self.calls[op] = self.calls.get(op, 0) + 1
        for t in self.tasks.values():
            if t.status == "TERMINATING" and t.stop_at is not None and self.clock[0] >= t.stop_at:
                t.status = "TERMINATED"

    def list_task_statuses(
        self, *, offset: int = 0, limit: int = 1000
    ) -> ListMigrationTasksResponse:
        return self.list_tasks(offset=offset, limit=limit)

    def list_tasks(
        self, *, offset: int = 0, limit: int = 1000, name: str | None = None
    ) -> ListMigrationTasksResponse:
        self._tick("list")
        visible = [(k, v) for k, v in self.tasks.items() if v.status != "DELETED"]
        page = visible[offset : offset + limit]
        return ListMigrationTasksResponse(
            count=len(visible),
            migration_tasks=[MigrationTaskSummary(task_id=k, status=v.status) for k, v in page],
        )

    def get_task(self, task_id: str) -> MigrationTask:
        self._tick("show")
        t = self.tasks.get(task_id)
        if t is None or t.status == "DELETED":
            raise TaskNotFoundError("show task", 400, "DCS.4133", "Instance job is not found.")
        return MigrationTask(task_id=task_id, status=t.status, task_name=f"name-{task_id[:4]}")

    def batch_stop(self, ids: list[str]) -> list[BatchItemResult]:
        self._tick("batch_stop")
        if self.reject_whole_batch_with & set(ids):
            raise DcsApiError(
                "batch stop", 400, "DCS.4855", "invalid migration task id in the request."
            )
        out = []
        for tid in ids:
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
                    t.status, t.stop_at = "TERMINATING", self.clock[0] + t.delay
                out.append(BatchItemResult(task_id=tid, result="success"))
        return out


def tid(i: int) -> str:
    return f"{i:032x}"


def engine(fake: FakeDcs, **opts: object) -> StopEngine:
    clock = fake.clock

    def sleep(s: float) -> None:
        clock[0] += s

    return StopEngine(
        fake, StopOptions(**opts), clock=lambda: clock[0], sleep=sleep, rng=random.Random(7)
    )  # type: ignore[arg-type]


def test_stops_and_waits_with_outcomes() -> None:
    fake = FakeDcs(
        [0.0],
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
    fake = FakeDcs(
        [0.0], {tid(i): FakeTask("INCRMIGEATING", delay=2.0 + i * 0.01) for i in range(100)}
    )
    report = engine(fake).run([tid(i) for i in range(100)])
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes)
    last = 2.0 + 99 * 0.01
    assert report.elapsed - last <= 0.1 * last + 0.05  # polls at ~8 % of the time waited
    assert fake.calls["batch_stop"] == 2  # 100 ids in chunks of 50
    # 100 tasks in one page: a look lists, except when a single task is left (1 detail = 1 page)
    assert fake.calls["list"] >= 10 and fake.calls.get("show", 0) <= 1


def test_timeout_lists_every_unfinished_task() -> None:
    fake = FakeDcs(
        [0.0], {tid(1): FakeTask("INCRMIGEATING", delay=1e9), tid(2): FakeTask("INCRMIGEATING")}
    )
    report = engine(fake, timeout=60).run([tid(1), tid(2)])
    by = {o.task_id: o for o in report.outcomes}
    assert by[tid(1)].outcome is Outcome.TIMED_OUT and by[tid(1)].status == "TERMINATING"
    assert by[tid(2)].outcome is Outcome.STOPPED
    assert 60 <= report.elapsed <= 61
    failed = report.failures()
    message = incomplete_message(failed, len(report.outcomes), pulumi_advice("timeout_seconds"))
    assert (
        tid(1) in message
        and "TERMINATING" in message
        and "timeout" in message
        and tid(2) not in message
    )


def test_failed_items_rechecked_and_resent_only_while_running() -> None:
    fake = FakeDcs(
        [0.0], {tid(1): FakeTask("INCRMIGEATING", refuse=1), tid(2): FakeTask("INCRMIGEATING")}
    )
    report = engine(fake).run([tid(1), tid(2)])
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes)
    assert fake.calls["batch_stop"] == 2  # the second call carries only the refused id


def test_stop_rejected_after_max_attempts() -> None:
    fake = FakeDcs([0.0], {tid(1): FakeTask("INCRMIGEATING", refuse=99)})
    report = engine(fake, max_stop_attempts=3).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOP_REJECTED
    assert "DCS.4017" in (report.outcomes[0].detail or "")
    assert fake.calls["batch_stop"] == 3


def test_unknown_ids_are_not_found_whole_batch_rejection_is_bisected() -> None:
    fake = FakeDcs([0.0], {tid(i): FakeTask("INCRMIGEATING") for i in range(1, 5)})
    fake.reject_whole_batch_with = {tid(3)}
    fake.tasks[tid(3)].status = "INCRMIGEATING"
    report = engine(fake).run([tid(i) for i in range(1, 6)])
    by = {o.task_id: o.outcome for o in report.outcomes}
    assert by[tid(5)] is Outcome.NOT_FOUND
    assert by[tid(3)] is Outcome.STOP_REJECTED
    assert all(by[tid(i)] is Outcome.STOPPED for i in (1, 2, 4))


def test_restart_while_waiting_is_stopped_again() -> None:
    fake = FakeDcs([0.0], {tid(1): FakeTask("INCRMIGEATING", delay=5.0)})
    eng = engine(fake)
    original_list = fake.get_task
    restarted = {"done": False}

    def get_task(task_id: str) -> MigrationTask:
        if fake.clock[0] > 1.0 and not restarted["done"]:
            restarted["done"] = True
            fake.tasks[task_id] = FakeTask("INCRMIGEATING", delay=1.0)
        return original_list(task_id)

    fake.get_task = get_task  # type: ignore[method-assign]
    report = eng.run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOPPED
    assert fake.calls["batch_stop"] == 2


def test_deleted_while_waiting_is_reported() -> None:
    fake = FakeDcs([0.0], {tid(1): FakeTask("INCRMIGEATING", delay=5.0)})
    eng = engine(fake)
    original = fake.get_task

    def get_task(task_id: str) -> MigrationTask:
        if fake.clock[0] > 1.0:
            fake.tasks[task_id].status = "DELETED"
        return original(task_id)

    fake.get_task = get_task  # type: ignore[method-assign]
    report = eng.run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.NOT_FOUND


def test_no_wait_returns_after_sending() -> None:
    fake = FakeDcs([0.0], {tid(1): FakeTask("INCRMIGEATING")})
    report = engine(fake, wait=False).run([tid(1)])
    assert report.outcomes[0].outcome is Outcome.STOP_REQUESTED
    assert fake.clock[0] == 0.0


def test_progress_events_on_change() -> None:
    fake = FakeDcs([0.0], {tid(i): FakeTask("INCRMIGEATING", delay=1.0 + i) for i in range(3)})
    events = []
    clock = fake.clock
    eng = StopEngine(
        fake,
        StopOptions(),
        clock=lambda: clock[0],  # type: ignore[arg-type]
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
        on_progress=events.append,
    )
    eng.run([tid(i) for i in range(3)])
    assert events[0].stopped == 0 and events[-1].stopped == 3
    assert "0/3 stopped; waiting for" in events[0].line()
    assert len(events) < 40


def test_invalid_option_values() -> None:
    with pytest.raises(ValueError):
        StopOptions(timeout=0)
    with pytest.raises(ValueError):
        StopOptions(chunk_size=0)


def test_never_a_silent_minute() -> None:
    """While nothing changes, a progress event still comes at least every progress_interval."""
    fake = FakeDcs([0.0], {tid(1): FakeTask("INCRMIGEATING", delay=120.0)})
    clock = fake.clock
    stamps: list[float] = []
    eng = StopEngine(
        fake,
        StopOptions(progress_interval=5.0),
        clock=lambda: clock[0],  # type: ignore[arg-type]
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
        on_progress=lambda e: stamps.append(clock[0]),
    )
    eng.run([tid(1)])
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert stamps[-1] >= 120.0 and max(gaps) <= 5.0 + 1e-6
    assert len(stamps) >= 120 / 5


@pytest.mark.timeout(20)
@pytest.mark.parametrize("start", [0.0, 1e6, 1e9, 123456789.123])
def test_clock_rounding_never_makes_the_wait_spin(start: float) -> None:
    """Far from zero a float clock cannot move by a rounding residue; the wait must not spin."""
    fake = FakeDcs(
        [start], {tid(i): FakeTask("INCRMIGEATING", delay=30.0 + i / 7) for i in range(3)}
    )
    clock = fake.clock
    for task in fake.tasks.values():
        task.delay = 30.0 + start * 0  # stop_at is computed from the clock when the stop arrives
    eng = StopEngine(
        fake,
        StopOptions(progress_interval=0.7),
        clock=lambda: clock[0],  # type: ignore[arg-type]
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
        on_progress=lambda e: None,
        rng=random.Random(3),
    )
    report = eng.run([tid(i) for i in range(3)])
    assert all(o.outcome is Outcome.STOPPED for o in report.outcomes)
