"""The simulator's in-memory tasks and the clock their status is computed from.

Status is computed lazily from timestamps when a task is read: nothing runs per task in the
background, so 100,000 tasks cost only their memory. A stop records ``stop_requested_at``; the
task reads ``TERMINATING`` until ``stop_requested_at + stop_delay`` and ``TERMINATED`` from that
exact moment on (``terminated_at``). One lock guards every read-modify-write, because the HTTP
server's thread and test code touch the same state.

The incremental lag (``offset`` of the stats call, in bytes) is piecewise linear in the clock;
each task keeps the lag and the moment of its last change of rates or status, and
:meth:`Task.lag_at` extends it from there (formulas there). The key counts of the stats call
(``source_dbsize`` / ``target_dbsize``) follow the lag (:meth:`Task.keys_at`) unless set.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pulumi_dcs_migration.models import FINISHED_STATUSES, RUNNING_STATUSES

from .config import Behaviour, SimulatorConfig, check_delay, check_jitter

ONLINE = "online_migration"
BACKUP_IMPORT = "backupfile_import"
FULL = "full_amount_migration"
INCREMENTAL = "incremental_migration"
NEVER = math.inf

Clock = Callable[[], float]

INCREMENTAL_SYNC = frozenset({"INCRMIGEATING", "INCRMIGRATING"})
"""Statuses in which the lag evolves (the source is being synced to the target)."""
STOPPING_OR_STOPPED = frozenset({"TERMINATING", "TERMINATED"})
"""Statuses in which the lag is frozen at the stop request (stats keep showing it)."""

SOURCE_KEYS = 1000
"""The source's key count a task's stats show unless set (admin ``keys``)."""
KEY_BYTES = 100
"""Bytes of lag per key the target lacks (unless set): the counts are equal once the lag is 0."""

KeyCounts = tuple[int | None, int | None]
"""``(source, target)`` key counts; ``None``: the stats answer omits that count."""

# Endpoints given to tasks made by the admin API and the seed, so list/details look populated.
# Shared on purpose (100k tasks): the API paths replace these dicts, never mutate them.
SEED_SOURCE: dict[str, Any] = {"addrs": "192.168.0.20:6379", "password": None}
SEED_TARGET: dict[str, Any] = {
    "id": "5560df16-cebf-4473-95c4-7c3ab9f9d3f7",
    "name": "dcs-simulated-target",
    "addrs": "192.168.0.30:6379",
}


@dataclass(slots=True)
class Task:
    """One migration task. ``status`` is the stored base; read it through :meth:`status_at`."""

    task_id: str
    task_name: str
    migration_type: str
    migration_method: str | None
    status: str
    created_at: float
    stop_delay: float
    description: str = ""
    stop_requested_at: float | None = None
    # A forced TERMINATED (admin set_status) has no stop request; its moment is kept here.
    forced_terminated_at: float | None = None
    # CREATING turns RUNNING at ready_at (online create, step 1).
    ready_at: float | None = None
    deleted: bool = False
    deleted_at: float | None = None
    resume_mode: str = "manual"
    bandwidth_limit_mb: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    backup_files: dict[str, Any] | None = None
    network_type: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    security_group_id: str | None = None
    updated_at: float | None = None
    # Incremental lag (bytes): `lag` at `lag_since`, extended by the rates (see lag_at).
    lag: float = 0.0
    lag_since: float = 0.0
    write_rate: float = 0.0
    drain_rate: float = 0.0
    writes_frozen: bool = False
    # The offset the stats call showed at the latest stop request (None with no stop pending),
    # and every stop request ever made to this task as (moment, offset); restarts keep it.
    offset_at_stop: int | None = None
    stop_history: list[tuple[float, int, KeyCounts]] | None = None
    # Key counts set by the admin API, by side ("source", "target"; None: omitted from the
    # stats); a side not set follows the lag (keys_at).
    keys_set: dict[str, int | None] | None = None

    def terminated_at(self, now: float) -> float | None:
        """When the task became TERMINATED, or ``None`` if it is not (yet)."""
        if self.stop_requested_at is not None:
            moment = self.stop_requested_at + self.stop_delay
            return moment if now >= moment else None
        return self.forced_terminated_at

    def status_at(self, now: float) -> str:
        """The status a reader sees at ``now`` (DELETED only shows where the caller wants it)."""
        if self.stop_requested_at is not None:
            return (
                "TERMINATED" if now >= self.stop_requested_at + self.stop_delay else "TERMINATING"
            )
        if self.status == "CREATING" and self.ready_at is not None and now >= self.ready_at:
            return "RUNNING"
        return self.status

    def request_stop(self, now: float) -> None:
        """Begin the asynchronous stop; the task reads TERMINATING from now on.

        Records the moment and the offset the stats call showed at that moment
        (``offset_at_stop``, also appended to ``stop_history`` with the key counts shown then);
        the lag freezes there.
        """
        offset, keys = self.offset_at(now), self.keys_at(now)
        self._checkpoint(now)
        self.stop_requested_at = now
        self.forced_terminated_at = None
        self.offset_at_stop = offset
        if self.stop_history is None:
            self.stop_history = []
        self.stop_history.append((now, offset, keys))

    def set_status(self, status: str, now: float) -> None:
        """Force a stored status, clearing any stop in progress (TERMINATING restarts one)."""
        self._checkpoint(now)
        self.status = status
        self.stop_requested_at = None
        self.offset_at_stop = None
        self.forced_terminated_at = now if status == "TERMINATED" else None
        self.ready_at = None
        if status == "TERMINATING":
            self.status = "INCRMIGEATING"
            self.request_stop(now)
        elif status not in INCREMENTAL_SYNC and status != "TERMINATED":
            self.lag = 0.0  # a task that is not (or no longer) syncing has nothing to catch up

    # --- incremental lag ----------------------------------------------------------------------

    def lag_evolving(self) -> bool:
        """True while the lag moves: incremental sync, no stop requested."""
        return self.stop_requested_at is None and self.status in INCREMENTAL_SYNC

    def writing(self) -> bool:
        """True while the source is being written to (a write rate, not frozen)."""
        return self.write_rate > 0 and not self.writes_frozen

    def lag_at(self, now: float) -> float:
        """The lag in bytes at ``now``, from ``lag`` at ``lag_since`` (``Δt = now - lag_since``,
        to the microsecond):

        - evolving and writing: ``lag + write_rate·Δt`` (grows);
        - evolving, not writing: ``max(0, lag - drain_rate·Δt)`` (drains to 0: in sync);
        - otherwise (stopping, stopped, not in incremental sync): ``lag``, frozen.
        """
        if not self.lag_evolving():
            return self.lag
        # To the microsecond: epoch floats carry ~0.2 µs of noise, which times a rate of bytes
        # per second would otherwise show as a stray byte.
        elapsed = max(0.0, round(now - self.lag_since, 6))
        if self.writing():
            return self.lag + self.write_rate * elapsed
        return max(0.0, self.lag - self.drain_rate * elapsed)

    def offset_at(self, now: float) -> int:
        """The stats call's ``offset`` at ``now``: the lag rounded *up* to whole bytes (any lag
        at all reads as not in sync), for incremental-sync and stopping/stopped tasks; ``0``
        for every other status (not syncing yet, or finished: nothing left to catch up)."""
        status = self.status_at(now)
        if status not in INCREMENTAL_SYNC and status not in STOPPING_OR_STOPPED:
            return 0
        return max(0, math.ceil(self.lag_at(now) - 1e-6))

    def keys_at(self, now: float) -> KeyCounts:
        """The stats call's key counts at ``now``: each side as set (admin ``keys``), else the
        model's: the source holds :data:`SOURCE_KEYS`; the target what the full migration has
        copied (its progress) less a key per :data:`KEY_BYTES` of lag (rounded up, as the
        offset is), so the counts are equal once the lag is 0 and freeze with it at a stop."""
        status = self.status_at(now)
        copied = SOURCE_KEYS * full_progress(status) // 100
        lacking = math.ceil(self.offset_at(now) / KEY_BYTES)
        model = {"source": SOURCE_KEYS, "target": max(0, copied - lacking)}
        fixed = self.keys_set or {}
        source, target = (fixed.get(side, model[side]) for side in ("source", "target"))
        return source, target

    def set_keys(self, changes: dict[str, int | None]) -> None:
        """Fix the counts of the sides in ``changes`` (``None``: the stats omit that count)."""
        self.keys_set = {**(self.keys_set or {}), **changes}

    def _checkpoint(self, now: float) -> None:
        """Fold the lag up to ``now`` into ``lag``/``lag_since`` before anything changes."""
        self.lag = self.lag_at(now)
        self.lag_since = now

    def set_lag(
        self,
        now: float,
        *,
        write_rate: float | None = None,
        drain_rate: float | None = None,
        frozen: bool | None = None,
        offset: float | None = None,
    ) -> None:
        """Change the lag model from ``now`` on; ``None`` leaves a field as it is. ``offset``
        sets the lag itself (it then evolves from that value)."""
        self._checkpoint(now)
        if write_rate is not None:
            self.write_rate = write_rate
        if drain_rate is not None:
            self.drain_rate = drain_rate
        if frozen is not None:
            self.writes_frozen = frozen
        if offset is not None:
            self.lag = offset


def full_progress(status: str) -> int:
    """The stats call's ``full_migration_progress`` (percent) in ``status``."""
    if status in ("CREATING", "RUNNING"):
        return 0
    return 50 if status in ("MIGRATING", "FULLMIGRATING") else 100


def is_running(status: str) -> bool:
    """Running in the sense of "a stop is needed": syncing, creating or about to run."""
    return status in RUNNING_STATUSES


def is_finished(status: str) -> bool:
    """Ended on its own; will never read TERMINATED."""
    return status in FINISHED_STATUSES


class SimulatorState:
    """All tasks, the per-task delay RNG, the behaviour switches and the request counters."""

    def __init__(self, config: SimulatorConfig, clock: Clock = time.time) -> None:
        config.validate()
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.tasks: dict[str, Task] = {}  # insertion order = creation order = list order
        self.behaviour: Behaviour = config.behaviour
        self.counters: dict[str, int] = {}
        self._rng = random.Random(config.rng_seed)
        # Ids come from their own seeded stream, so `dcs-simulator --seed 5` always creates the
        # same five ids (the `local` stack lists them) and the delay draws stay unchanged.
        self._id_rng = random.Random(f"task-ids-{config.rng_seed}")
        if config.seed:
            self.create_tasks(config.seed)

    # --- creation ---------------------------------------------------------------------------

    def draw_delay(self, base: float, jitter: float) -> float:
        """A task's own stop delay: ``base`` varied by up to ``±jitter``, drawn once."""
        # Drawn even when jitter is 0 so the sequence depends only on the creation order.
        u = self._rng.uniform(-1.0, 1.0)
        if math.isinf(base):
            return NEVER
        return max(0.0, base * (1.0 + jitter * u))

    def create_tasks(
        self,
        count: int,
        *,
        status: str = "INCRMIGEATING",
        stop_delay: float | None = None,
        stop_jitter: float | None = None,
        migration_type: str = ONLINE,
        name_prefix: str = "task",
    ) -> list[str]:
        """Create ``count`` tasks directly (admin path) and return their ids."""
        base = self.config.stop_delay if stop_delay is None else stop_delay
        jitter = self.config.stop_jitter if stop_jitter is None else stop_jitter
        check_delay(base, "stop_delay")
        check_jitter(jitter)
        method = INCREMENTAL if migration_type == ONLINE else FULL
        with self.lock:
            now = self.clock()
            start = len(self.tasks)
            ids = []
            for n in range(count):
                task = self._new_task(
                    f"{name_prefix}-{start + n}", migration_type, method, base, jitter
                )
                task.set_status(status, now)
                task.source, task.target = SEED_SOURCE, SEED_TARGET
                ids.append(task.task_id)
            return ids

    def _new_task(
        self, name: str, migration_type: str, method: str | None, base: float, jitter: float
    ) -> Task:
        task = Task(
            task_id=str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4)),
            task_name=name,
            migration_type=migration_type,
            migration_method=method,
            status="RUNNING",
            created_at=self.clock(),
            stop_delay=self.draw_delay(base, jitter),
            write_rate=self.config.write_rate,
            drain_rate=self.config.drain_rate,
        )
        task.lag_since = task.created_at
        self.tasks[task.task_id] = task
        return task

    def new_task(self, name: str, migration_type: str, method: str | None) -> Task:
        """Create one task with the configured delays (API path); the caller sets it up."""
        with self.lock:
            return self._new_task(
                name, migration_type, method, self.config.stop_delay, self.config.stop_jitter
            )

    # --- reading ----------------------------------------------------------------------------

    def get(self, task_id: str) -> Task | None:
        """The task with this id, deleted or not; ``None`` when unknown."""
        return self.tasks.get(task_id)

    def live(self, task_id: str) -> Task | None:
        """The task with this id unless unknown or deleted."""
        task = self.tasks.get(task_id)
        return None if task is None or task.deleted else task

    def page(self, offset: int, limit: int, name: str | None) -> tuple[int, list[Task]]:
        """``(count, tasks)`` of the list call: live tasks, substring name filter, in order."""
        with self.lock:
            matching: Iterable[Task] = (t for t in self.tasks.values() if not t.deleted)
            if name:
                matching = (t for t in matching if name in t.task_name)
            count = 0
            page: list[Task] = []
            for task in matching:
                if offset <= count < offset + limit:
                    page.append(task)
                count += 1
            return count, page

    def last_terminated_at(self, task_ids: Iterable[str] | None = None) -> float | None:
        """Latest ``terminated_at`` over ``task_ids`` (all tasks when ``None``)."""
        with self.lock:
            now = self.clock()
            moments = (t.terminated_at(now) for t in self._select(task_ids))
            return max((m for m in moments if m is not None), default=None)

    def _select(self, task_ids: Iterable[str] | None) -> Iterator[Task]:
        if task_ids is None:
            yield from self.tasks.values()
            return
        for task_id in task_ids:
            task = self.tasks.get(task_id)
            if task is not None:
                yield task

    def stop_records(self, task_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every stop request made to ``task_ids`` (all tasks when ``None``), in task order then
        time order: ``{"task_id", "at", "offset", "source_keys", "target_keys"}``, the offset and
        the key counts as the stats call showed them."""
        with self.lock:
            return [
                {"task_id": task.task_id, **_stop_record(at, offset, keys)}
                for task in self._select(task_ids)
                for at, offset, keys in task.stop_history or ()
            ]

    def count(self, operation: str) -> None:
        """Count one request under ``operation``."""
        with self.lock:
            self.counters[operation] = self.counters.get(operation, 0) + 1

    def raw_view(self, task: Task) -> dict[str, Any]:
        """The admin's internal view of one task (status computed now)."""
        now = self.clock()
        return {
            "task_id": task.task_id,
            "task_name": task.task_name,
            "status": task.status_at(now),
            "stored_status": task.status,
            "migration_type": task.migration_type,
            "migration_method": task.migration_method,
            "created_at": task.created_at,
            "stop_requested_at": task.stop_requested_at,
            "terminated_at": task.terminated_at(now),
            "stop_delay": "never" if math.isinf(task.stop_delay) else task.stop_delay,
            "deleted": task.deleted,
            "deleted_at": task.deleted_at,
            "offset": task.offset_at(now),
            "lag": task.lag,  # bytes at lag_since (the model's base: benchmarks compute from it)
            "lag_since": task.lag_since,
            "write_rate": task.write_rate,
            "drain_rate": task.drain_rate,
            "writes_frozen": task.writes_frozen,
            "offset_at_stop": task.offset_at_stop,
            **dict(zip(("source_keys", "target_keys"), task.keys_at(now), strict=True)),
            "stop_history": [_stop_record(*record) for record in task.stop_history or ()],
        }


def _stop_record(at: float, offset: int, keys: KeyCounts) -> dict[str, Any]:
    """One stop request as the admin API shows it."""
    return {"at": at, "offset": offset, "source_keys": keys[0], "target_keys": keys[1]}
