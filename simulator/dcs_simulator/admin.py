"""Server side of the ``/_simulator/`` admin API (no authentication: it answers loopback
clients only, see :mod:`.app`).

- ``GET /_simulator/health``: liveness, project id, task count.
- ``POST /_simulator/tasks``: create tasks from ``{count, status, stop_delay, stop_jitter,
  migration_type, name_prefix}``; ``stop_delay`` is seconds, ``null`` (server default) or
  ``"never"`` (never terminates). Answers ``{"task_ids": [...]}``.
- ``GET /_simulator/tasks/{id}``: internal view of one task.
- ``POST /_simulator/tasks/{id}/status``: force ``{"status": ...}``.
- ``DELETE /_simulator/tasks/{id}``: mark deleted.
- ``GET`` / ``DELETE /_simulator/counters``: requests per operation / reset.
- ``GET`` / ``POST`` / ``DELETE /_simulator/faults``: the fault plan (see :mod:`.faults`).
- ``GET`` / ``POST /_simulator/behaviour``: read / update :class:`~.config.Behaviour` fields.
- ``POST /_simulator/last-terminated-at``: ``{"task_ids": [...] or null}`` → latest
  ``terminated_at``.
- ``GET`` / ``POST`` / ``DELETE /_simulator/throttle``: the per-project token bucket
  (``{"rate": req/s, "burst": n or null}``; DELETE switches it off); see :mod:`.throttle`.
- ``POST /_simulator/tasks/{id}/lag``: ``{"write_rate", "drain_rate", "frozen", "offset"}``
  (each optional; bytes and bytes/second) changes one task's lag model from now on.
- ``POST /_simulator/lag``: the same for ``{"task_ids": [...] or null (all tasks), ...}``;
  answers ``{"updated": n}``.
- ``POST /_simulator/tasks/{id}/keys``: ``{"source": N, "target": M}`` (each optional) sets the
  key counts the stats call shows from now on (``source_dbsize`` / ``target_dbsize``); ``null``
  makes the stats answer omit that count. A count never set follows the lag model.
- ``POST /_simulator/stop-records``: ``{"task_ids": [...] or null}`` → ``{"records": [{"task_id",
  "at", "offset", "source_keys", "target_keys"}]}``, every stop request with the offset and the
  key counts the stats call showed at that moment.

The task view (``GET /_simulator/tasks/{id}``) shows ``offset`` (now), ``write_rate``,
``drain_rate``, ``writes_frozen``, ``stop_requested_at``, ``offset_at_stop``, ``source_keys``,
``target_keys`` (now) and ``stop_history``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from .config import check_rate
from .faults import FaultPlan
from .state import SimulatorState, Task
from .throttle import Throttle, ThrottlePolicy
from .wire import Call, json_response

MAX_CREATE = 1_000_000


class AdminError(Exception):
    """An admin request the simulator cannot honour."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Call], Any]


class AdminApi:
    """Handlers for ``/_simulator/...``; each returns a JSON-ready payload."""

    def __init__(
        self, state: SimulatorState, faults: FaultPlan, throttle: Throttle | None = None
    ) -> None:
        self.state = state
        self.faults = faults
        self.throttle = throttle or Throttle(state.clock)

    def dispatch(self, call: Call) -> Response:
        """Route one admin request; errors become ``{"error": ...}`` with 400/404/405."""
        try:
            handler = self._route(call)
            payload = handler(call)
        except AdminError as exc:
            return json_response({"error": exc.message}, call.request_id, status=exc.status)
        except ValueError as exc:
            return json_response({"error": str(exc)}, call.request_id, status=400)
        return json_response(payload, call.request_id)

    def _route(self, call: Call) -> Handler:
        parts = call.segments[1:]  # drop "_simulator"
        table: dict[tuple[str, ...], dict[str, Handler]] = {
            ("health",): {"GET": self.health},
            ("tasks",): {"POST": self.create_tasks},
            ("counters",): {"GET": self.counters, "DELETE": self.reset_counters},
            ("faults",): {
                "GET": self.get_faults,
                "POST": self.set_faults,
                "DELETE": self.clear_faults,
            },
            ("behaviour",): {"GET": self.get_behaviour, "POST": self.set_behaviour},
            ("last-terminated-at",): {"POST": self.last_terminated_at},
            ("throttle",): {
                "GET": self.get_throttle,
                "POST": self.set_throttle,
                "DELETE": self.clear_throttle,
            },
            ("lag",): {"POST": self.set_lag_many},
            ("stop-records",): {"POST": self.stop_records},
        }
        key = tuple(parts)
        if len(parts) == 2 and parts[0] == "tasks":
            call.params["task_id"] = parts[1]
            key = ("tasks", "{id}")
            table[key] = {"GET": self.task, "DELETE": self.delete_task}
        elif len(parts) == 3 and parts[0] == "tasks" and parts[2] == "status":
            call.params["task_id"] = parts[1]
            key = ("tasks", "{id}", "status")
            table[key] = {"POST": self.set_status}
        elif len(parts) == 3 and parts[0] == "tasks" and parts[2] == "lag":
            call.params["task_id"] = parts[1]
            key = ("tasks", "{id}", "lag")
            table[key] = {"POST": self.set_lag}
        elif len(parts) == 3 and parts[0] == "tasks" and parts[2] == "keys":
            call.params["task_id"] = parts[1]
            key = ("tasks", "{id}", "keys")
            table[key] = {"POST": self.set_keys}
        methods = table.get(key)
        if methods is None:
            raise AdminError(404, f"no admin route {call.raw_path}")
        if call.method not in methods:
            raise AdminError(405, f"{call.method} not allowed on {call.raw_path}")
        return methods[call.method]

    # --- handlers ---------------------------------------------------------------------------

    def health(self, call: Call) -> dict[str, Any]:
        """Liveness and a little context."""
        return {
            "ok": True,
            "project_id": self.state.config.project_id,
            "tasks": len(self.state.tasks),
        }

    def create_tasks(self, call: Call) -> dict[str, Any]:
        """Create tasks directly, bypassing the DCS create calls."""
        body = _body(call)
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_CREATE:
            raise AdminError(400, f"count must be an integer in [0, {MAX_CREATE}]")
        ids = self.state.create_tasks(
            count,
            status=str(body.get("status", "INCRMIGEATING")),
            stop_delay=_delay(body.get("stop_delay")),
            stop_jitter=_optional_float(body.get("stop_jitter"), "stop_jitter"),
            migration_type=str(body.get("migration_type", "online_migration")),
            name_prefix=str(body.get("name_prefix", "task")),
        )
        return {"task_ids": ids}

    def task(self, call: Call) -> dict[str, Any]:
        """Internal view of one task."""
        with self.state.lock:
            return self.state.raw_view(self._known(call))

    def set_status(self, call: Call) -> dict[str, Any]:
        """Force a status (e.g. INCRMIGEATING again, behind the client's back)."""
        status = _body(call).get("status")
        if not isinstance(status, str) or not status:
            raise AdminError(400, "status must be a non-empty string")
        with self.state.lock:
            task = self._known(call)
            task.set_status(status, self.state.clock())
            return self.state.raw_view(task)

    def delete_task(self, call: Call) -> dict[str, Any]:
        """Mark a task deleted, as the delete call would (without its state check)."""
        with self.state.lock:
            task = self._known(call)
            if not task.deleted:
                task.deleted, task.deleted_at = True, self.state.clock()
            return self.state.raw_view(task)

    def counters(self, call: Call) -> dict[str, Any]:
        """Requests per operation name."""
        with self.state.lock:
            return dict(self.state.counters)

    def reset_counters(self, call: Call) -> dict[str, Any]:
        """Zero every counter."""
        with self.state.lock:
            self.state.counters.clear()
        return {}

    def get_faults(self, call: Call) -> dict[str, Any]:
        """The fault plan as set, with remaining counts."""
        return self.faults.describe()

    def set_faults(self, call: Call) -> dict[str, Any]:
        """Replace the fault plan."""
        self.faults.set(_body(call))
        return self.faults.describe()

    def clear_faults(self, call: Call) -> dict[str, Any]:
        """Remove every fault."""
        self.faults.clear()
        return self.faults.describe()

    def get_behaviour(self, call: Call) -> dict[str, Any]:
        """The current behaviour switches."""
        return self.state.behaviour.as_dict()

    def set_behaviour(self, call: Call) -> dict[str, Any]:
        """Update some behaviour switches (validated; all or nothing)."""
        with self.state.lock:
            self.state.behaviour = self.state.behaviour.updated(**_body(call))
            return self.state.behaviour.as_dict()

    def last_terminated_at(self, call: Call) -> dict[str, Any]:
        """Latest ``terminated_at`` over the given (or all) tasks."""
        return {"last_terminated_at": self.state.last_terminated_at(_task_ids(_body(call)))}

    def get_throttle(self, call: Call) -> dict[str, Any]:
        """The throttle policy and each project's bucket level now."""
        return self.throttle.describe()

    def set_throttle(self, call: Call) -> dict[str, Any]:
        """Switch throttling on (or change it): ``{"rate": req/s, "burst": n or null}``."""
        body = _body(call)
        unknown = sorted(set(body) - {"rate", "burst"})
        if unknown:
            raise AdminError(400, f"unknown throttle field(s): {', '.join(unknown)}")
        if body.get("rate") is None:
            raise AdminError(400, "rate is required (DELETE /_simulator/throttle switches off)")
        self.throttle.set(ThrottlePolicy.of(body["rate"], body.get("burst")))
        return self.throttle.describe()

    def clear_throttle(self, call: Call) -> dict[str, Any]:
        """Switch throttling off."""
        self.throttle.set(None)
        return self.throttle.describe()

    def set_lag(self, call: Call) -> dict[str, Any]:
        """Change one task's lag model from now on; answers its view."""
        changes = _lag_changes(_body(call), allowed=_LAG_FIELDS)
        with self.state.lock:
            task = self._known(call)
            task.set_lag(self.state.clock(), **changes)
            return self.state.raw_view(task)

    def set_lag_many(self, call: Call) -> dict[str, Any]:
        """Change the lag model of ``task_ids`` (all tasks when null), all at the same moment."""
        body = _body(call)
        ids = _task_ids(body)
        changes = _lag_changes(body, allowed={*_LAG_FIELDS, "task_ids"})
        with self.state.lock:
            tasks = list(self.state.tasks.values()) if ids is None else [self._get(i) for i in ids]
            now = self.state.clock()
            for task in tasks:
                task.set_lag(now, **changes)
        return {"updated": len(tasks)}

    def set_keys(self, call: Call) -> dict[str, Any]:
        """Set one task's key counts from now on; answers its view."""
        changes = _key_changes(_body(call))
        with self.state.lock:
            task = self._known(call)
            task.set_keys(changes)
            return self.state.raw_view(task)

    def stop_records(self, call: Call) -> dict[str, Any]:
        """Every stop request (moment, offset shown then) of the given (or all) tasks."""
        return {"records": self.state.stop_records(_task_ids(_body(call)))}

    def _get(self, task_id: str) -> Task:
        task = self.state.get(task_id)
        if task is None:
            raise AdminError(404, f"unknown task {task_id}")
        return task

    def _known(self, call: Call) -> Task:
        return self._get(call.params["task_id"])


def _body(call: Call) -> dict[str, Any]:
    if not call.body.strip():
        return {}
    try:
        payload = json.loads(call.body)
    except ValueError as exc:
        raise AdminError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise AdminError(400, "body must be a JSON object")
    return payload


def _delay(value: Any) -> float | None:
    """``null`` = default, ``"never"``/``"inf"`` = infinity, else a non-negative number."""
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in ("never", "inf", "infinity"):
        return math.inf
    return _optional_float(value, "stop_delay")


def _optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdminError(400, f"{name} must be a number or null")
    return float(value)


_LAG_FIELDS = frozenset({"write_rate", "drain_rate", "frozen", "offset"})


def _task_ids(body: dict[str, Any]) -> list[str] | None:
    ids = body.get("task_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise AdminError(400, "task_ids must be a list of strings or null")
    return ids


def _key_changes(body: dict[str, Any]) -> dict[str, int | None]:
    """The counts of an admin ``keys`` body: whole numbers >= 0, or null (omitted)."""
    unknown = sorted(set(body) - {"source", "target"})
    if unknown:
        raise AdminError(
            400, f"unknown key-count field(s): {', '.join(unknown)}; use source, target"
        )
    for name, count in body.items():
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 0
        ):
            raise AdminError(400, f"{name} must be a whole number >= 0 or null, not {count!r}")
    return dict(body)


def _lag_changes(body: dict[str, Any], *, allowed: set[str] | frozenset[str]) -> dict[str, Any]:
    """Validated keyword arguments of :meth:`~.state.Task.set_lag` from an admin body."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise AdminError(400, f"unknown lag field(s): {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for name in ("write_rate", "drain_rate", "offset"):
        value = body.get(name)
        if value is not None:
            check_rate(value, name)  # finite and >= 0, like a rate
            changes[name] = float(value)
    frozen = body.get("frozen")
    if frozen is not None:
        if not isinstance(frozen, bool):
            raise AdminError(400, "frozen must be true, false or null")
        changes["frozen"] = frozen
    return changes
