"""Stop-and-wait: make a set of DCS migration tasks reach ``TERMINATED``, and say what happened.

The engine knows nothing of Pulumi. It takes a client and a :class:`~.clock.Clock` (a test's
virtual clock runs a two-hour timeout in milliseconds, through the same code), and returns a
:class:`StopReport` with one :class:`TaskOutcome` per task. Along the way it

* batch-stops running tasks in chunks (50 by default), chunks in parallel (bounded); ids a batch
  answers ``failed`` for are looked at again and re-sent only if they still run; a batch the API
  rejects as a whole is split in halves until the offending id is found;
* watches progress by listing (one page answers for up to 1,000 tasks) or, when that costs fewer
  requests, by asking for each task's details;
* polls at an interval proportional to the time already waited (8 % by default, with jitter,
  between a floor and a ceiling): a fast stop is seen within a fraction of a second, a slow one
  costs few requests, and the overhead past the last task's termination stays near 8 %. A poll
  never costs more than :data:`MAX_REQUEST_RATIO` times the requests of the naive loop that asks
  for each pending task once a second, and the client's request policy (``pace``) stretches the
  interval to what its rate limit can serve, so a throttled run polls less often instead of
  queueing stale polls;
* re-sends a stop to a task that starts running again while it is waited on;
* stops waiting at the deadline and reports every unfinished task with its status. The client
  gets the run's deadline plus :data:`POLL_GRACE` for the last poll: no request, retry or slow
  answer outlives it, and the run then reports what it knows;
* reads list pages a few at a time (``concurrency``), and stops paging at a short page, at a
  page that brings no new task, or after :data:`~.client.MAX_LIST_PAGES` (the API's ``count``
  is a hint, never a plan: a claimed billion tasks costs one page more, not a million requests).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .client import MAX_LIST_PAGES  # one poll reads at most this many pages; the rest: details
from .clock import SYSTEM_CLOCK, Clock
from .decisions import (
    GOOD_OUTCOMES,
    Act,
    Outcome,
    Step,
    StopPolicy,
    TaskState,
    decide,
    guard_reading,
    in_sync,
    key_difference,
    lag_read,
    polled,
    stop_sent,
)
from .errors import (
    AuthenticationError,
    DcsApiError,
    DcsError,
    DeadlineExceeded,
    InvalidTaskIdError,
    PermissionDeniedError,
    TaskNotFoundError,
)
from .models import (
    MAX_BATCH_IDS,
    MAX_PAGE_SIZE,
    BatchItemResult,
    MigrationTask,
    MigrationTaskStats,
    Phase,
    TaskStatusPage,
    batches,
    is_valid_task_id,
    phase_of,
)

_T = TypeVar("_T")
_R = TypeVar("_R")

__all__ = [
    "GOOD_OUTCOMES",
    "Outcome",
    "ProgressEvent",
    "StopApi",
    "StopEngine",
    "StopOptions",
    "StopReport",
    "TaskOutcome",
    "describe",
    "unique_ids",
]


class StopApi(Protocol):
    """What the engine needs of a client (:class:`~.client.DcsClient` has it; so do test fakes):
    four calls, a deadline over them, and the pace its rate limit allows."""

    def list_task_statuses(self, *, offset: int = 0, limit: int = MAX_PAGE_SIZE) -> TaskStatusPage:
        """One list page, read for ids, names and statuses."""
        ...

    def get_task(self, task_id: str) -> MigrationTask:
        """One task's details; raises :class:`~.errors.TaskNotFoundError` when unknown."""
        ...

    def batch_stop(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        """Hand over stop requests (at most :data:`~.models.MAX_BATCH_IDS` ids)."""
        ...

    def get_stats(self, task_id: str) -> MigrationTaskStats:
        """One task's migration stats; ``offset`` is its incremental lag (the cutover guard)."""
        ...

    def deadline(self, at: float | None) -> AbstractContextManager[None]:
        """Every call inside the block ends by ``at`` (on the engine's clock)."""
        ...

    def pace(self, requests: int, interval: float) -> float:
        """Seconds to the next poll of ``requests`` requests: ``interval``, or longer when the
        rate limit could not serve it sooner (the poll is then deferred, never queued stale)."""
        ...


LAG_EARLY = 0.02
"""Seconds before a lagging task's next planned read at which it is due anyway."""

LAG_SETTLE = 0.5
"""Guard: within this many seconds of a predicted catch-up, the next read is at the catch-up."""

POLL_GRACE = 1.0
"""Seconds past the run's deadline the client's calls may take: the last poll, sent at the
deadline, still gets an answer from a healthy API; a stalled one cannot hold the run longer."""

MAX_REQUEST_RATIO = 1.25
"""After the first poll (quick: a fast stop is seen at once), polling never costs more than this
many times the requests of the naive loop that asks for each pending task once a second: a
task alone is polled no more often than every 0.8 s, so a stop is still noticed within a
second, for about the naive loop's requests."""


@dataclass(frozen=True)
class StopOptions:
    """Knobs of one stop-and-wait run; the defaults suit the real API."""

    timeout: float = 1800.0  # seconds for the whole run, waiting included
    wait: bool = True  # False: send the stops and return
    chunk_size: int = MAX_BATCH_IDS  # ids per batch-stop call
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
    max_offset: int | None = None  # cutover guard: stop a task only when its lag is <= this
    sync_timeout: float = 600.0  # cutover guard: how long to wait for a lagging task
    max_key_difference: int | None = None  # guard's key check: source keys - target keys <= this

    @property
    def policy(self) -> StopPolicy:
        """The numbers :func:`~.decisions.decide` needs (no sync deadline: see :meth:`run`)."""
        return StopPolicy(
            self.resend_after,
            self.max_stop_attempts,
            self.max_offset,
            max_key_difference=self.max_key_difference,
        )

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("timeout must be > 0 seconds")
        if not 1 <= self.chunk_size <= MAX_BATCH_IDS:
            raise ValueError(f"chunk_size must be 1..{MAX_BATCH_IDS}")
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
    offset: int | None = None  # the lag last read (the cutover guard only)
    source_keys: int | None = None  # the source's key count last read (the key check only)
    target_keys: int | None = None  # the target's key count last read (the key check only)

    def as_dict(self) -> dict[str, Any]:
        """Its fields as JSON-ready values (the outcome as its string)."""
        return {
            "task_id": self.task_id,
            "name": self.name,
            "status": self.status,
            "outcome": self.outcome.value,
            "observed_at": self.observed_at,
            "detail": self.detail,
            "offset": self.offset,
            "source_keys": self.source_keys,
            "target_keys": self.target_keys,
        }

    @property
    def key_difference(self) -> int | None:
        """The key check's reading: the source's key count minus the target's (None: not read)."""
        return key_difference(self.source_keys, self.target_keys)

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
        """Ids whose last seen status is ``TERMINATED`` (:func:`~.models.phase_of`), in input order."""
        return [o.task_id for o in self.outcomes if phase_of(o.status) is Phase.TERMINATED]


def describe(outcome: TaskOutcome) -> str:
    """One human line about one task."""
    name = f" ({outcome.name})" if outcome.name else ""
    status = outcome.status or "unknown"
    detail = f": {outcome.detail}" if outcome.detail else ""
    return f"{outcome.task_id}{name} status {status}, {outcome.outcome.value}{detail}"


@dataclass(frozen=True)
class ProgressEvent:
    """A snapshot while waiting: ``terminated`` of ``total`` read ``TERMINATED``, ``finished``
    ended on their own (they never will), and who is still pending."""

    terminated: int
    total: int
    elapsed: float
    pending: tuple[tuple[str, str | None], ...]  # (task id, status), slowest first
    finished: int = 0

    @property
    def counts(self) -> str:
        """``3/5 stopped`` (``, 1 finished on its own`` when some did)."""
        own = f", {self.finished} finished on its own" if self.finished else ""
        return f"{self.terminated}/{self.total} stopped{own}"

    def line(self, limit: int = 3) -> str:
        """``3/5 stopped; waiting for b219..., 5130... (TERMINATING)``"""
        if not self.pending:
            return f"{self.counts} ({self.elapsed:.1f}s)"
        shown = ", ".join(f"{tid[:8]}... ({status or '?'})" for tid, status in self.pending[:limit])
        more = f" and {len(self.pending) - limit} more" if len(self.pending) > limit else ""
        return f"{self.counts}; waiting for {shown}{more} ({self.elapsed:.0f}s)"


@dataclass
class _Task:
    """The engine's working record of one task: its decision state plus what a report needs."""

    task_id: str
    state: TaskState = field(default_factory=TaskState)
    name: str | None = None
    observed_at: str | None = None
    outcome: Outcome | None = None  # set once final
    last_error: str | None = None
    lag: list[tuple[float, int]] = field(default_factory=list)  # guard: (when, offset), last 3
    keys: list[tuple[float, int]] = field(default_factory=list)  # (when, key difference), last 3

    @property
    def status(self) -> str | None:
        return self.state.status

    def catch_up_eta(self, bound: int, key_bound: int | None) -> float | None:
        """Guard: when both its lag and (with the key check) its key difference will be within
        their bounds, each at the rate it fell between the last reads; None when one that is
        above its bound cannot be predicted (an explicit step, or no fall yet)."""
        moments = []
        if self.state.offset is not None and self.state.offset > bound:
            moments.append(_eta(self.lag, bound))
        difference = self.state.key_difference
        if key_bound is not None and difference is not None and difference > key_bound:
            moments.append(_eta(self.keys, key_bound))
        if not moments:  # in sync, or no read yet: the lag's prediction, as before the key check
            moments.append(_eta(self.lag, bound))
        return None if None in moments else max(m for m in moments if m is not None)

    def next_lag_read(self, bound: int, key_bound: int | None = None) -> float | None:
        """Guard: when to read its lag next. Half-way to the predicted catch-up, then at it: the
        rate is re-estimated over ever longer spans (lags are whole bytes), so the read that
        finds it in sync comes right at the catch-up, for a few requests per task."""
        eta = self.catch_up_eta(bound, key_bound)
        if eta is None:
            return None
        last = self.lag[-1][0]
        remaining = eta - last
        return eta if remaining <= LAG_SETTLE else last + remaining / 2

    @property
    def phase(self) -> Phase:
        return self.state.phase


def _eta(history: list[tuple[float, int]], bound: int) -> float | None:
    """When a quantity read at ``history`` (the last three ``(when, value)``, engine clock)
    reaches ``bound`` at the rate it fell between the last two reads; None unless it fell at
    both. One fall alone may straddle a change of rate (writes that stopped a moment ago): a
    prediction from it could hold the stop back long after the catch-up."""
    if len(history) < 3:
        return None
    (_, o0), (t1, o1), (t2, o2) = history
    if not o0 > o1 > o2 or t2 <= t1:
        return None
    return t2 + (o2 - bound) / ((o1 - o2) / (t2 - t1))


@dataclass
class _Reporter:
    """Passes progress events on when something changed, or when the last one is getting old."""

    callback: Callable[[ProgressEvent], None] | None
    interval: float
    last_at: float = -math.inf
    last_key: object = None

    def offer(self, event: ProgressEvent, now: float) -> None:
        key = (event.terminated, event.finished, event.pending)
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


def _keys_unknown_detail(state: TaskState) -> str:
    counts = (("source_dbsize", state.source_keys), ("target_dbsize", state.target_keys))
    missing = [name for name, count in counts if count is None]
    return f"the stats answer gives no key count ({' and '.join(missing)}); not stopped"


def iso_utc(epoch: float) -> str:
    """``2026-11-29T20:25:43.123Z`` for an epoch time."""
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    """Runs one stop-and-wait over a client; see the module docstring.

    ``clock`` drives the waiting and the deadline, and stamps each task's ``observed_at`` with
    the moment its poll was *sent* (so a slow answer never dates a status later than the moment
    it was true); give the client the same clock. Setting ``cancel`` ends the wait at the next
    moment the engine is not inside a request (sleeps wake up for it): tasks whose stop was
    accepted are reported :attr:`Outcome.STOP_REQUESTED`, the others
    :attr:`Outcome.INTERRUPTED`.
    """

    def __init__(
        self,
        client: StopApi,
        options: StopOptions | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        rng: random.Random | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.options = options or StopOptions()
        self.clock = clock.now
        self.cancel = cancel or threading.Event()
        self.sleep: Callable[[float], object] = lambda seconds: clock.sleep(seconds, self.cancel)
        self.wall = clock.wall
        self.on_progress = on_progress
        self.rng = rng or random.Random()
        self.requests: dict[str, int] = {}
        self._project_task_count: int | None = None
        self._poll_began = -math.inf  # when the last poll started (elastic polling)
        self._out_of_time = False  # the API did not answer before the deadline
        self._policy = self.options.policy  # run() adds the sync deadline
        self._lock = threading.Lock()

    # --- the run --------------------------------------------------------------------------

    def run(self, task_ids: Iterable[str]) -> StopReport:
        """Stop every task and (unless ``wait=False``) wait until none is running."""
        ids = unique_ids(task_ids)
        started = self.clock()
        deadline = started + self.options.timeout
        self._policy = dataclasses.replace(
            self.options.policy,
            sync_deadline=started + min(self.options.sync_timeout, self.options.timeout),
        )
        tasks = {tid: _Task(tid) for tid in ids}
        self._out_of_time = False
        with self.client.deadline(deadline + POLL_GRACE):
            try:
                self._poll(tasks, ids, first_poll=True)
                self._act(tasks, list(tasks.values()))
                if self.options.wait:
                    self._wait(tasks, started, deadline)
            except DeadlineExceeded as exc:
                # The API did not answer in time: report what the looks so far have shown.
                self._out_of_time = True
                pending = [t for t in tasks.values() if t.outcome is None]
                self._finish_at_deadline(pending)
                for task in pending:
                    if task.outcome is None and task.status is None:
                        task.last_error = task.last_error or str(exc)
        outcomes = [self._outcome(tasks[i], self._unfinished(tasks[i])) for i in ids]
        return StopReport(outcomes, self.clock() - started, dict(self.requests))

    def _unfinished(self, task: _Task) -> Outcome:
        """The outcome of a task the run ended without settling."""
        if self.cancel.is_set():
            return Outcome.STOP_REQUESTED if task.state.stop_sent_at else Outcome.INTERRUPTED
        if self._out_of_time and task.state.stop_sent_at is None:
            return Outcome.TIMED_OUT  # no stop was accepted before the deadline
        return Outcome.TIMED_OUT if self.options.wait else Outcome.STOP_REQUESTED

    def read(self, task_ids: Iterable[str]) -> list[TaskOutcome]:
        """Read the status of every task without changing anything (preview, refresh).

        A task that runs or is stopping has outcome :attr:`Outcome.RUNNING`.
        """
        ids = unique_ids(task_ids)
        tasks = {tid: _Task(tid) for tid in ids}
        self._policy = self.options.policy
        with self.client.deadline(self.clock() + self.options.timeout + POLL_GRACE):
            self._poll(tasks, ids, first_poll=True)
            steps = self._decide(tasks.values())
            # With the guard, a running task's lag is part of what a preview shows.
            self._read_lags(tasks, [tid for tid, step in steps.items() if step.act is Act.READ_LAG])
        settled = {tid: step.outcome for tid, step in steps.items() if step.act is Act.DONE}
        return [self._outcome(tasks[i], settled.get(i) or Outcome.RUNNING) for i in ids]

    @staticmethod
    def _outcome(task: _Task, otherwise: Outcome) -> TaskOutcome:
        outcome = task.outcome or otherwise
        detail = task.last_error if outcome not in GOOD_OUTCOMES else None
        if outcome is Outcome.NOT_FOUND:
            detail = detail or "no such task in this project (or it was deleted)"
        state = task.state
        return TaskOutcome(
            task.task_id,
            outcome,
            task.status,
            task.name,
            task.observed_at,
            detail,
            state.offset,
            state.source_keys,
            state.target_keys,
        )

    def _act(self, tasks: dict[str, _Task], candidates: Iterable[_Task]) -> None:
        """Decide for every unsettled task, settle the finished ones, send the stops needed.

        With the cutover guard, a task about to be stopped has its lag read first (one stats
        request per task and look) and is stopped in the same breath if it is in sync.
        """
        unsettled = [t for t in candidates if t.outcome is None]
        steps = self._decide(unsettled)
        now = self.clock()
        measure = [
            t.task_id
            for t in unsettled
            if steps[t.task_id].act is Act.READ_LAG and self._lag_due(t, now)
        ]
        if measure:
            self._read_lags(tasks, measure)
            steps.update(self._decide([tasks[tid] for tid in measure]))
        for task in unsettled:
            if steps[task.task_id].act is Act.DONE:
                task.outcome = steps[task.task_id].outcome
                if task.outcome is Outcome.NOT_IN_SYNC:
                    task.last_error = self._lag_detail(task)
                elif task.outcome is Outcome.KEYS_UNKNOWN:
                    task.last_error = _keys_unknown_detail(task.state)
        to_stop = [t.task_id for t in unsettled if steps[t.task_id].act is Act.STOP]
        if to_stop:
            self._send_stops(tasks, to_stop)

    def _decide(self, tasks: Iterable[_Task]) -> dict[str, Step]:
        now = self.clock()
        return {t.task_id: decide(t.state, now, self._policy) for t in tasks}

    def _read_lags(self, tasks: dict[str, _Task], ids: list[str]) -> None:
        """Guard: read the lag of ``ids`` (one stats request each)."""

        def read(tid: str) -> None:
            task = tasks[tid]
            try:
                stats = self._count("stats", lambda: self.client.get_stats(tid))
            except TaskNotFoundError:
                task.state = lag_read(task.state, None, error="the task is gone")
                return
            except (DeadlineExceeded, AuthenticationError, PermissionDeniedError):
                raise
            except DcsError as exc:  # retries exhausted: say so, never guess
                task.state = lag_read(task.state, None, error=f"its lag could not be read ({exc})")
                task.last_error = task.state.lag_error
                return
            if stats.offset is None:
                task.state = lag_read(task.state, None, error="the stats answer has no offset")
                task.last_error = task.state.lag_error
                return
            # The counts only with the key check: without it they are not recorded, nor shown.
            counted = self._policy.max_key_difference is not None
            keys = (stats.source_keys, stats.target_keys) if counted else (None, None)
            task.state = lag_read(task.state, stats.offset, keys=keys)
            now = self.clock()
            task.lag = [*task.lag[-2:], (now, stats.offset)]
            if (difference := task.state.key_difference) is not None:
                task.keys = [*task.keys[-2:], (now, difference)]

        list(self._parallel(read, ids))

    def _lag_due(self, task: _Task, now: float) -> bool:
        """Guard: whether a lagging task's lag is worth reading now. Once its drain rate is known,
        not before it should be in sync (or the sync deadline): no stats request is spent on a
        task that cannot be stopped yet."""
        bound = self._policy.max_offset
        key_bound = self._policy.max_key_difference
        when = task.next_lag_read(bound, key_bound) if bound is not None else None
        if when is None:
            return True
        return now >= min(when, self._policy.sync_deadline) - LAG_EARLY

    def _lag_detail(self, task: _Task) -> str:
        bound = self._policy.max_offset
        waited = f"after {min(self.options.sync_timeout, self.options.timeout):g}s; not stopped"
        state = task.state
        if state.offset is not None and bound is not None and state.offset > bound:
            return f"lag {state.offset} > max offset {bound} {waited}"
        return (
            f"the target holds {state.target_keys} keys, the source {state.source_keys}: "
            f"{state.key_difference} short, more than the max key difference "
            f"{self._policy.max_key_difference}, {waited}. Check the target's memory (maxmemory) "
            "and eviction policy (an evicting target drops keys) and the migration's key filters"
        )

    def _wait(self, tasks: dict[str, _Task], started: float, deadline: float) -> None:
        reporter = _Reporter(self.on_progress, self.options.progress_interval)
        poll_started, progressed, polls = started, False, 0
        while True:
            pending = [t for t in tasks.values() if t.outcome is None]
            now = self.clock()
            reporter.offer(self._progress(tasks, pending, now - started), now)
            if not pending or now >= deadline or self.cancel.is_set():
                return
            # The interval runs from the start of the last look, so a slow look (10 pages of a
            # 10,000-task project) eats into the wait instead of adding to it.
            interval = self._interval(
                now - started, progressed, len(pending), len(tasks), frugal=polls > 0
            )
            wait = interval - (now - poll_started)
            wait = min(wait, self._until_in_sync(pending, now))
            self._sleep(min(max(wait, 0.0), deadline - now), reporter, tasks, pending, started)
            if self.cancel.is_set():
                return
            poll_started, polls = self.clock(), polls + 1
            self._poll(tasks, [t.task_id for t in pending])
            if self.clock() >= deadline:
                self._finish_at_deadline(pending)
            else:
                self._act(tasks, pending)
            progressed = any(t.outcome is not None for t in pending)

    def _until_in_sync(self, pending: list[_Task], now: float) -> float:
        """Guard: seconds until the first lagging task should be in sync (its drain rate so far),
        or until the sync deadline: the next look is then, so a stop follows the catch-up at once."""
        bound = self._policy.max_offset
        if bound is None:
            return math.inf
        key_bound = self._policy.max_key_difference
        lagging = [
            t for t in pending if t.state.offset is not None and not in_sync(t.state, self._policy)
        ]
        moments = [when for t in lagging if (when := t.next_lag_read(bound, key_bound)) is not None]
        if lagging:
            moments.append(self._policy.sync_deadline)
        return max(min(moments, default=math.inf) - now, 0.0)

    def _finish_at_deadline(self, pending: list[_Task]) -> None:
        """At the deadline: record what the last look showed, send nothing more."""
        now = self.clock()
        for task in pending:
            step = decide(task.state, now, self._policy)
            if step.act is Act.DONE:
                task.outcome = step.outcome

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
        while (left := end - self.clock()) > 1e-6 and not self.cancel.is_set():
            self.sleep(min(left, reporter.due_in(self.clock())))
            now = self.clock()
            reporter.offer(self._progress(tasks, pending, now - started), now)

    def _interval(
        self, waited: float, progressed: bool, pending: int, total: int, *, frugal: bool
    ) -> float:
        """Quick at first, then a fraction of the time waited (smaller while tasks finish); after
        the first poll never dearer than :data:`MAX_REQUEST_RATIO` naive loops; never sooner than
        the rate limit allows."""
        o = self.options
        ratio = o.poll_ratio_active if progressed else o.poll_ratio
        cost = self._poll_cost(pending)
        # Against the naive loop over the run's tasks: one task left of a thousand is still
        # polled by the list page that a thousand share, not once a second.
        thrift = cost / (MAX_REQUEST_RATIO * max(total, 1)) if frugal else 0.0
        base = min(o.poll_ceiling, max(o.poll_floor, ratio * waited, thrift))
        interval = base * (1 + self.rng.uniform(-o.poll_jitter, o.poll_jitter))
        # The interval runs from the start of the last poll; the rate limit answers from now.
        began = self._poll_began
        since = max(self.clock() - began, 0.0) if began > -math.inf else 0.0
        return since + self.client.pace(cost, max(interval - since, 0.0))

    def _poll_cost(self, pending: int) -> int:
        """Requests the next poll of ``pending`` tasks takes at most: a list page per 1,000
        tasks of the project, or a details request per task when that is fewer."""
        if self._project_task_count is None:
            return min(pending, 2) if pending <= 2 else 1
        pages = max(1, min(MAX_LIST_PAGES, math.ceil(self._project_task_count / MAX_PAGE_SIZE)))
        return min(pending, pages)

    def _progress(
        self, tasks: dict[str, _Task], pending: list[_Task], elapsed: float
    ) -> ProgressEvent:
        settled = [t for t in tasks.values() if t.outcome in GOOD_OUTCOMES]
        terminated = sum(1 for t in settled if t.phase is Phase.TERMINATED)
        # Running tasks are further from done than stopping ones: list them first.
        slowest = sorted(pending, key=lambda t: (t.phase is not Phase.RUNNING, t.task_id))
        shown = tuple((t.task_id, self._shown_status(t)) for t in slowest)
        return ProgressEvent(terminated, len(tasks), elapsed, shown, len(settled) - terminated)

    def _shown_status(self, task: _Task) -> str | None:
        """Its status, and with the guard its lag while it is not stopped yet."""
        state = task.state
        if (
            self._policy.max_offset is None
            or state.offset is None
            or state.stop_sent_at is not None
        ):
            return task.status
        return f"{task.status}, {guard_reading(state.offset, state.key_difference)}"

    # --- stopping ---------------------------------------------------------------------------

    def _send_stops(self, tasks: dict[str, _Task], ids: list[str]) -> None:
        chunks = batches(ids, self.options.chunk_size)
        failed: list[str] = []
        for chunk_failed in self._parallel(lambda c: self._stop_chunk(tasks, c), chunks):
            failed += chunk_failed
        if not failed:
            return
        # Only re-send what still runs: a "failed" task may have stopped or finished meanwhile.
        self._poll(tasks, failed)
        self._act(tasks, [tasks[tid] for tid in failed])

    def _stop_chunk(self, tasks: dict[str, _Task], chunk: list[str]) -> list[str]:
        """Batch-stop one chunk; returns the ids whose stop was not accepted."""
        try:
            results = self._count("batch_stop", lambda: self.client.batch_stop(chunk))
        except (AuthenticationError, PermissionDeniedError):
            raise
        except TaskNotFoundError as exc:
            return self._split_or_settle(tasks, chunk, exc, Outcome.NOT_FOUND)
        except DcsApiError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise  # retries are exhausted: the API is not usable now
            return self._split_or_settle(tasks, chunk, exc, Outcome.STOP_REJECTED)
        sent_at = self.clock()
        answered = {r.task_id: r for r in results}
        failed = []
        for tid in chunk:
            item, task = answered.get(tid), tasks[tid]
            accepted = item is not None and item.succeeded
            task.state = stop_sent(task.state, accepted=accepted, now=sent_at)
            if not accepted:
                code = f"{item.error_code}: {item.error_msg}" if item else "missing from the answer"
                task.last_error = f"stop not accepted ({code})"
                failed.append(tid)
        return failed

    def _split_or_settle(
        self, tasks: dict[str, _Task], chunk: list[str], exc: DcsApiError, outcome: Outcome
    ) -> list[str]:
        """A batch refused as a whole (no task's attempt): halve it to find the id at fault."""
        if len(chunk) == 1:
            task = tasks[chunk[0]]
            task.state = stop_sent(task.state, accepted=False, now=self.clock())
            task.outcome = outcome
            task.last_error = f"{exc.error_code or exc.status_code}: {exc.error_msg or ''}".strip()
            return []
        middle = len(chunk) // 2
        return self._stop_chunk(tasks, chunk[:middle]) + self._stop_chunk(tasks, chunk[middle:])

    # --- looking ----------------------------------------------------------------------------

    def _poll(self, tasks: dict[str, _Task], ids: list[str], *, first_poll: bool = False) -> None:
        """Refresh the status of ``ids``, by list pages or by details, whichever is cheaper."""
        if not ids:
            return
        self._poll_began = self.clock()
        count = self._project_task_count
        if len(ids) <= (2 if count is None else max(math.ceil(count / MAX_PAGE_SIZE), 1)):
            self._poll_by_details(tasks, ids, first_poll)
        else:
            missing = self._poll_by_list(tasks, set(ids), first_poll)
            if missing:  # hidden from the list: deleted, or moved between pages; ask each
                self._poll_by_details(tasks, sorted(missing), first_poll)

    def _poll_by_list(
        self, tasks: dict[str, _Task], wanted: set[str], first_poll: bool
    ) -> set[str]:
        """Look at every list page (a few at a time); returns the wanted ids no page showed."""
        sent_at = iso_utc(self.wall())
        seen: set[str] = set()
        listed: set[str] = set()

        def page_at(offset: int) -> TaskStatusPage:
            return self._count("list", lambda: self.client.list_task_statuses(offset=offset))

        def take(page: TaskStatusPage) -> bool:
            """Record one page; True when the list may go on after it."""
            new = False
            for item in page.migration_tasks:
                if item.task_id in listed:
                    continue
                listed.add(item.task_id)
                new = True
                if item.task_id in wanted:
                    self._record(
                        tasks[item.task_id], item.status, item.task_name, sent_at, first_poll
                    )
                    seen.add(item.task_id)
            return new and len(page.migration_tasks) >= MAX_PAGE_SIZE

        first = page_at(0)
        going, offset, pages = take(first), MAX_PAGE_SIZE, 1
        # ``count`` only caps the pages asked for; each wave is at most ``concurrency`` pages.
        while going and offset < first.count and pages < MAX_LIST_PAGES:
            claimed = math.ceil((first.count - offset) / MAX_PAGE_SIZE)
            wave = min(self.options.concurrency, claimed, MAX_LIST_PAGES - pages)
            offsets = [offset + n * MAX_PAGE_SIZE for n in range(wave)]
            for page in self._parallel(page_at, offsets):
                pages += 1
                going = take(page)
                if not going:
                    break
            offset += wave * MAX_PAGE_SIZE
        self._project_task_count = min(first.count, len(listed))
        return wanted - seen

    def _poll_by_details(self, tasks: dict[str, _Task], ids: list[str], first_poll: bool) -> None:
        def look(tid: str) -> None:
            sent_at = iso_utc(self.wall())
            try:
                detail = self._count("show", lambda: self.client.get_task(tid))
            except TaskNotFoundError:
                self._record(tasks[tid], "DELETED", tasks[tid].name, sent_at, first_poll)
                return
            self._record(tasks[tid], detail.status, detail.task_name, sent_at, first_poll)

        list(self._parallel(look, ids))

    @staticmethod
    def _record(
        task: _Task, status: str | None, name: str | None, when: str, first_poll: bool
    ) -> None:
        task.state = polled(task.state, status, first_poll=first_poll)
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
