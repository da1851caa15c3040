"""Stop-and-wait: make a set of DCS migration tasks reach ``TERMINATED``, and say what happened.

The engine knows nothing of Pulumi. It takes a client, a monotonic clock and a sleep function
(so a two-hour timeout is tested in milliseconds), and returns a :class:`StopReport` with one
:class:`TaskOutcome` per task. Along the way it

* batch-stops running tasks in chunks (50 by default), chunks in parallel (bounded); ids a batch
  answers ``failed`` for are looked at again and re-sent only if they still run; a batch the API
  rejects as a whole is split in halves until the offending id is found;
* watches progress by listing (one page answers for up to 1,000 tasks) or, when that costs fewer
  requests, by asking for each task's details;
* polls at an interval proportional to the time already waited (8 % by default, with jitter,
  between a floor and a ceiling): a fast stop is seen within a fraction of a second, a slow one
  costs few requests, and the overhead past the last task's termination stays near 8 %;
* re-sends a stop to a task that starts running again while it is waited on;
* stops waiting at the deadline and reports every unfinished task with its status.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from .client import MAX_PAGE_SIZE, DcsClient
from .errors import (
    AuthenticationError,
    DcsApiError,
    DcsError,
    InvalidTaskIdError,
    PermissionDeniedError,
    TaskNotFoundError,
)
from .models import Phase, is_valid_task_id, phase_of

_T = TypeVar("_T")
_R = TypeVar("_R")


class Outcome(enum.StrEnum):
    """What happened to one task in one run."""

    STOPPED = "stopped"  # reached TERMINATED during this run
    ALREADY_TERMINATED = "already_terminated"  # was TERMINATED before this run touched it
    FINISHED = "finished_before_stop"  # ended on its own (SUCCESS, FAILED, ...): never TERMINATED
    STOP_REQUESTED = "stop_requested"  # stop accepted, not waited for (wait=False)
    NOT_FOUND = "not_found"  # no such task, or deleted
    STOP_REJECTED = "stop_rejected"  # the API refused to stop it, repeatedly
    TIMED_OUT = "timed_out"  # still not terminated at the deadline
    RUNNING = "running"  # seen running or stopping by a look (StopEngine.look), nothing sent


GOOD_OUTCOMES = frozenset({Outcome.STOPPED, Outcome.ALREADY_TERMINATED, Outcome.FINISHED})


@dataclass(frozen=True)
class StopOptions:
    """Knobs of one stop-and-wait run; the defaults suit the real API."""

    timeout: float = 1800.0  # seconds for the whole run, waiting included
    wait: bool = True  # False: send the stops and return
    chunk_size: int = 50  # ids per batch-stop call (the API's batch calls cap at 50)
    concurrency: int = 4  # batch-stop / list-page / details calls in flight at once
    poll_floor: float = 0.1  # shortest interval between two looks
    poll_ceiling: float = 10.0  # longest interval between two looks
    poll_ratio: float = 0.08  # interval as a fraction of the time waited so far, when idle
    poll_ratio_active: float = 0.03  # ... while the last look saw tasks finish
    poll_jitter: float = 0.1  # +/- fraction of randomness in each interval
    resend_after: float = 5.0  # a task still running this long after its stop gets it again
    max_stop_attempts: int = 3  # stop requests per task before it counts as rejected
    progress_interval: float = 5.0  # a progress event at least this often while waiting
    strict_finished: bool = False  # a task that finished without a stop is a failure

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("timeout must be > 0 seconds")
        if not 1 <= self.chunk_size <= 1000:
            raise ValueError("chunk_size must be 1..1000")
        if not 1 <= self.concurrency <= 64:
            raise ValueError("concurrency must be 1..64")


@dataclass
class TaskOutcome:
    """The result for one task: its last seen status and what happened to it."""

    task_id: str
    outcome: Outcome
    status: str | None = None
    name: str | None = None
    observed_at: str | None = None  # ISO-8601 UTC time of the last look
    detail: str | None = None  # why, when it went wrong (an API error, a hint)

    @property
    def ok(self) -> bool:
        """True when the task is not running: stopped, already terminated, or finished on its own."""
        return self.outcome in GOOD_OUTCOMES


@dataclass
class StopReport:
    """Everything one run learned, in the order the ids were given."""

    outcomes: list[TaskOutcome]
    elapsed: float
    requests: dict[str, int] = field(default_factory=dict)

    def failures(self, *, strict_finished: bool = False) -> list[TaskOutcome]:
        """Tasks that are not stopped (a task that finished on its own counts only if strict)."""
        return [
            o
            for o in self.outcomes
            if not o.ok or (strict_finished and o.outcome is Outcome.FINISHED)
        ]

    @property
    def terminated_ids(self) -> list[str]:
        """Ids whose last seen status is ``TERMINATED``, in input order."""
        return [o.task_id for o in self.outcomes if o.status == "TERMINATED"]


class StopIncompleteError(DcsError):
    """Some tasks are not stopped: the message lists each with its status and what to do."""

    def __init__(self, report: StopReport, *, strict_finished: bool = False) -> None:
        self.report = report
        failed = report.failures(strict_finished=strict_finished)
        lines = [f"{len(failed)} of {len(report.outcomes)} task(s) are not stopped:"]
        lines += [f"  - {describe(o)}" for o in failed]
        lines.append(_advice(failed))
        super().__init__("\n".join(lines))


def describe(outcome: TaskOutcome) -> str:
    """One human line about one task."""
    name = f" ({outcome.name})" if outcome.name else ""
    status = outcome.status or "unknown"
    detail = f": {outcome.detail}" if outcome.detail else ""
    return f"{outcome.task_id}{name} status {status}, {outcome.outcome.value}{detail}"


def _advice(failed: Sequence[TaskOutcome]) -> str:
    kinds = {o.outcome for o in failed}
    advice = []
    if Outcome.TIMED_OUT in kinds:
        advice.append(
            "raise the timeout (timeout_seconds / --timeout) or run again: a rerun continues "
            "where this one stopped"
        )
    if Outcome.NOT_FOUND in kinds:
        advice.append("remove ids that do not exist in this project, or check the project id")
    if Outcome.STOP_REJECTED in kinds:
        advice.append("check the task in the DCS console; the API refused to stop it")
    if Outcome.FINISHED in kinds:
        advice.append("the task ended without a stop; allow finished tasks or remove the id")
    return "To fix: " + "; ".join(advice) + "." if advice else ""


@dataclass(frozen=True)
class ProgressEvent:
    """A snapshot while waiting: ``stopped`` of ``total`` done, and who is still pending."""

    stopped: int
    total: int
    elapsed: float
    pending: tuple[tuple[str, str | None], ...]  # (task id, status), slowest first

    def line(self, limit: int = 3) -> str:
        """``3/5 stopped; waiting for b219..., 5130... (TERMINATING)``"""
        if not self.pending:
            return f"{self.stopped}/{self.total} stopped ({self.elapsed:.1f}s)"
        shown = ", ".join(f"{tid[:8]}... ({status or '?'})" for tid, status in self.pending[:limit])
        more = f" and {len(self.pending) - limit} more" if len(self.pending) > limit else ""
        return (
            f"{self.stopped}/{self.total} stopped; waiting for {shown}{more} ({self.elapsed:.0f}s)"
        )


@dataclass
class _Task:
    """The engine's working view of one task."""

    task_id: str
    status: str | None = None
    name: str | None = None
    observed_at: str | None = None
    outcome: Outcome | None = None  # set once final
    stop_attempts: int = 0
    stop_sent_at: float | None = None
    seen_stopping: bool = False
    initially_terminated: bool = False
    last_error: str | None = None

    @property
    def phase(self) -> Phase:
        return phase_of(self.status)


@dataclass
class _Reporter:
    """Passes progress events on when something changed, or when the last one is getting old."""

    callback: Callable[[ProgressEvent], None] | None
    interval: float
    last_at: float = -math.inf
    last_key: object = None

    def offer(self, event: ProgressEvent, now: float) -> None:
        key = (event.stopped, event.pending)
        if key != self.last_key or self.due_in(now) == 0.0:
            if self.callback is not None:
                self.callback(event)
            self.last_key, self.last_at = key, now

    def due_in(self, now: float) -> float:
        """Seconds until a heartbeat is due; 0 when due (the next offer then emits it).

        Anything under a microsecond counts as due: sleeping a rounding error would not move a
        clock (a fake one in tests, or a coarse real one) and the wait would spin forever.
        """
        left = self.last_at + self.interval - now
        return left if left > 1e-6 else 0.0


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unique_ids(task_ids: Iterable[str]) -> list[str]:
    """Validate ids and drop duplicates, keeping the first order."""
    ids: list[str] = []
    seen: set[str] = set()
    for task_id in task_ids:
        if not is_valid_task_id(task_id):
            raise InvalidTaskIdError(task_id)
        if task_id not in seen:
            seen.add(task_id)
            ids.append(task_id)
    return ids


class StopEngine:
    """Runs one stop-and-wait over a client; see the module docstring."""

    def __init__(
        self,
        client: DcsClient,
        options: StopOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.options = options or StopOptions()
        self.clock = clock
        self.sleep = sleep
        self.on_progress = on_progress
        self.rng = rng or random.Random()
        self.requests: dict[str, int] = {}
        self._project_task_count: int | None = None
        self._lock = threading.Lock()

    # --- the run --------------------------------------------------------------------------

    def run(self, task_ids: Iterable[str]) -> StopReport:
        """Stop every task and (unless ``wait=False``) wait until none is running."""
        ids = unique_ids(task_ids)
        started = self.clock()
        deadline = started + self.options.timeout
        tasks = {tid: _Task(tid) for tid in ids}
        self._observe(tasks, ids)
        for task in tasks.values():
            task.initially_terminated = task.phase is Phase.TERMINATED
            self._settle(task)
        self._send_stops(tasks, [t.task_id for t in tasks.values() if self._needs_stop(t)])
        if self.options.wait:
            self._wait(tasks, started, deadline)
        for task in tasks.values():
            if task.outcome is None:
                task.outcome = (
                    Outcome.STOP_REQUESTED if not self.options.wait else Outcome.TIMED_OUT
                )
        outcomes = [
            TaskOutcome(
                t.task_id,
                t.outcome or Outcome.TIMED_OUT,
                t.status,
                t.name,
                t.observed_at,
                t.last_error if t.outcome not in GOOD_OUTCOMES else None,
            )
            for t in (tasks[i] for i in ids)
        ]
        return StopReport(outcomes, self.clock() - started, dict(self.requests))

    def look(self, task_ids: Iterable[str]) -> list[TaskOutcome]:
        """Read the status of every task without changing anything (preview, refresh)."""
        ids = unique_ids(task_ids)
        tasks = {tid: _Task(tid) for tid in ids}
        self._observe(tasks, ids)
        looks = []
        for task in (tasks[i] for i in ids):
            task.initially_terminated = True
            self._settle(task)
            outcome = task.outcome or Outcome.RUNNING
            looks.append(
                TaskOutcome(task.task_id, outcome, task.status, task.name, task.observed_at)
            )
        return looks

    def _wait(self, tasks: dict[str, _Task], started: float, deadline: float) -> None:
        reporter = _Reporter(self.on_progress, self.options.progress_interval)
        look_started, progressed = started, False
        while True:
            pending = [t for t in tasks.values() if t.outcome is None]
            now = self.clock()
            reporter.offer(self._progress(tasks, pending, now - started), now)
            if not pending or now >= deadline:
                return
            # The interval runs from the start of the last look, so a slow look (10 pages of a
            # 10,000-task project) eats into the wait instead of adding to it.
            wait = self._interval(now - started, progressed) - (now - look_started)
            self._sleep(min(max(wait, 0.0), deadline - now), reporter, tasks, pending, started)
            look_started = self.clock()
            self._observe(tasks, [t.task_id for t in pending])
            for task in pending:
                self._settle(task)
            progressed = any(t.outcome is not None for t in pending)
            resend = [t.task_id for t in pending if t.outcome is None and self._needs_stop(t)]
            if resend and self.clock() < deadline:
                self._send_stops(tasks, resend)

    def _sleep(
        self,
        seconds: float,
        reporter: _Reporter,
        tasks: dict[str, _Task],
        pending: list[_Task],
        started: float,
    ) -> None:
        """Sleep, with a progress event at least every ``progress_interval``: never a silent minute."""
        end = self.clock() + seconds
        # A residue under a microsecond is rounding, not time left: sleeping it would not move
        # the clock, and the loop would spin.
        while (left := end - self.clock()) > 1e-6:
            self.sleep(min(left, reporter.due_in(self.clock())))
            now = self.clock()
            reporter.offer(self._progress(tasks, pending, now - started), now)

    def _interval(self, waited: float, progressed: bool) -> float:
        """Quick at first, then a fraction of the time waited (smaller while tasks finish)."""
        o = self.options
        ratio = o.poll_ratio_active if progressed else o.poll_ratio
        base = min(o.poll_ceiling, max(o.poll_floor, ratio * waited))
        return base * (1 + self.rng.uniform(-o.poll_jitter, o.poll_jitter))

    def _progress(
        self, tasks: dict[str, _Task], pending: list[_Task], elapsed: float
    ) -> ProgressEvent:
        done = sum(1 for t in tasks.values() if t.outcome in GOOD_OUTCOMES)
        # Running tasks are further from done than stopping ones: list them first.
        slowest = sorted(pending, key=lambda t: (t.phase is not Phase.RUNNING, t.task_id))
        return ProgressEvent(
            done, len(tasks), elapsed, tuple((t.task_id, t.status) for t in slowest)
        )

    # --- deciding -------------------------------------------------------------------------

    def _settle(self, task: _Task) -> None:
        """Give a task its final outcome when its status says it is done."""
        phase = task.phase
        if phase is Phase.TERMINATED:
            task.outcome = (
                Outcome.ALREADY_TERMINATED if task.initially_terminated else Outcome.STOPPED
            )
        elif phase is Phase.FINISHED:
            task.outcome = Outcome.FINISHED
        elif phase is Phase.GONE:
            task.outcome = Outcome.NOT_FOUND
            task.last_error = task.last_error or "no such task in this project (or it was deleted)"
        elif phase is Phase.STOPPING:
            task.seen_stopping = True

    def _needs_stop(self, task: _Task) -> bool:
        if task.outcome is not None or task.phase not in (Phase.RUNNING, Phase.UNKNOWN):
            return False
        if task.stop_attempts >= self.options.max_stop_attempts:
            task.outcome = Outcome.STOP_REJECTED
            return False
        if task.stop_sent_at is None:
            return True
        # Running after a stop: restarted behind our back, or the stop did not take.
        restarted = task.seen_stopping
        stale = self.clock() - task.stop_sent_at >= self.options.resend_after
        if restarted or stale:
            task.seen_stopping = False
            return True
        return False

    # --- stopping ---------------------------------------------------------------------------

    def _send_stops(self, tasks: dict[str, _Task], ids: list[str]) -> None:
        if not ids:
            return
        size = self.options.chunk_size
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        failed: list[str] = []
        for chunk_failed in self._parallel(lambda c: self._stop_chunk(tasks, c), chunks):
            failed += chunk_failed
        if not failed:
            return
        # Only re-send what still runs: a "failed" task may have stopped or finished meanwhile.
        self._observe(tasks, failed)
        for tid in failed:
            self._settle(tasks[tid])
        again = [tid for tid in failed if self._needs_stop(tasks[tid])]
        if again:
            self._send_stops(tasks, again)

    def _stop_chunk(self, tasks: dict[str, _Task], chunk: list[str]) -> list[str]:
        """Batch-stop one chunk; returns the ids whose stop was not accepted."""
        for tid in chunk:
            tasks[tid].stop_attempts += 1
        try:
            results = self._count("batch_stop", lambda: self.client.batch_stop(chunk))
        except (AuthenticationError, PermissionDeniedError):
            raise
        except TaskNotFoundError as exc:
            return self._split_or_mark(tasks, chunk, exc, Outcome.NOT_FOUND)
        except DcsApiError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise  # retries are exhausted: the API is not usable now
            return self._split_or_mark(tasks, chunk, exc, Outcome.STOP_REJECTED)
        sent_at = self.clock()
        answered = {r.task_id: r for r in results}
        failed = []
        for tid in chunk:
            item = answered.get(tid)
            if item is not None and item.succeeded:
                tasks[tid].stop_sent_at = sent_at
                tasks[tid].seen_stopping = False
            else:
                code = f"{item.error_code}: {item.error_msg}" if item else "missing from the answer"
                tasks[tid].last_error = f"stop not accepted ({code})"
                failed.append(tid)
        return failed

    def _split_or_mark(
        self, tasks: dict[str, _Task], chunk: list[str], exc: DcsApiError, outcome: Outcome
    ) -> list[str]:
        """A batch refused as a whole: halve it to find the id at fault."""
        for tid in chunk:
            tasks[tid].stop_attempts -= 1  # a refused batch is not this task's attempt
        if len(chunk) == 1:
            task = tasks[chunk[0]]
            task.stop_attempts += 1
            task.outcome = outcome
            task.last_error = f"{exc.error_code or exc.status_code}: {exc.error_msg or ''}".strip()
            return []
        middle = len(chunk) // 2
        return self._stop_chunk(tasks, chunk[:middle]) + self._stop_chunk(tasks, chunk[middle:])

    # --- looking ----------------------------------------------------------------------------

    def _observe(self, tasks: dict[str, _Task], ids: list[str]) -> None:
        """Refresh the status of ``ids``, by list pages or by details, whichever is cheaper."""
        if not ids:
            return
        pages = (
            math.ceil(self._project_task_count / MAX_PAGE_SIZE)
            if self._project_task_count is not None
            else None
        )
        by_details = len(ids) <= 2 if pages is None else len(ids) <= max(pages, 1)
        if by_details:
            self._observe_by_details(tasks, ids)
        else:
            missing = self._observe_by_list(tasks, set(ids))
            if missing:  # hidden from the list: deleted, or moved between pages; ask each
                self._observe_by_details(tasks, sorted(missing))

    def _observe_by_list(self, tasks: dict[str, _Task], wanted: set[str]) -> set[str]:
        first = self._count("list", lambda: self.client.list_task_statuses(offset=0))
        self._project_task_count = first.count
        offsets = range(MAX_PAGE_SIZE, first.count, MAX_PAGE_SIZE)
        pages = [
            first,
            *self._parallel(
                lambda off: self._count("list", lambda: self.client.list_task_statuses(offset=off)),
                list(offsets),
            ),
        ]
        now = _now_iso()
        seen: set[str] = set()
        for page in pages:
            for item in page.migration_tasks:
                if item.task_id in wanted:
                    self._record(tasks[item.task_id], item.status, item.task_name, now)
                    seen.add(item.task_id)
        return wanted - seen

    def _observe_by_details(self, tasks: dict[str, _Task], ids: list[str]) -> None:
        def look(tid: str) -> None:
            try:
                detail = self._count("show", lambda: self.client.get_task(tid))
            except TaskNotFoundError:
                self._record(tasks[tid], "DELETED", tasks[tid].name, _now_iso())
                return
            self._record(tasks[tid], detail.status, detail.task_name, _now_iso())

        list(self._parallel(look, ids))

    @staticmethod
    def _record(task: _Task, status: str | None, name: str | None, when: str) -> None:
        task.status = status
        task.name = name or task.name
        task.observed_at = when

    # --- plumbing ---------------------------------------------------------------------------

    def _parallel(self, fn: Callable[[_T], _R], items: list[_T]) -> list[_R]:
        if len(items) <= 1 or self.options.concurrency == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.options.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    def _count(self, operation: str, call: Callable[[], _R]) -> _R:
        with self._lock:
            self.requests[operation] = self.requests.get(operation, 0) + 1
        return call()


def stop_and_wait(
    client: DcsClient,
    task_ids: Iterable[str],
    options: StopOptions | None = None,
    **kwargs: object,
) -> StopReport:
    """Convenience wrapper: ``StopEngine(client, options, **kwargs).run(task_ids)``."""
    return StopEngine(client, options, **kwargs).run(task_ids)  # type: ignore[arg-type]
