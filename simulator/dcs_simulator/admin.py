"""Server side of the ``/_simulator/`` admin API (no authentication: loopback use only).

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
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from .faults import FaultPlan
from .state import SimulatorState, Task
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

    def __init__(self, state: SimulatorState, faults: FaultPlan) -> None:
        self.state = state
        self.faults = faults

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
        ids = _body(call).get("task_ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
        ):
            raise AdminError(400, "task_ids must be a list of strings or null")
        return {"last_terminated_at": self.state.last_terminated_at(ids)}

    def _known(self, call: Call) -> Task:
        task = self.state.get(call.params["task_id"])
        if task is None:
            raise AdminError(404, f"unknown task {call.params['task_id']}")
        return task


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
