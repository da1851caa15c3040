"""A thin httpx client over the ``/_simulator/`` admin API, for any simulator URL (in-process
or a ``dcs-simulator`` subprocess)."""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any

import httpx


class SimulatorAdmin:
    """Drive a running simulator's admin API. Errors raise ``httpx.HTTPStatusError``."""

    def __init__(self, base_url: str, *, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url + "/_simulator", timeout=timeout)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> SimulatorAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def health(self) -> dict[str, Any]:
        """Liveness, project id and task count."""
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def create_tasks(
        self,
        count: int = 1,
        *,
        status: str = "INCRMIGEATING",
        stop_delay: float | str | None = None,
        stop_jitter: float | None = None,
        migration_type: str = "online_migration",
        name_prefix: str = "task",
    ) -> list[str]:
        """Create ``count`` tasks; ``stop_delay`` ``None`` = server default, ``inf`` or
        ``"never"`` = never terminates. Returns the new ids in creation order."""
        if isinstance(stop_delay, float) and math.isinf(stop_delay):
            stop_delay = "never"  # JSON has no infinity
        body = {
            "count": count,
            "status": status,
            "stop_delay": stop_delay,
            "stop_jitter": stop_jitter,
            "migration_type": migration_type,
            "name_prefix": name_prefix,
        }
        ids: list[str] = self._call("POST", "/tasks", body)["task_ids"]
        return ids

    def task(self, task_id: str) -> dict[str, Any]:
        """Internal view: ``status`` (computed now), ``stop_requested_at``, ``terminated_at``
        (epoch seconds or ``None``), ``deleted``, ``stop_delay`` (``inf`` = never), the lag
        model (``offset`` now, ``write_rate``, ``drain_rate``, ``writes_frozen``), the offset at
        the latest stop request (``offset_at_stop``), the key counts now (``source_keys``,
        ``target_keys``) and ``stop_history`` (``[{"at", "offset", "source_keys",
        "target_keys"}]``, kept across restarts)."""
        view: dict[str, Any] = self._call("GET", f"/tasks/{task_id}")
        if view.get("stop_delay") == "never":
            view["stop_delay"] = math.inf
        return view

    def statuses(self, task_ids: list[str]) -> list[str]:
        """Each task's status now, in the order of ``task_ids``."""
        return [self.task(task_id)["status"] for task_id in task_ids]

    def set_status(self, task_id: str, status: str) -> None:
        """Force a status (clears any stop in progress; ``TERMINATING`` starts a new one)."""
        self._call("POST", f"/tasks/{task_id}/status", {"status": status})

    def delete_task(self, task_id: str) -> None:
        """Mark a task deleted, as the delete call would."""
        self._call("DELETE", f"/tasks/{task_id}")

    def counters(self) -> dict[str, int]:
        """Requests per operation name, plus ``unauthorized``, ``fault`` (injected faults),
        ``throttled`` (429s of the token bucket) and ``admin_refused`` (non-loopback admin
        calls)."""
        result: dict[str, int] = self._call("GET", "/counters")
        return result

    def reset_counters(self) -> None:
        """Zero every counter."""
        self._call("DELETE", "/counters")

    def set_faults(self, **spec: Any) -> None:
        """Replace the fault plan (see :mod:`dcs_simulator.faults`)."""
        self._call("POST", "/faults", spec)

    def faults(self) -> dict[str, Any]:
        """The fault plan as set, with remaining counts."""
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._call("DELETE", "/faults")

    def set_behaviour(self, **fields: Any) -> None:
        """Update behaviour switches (see :class:`~.config.Behaviour`)."""
        self._call("POST", "/behaviour", fields)

    def behaviour(self) -> dict[str, Any]:
        """The current behaviour switches."""
        result: dict[str, Any] = self._call("GET", "/behaviour")
        return result

    def last_terminated_at(self, task_ids: list[str] | None = None) -> float | None:
        """Latest ``terminated_at`` over ``task_ids`` (or all tasks): the moment the last of
        them stopped, i.e. the fastest any client could have observed them all stopped."""
        value = self._call("POST", "/last-terminated-at", {"task_ids": task_ids})
        result = value["last_terminated_at"]
        return None if result is None else float(result)

    # --- throttling -------------------------------------------------------------------------

    def set_throttle(self, rate: float, burst: int | None = None) -> dict[str, Any]:
        """Throttle every project to ``rate`` requests/second with a bucket of ``burst``
        (default: the rate rounded up); every bucket starts full. Answers :meth:`throttle`."""
        result: dict[str, Any] = self._call("POST", "/throttle", {"rate": rate, "burst": burst})
        return result

    def throttle(self) -> dict[str, Any]:
        """``{"enabled", "rate", "burst", "tokens": {project_id: tokens now}}``."""
        result: dict[str, Any] = self._call("GET", "/throttle")
        return result

    def clear_throttle(self) -> None:
        """Switch throttling off."""
        self._call("DELETE", "/throttle")

    # --- incremental lag ----------------------------------------------------------------------

    def set_lag(
        self,
        task_id: str,
        *,
        write_rate: float | None = None,
        drain_rate: float | None = None,
        frozen: bool | None = None,
        offset: float | None = None,
    ) -> dict[str, Any]:
        """Change one task's lag model from now on (``None`` leaves a field unchanged): the
        lag grows by ``write_rate`` bytes/s while written to, drains by ``drain_rate`` once
        writes stop (``frozen`` or rate 0); ``offset`` sets the lag itself. Answers the view."""
        body = _lag_body(write_rate, drain_rate, frozen, offset)
        view: dict[str, Any] = self._call("POST", f"/tasks/{task_id}/lag", body)
        return view

    def set_lag_many(
        self,
        task_ids: list[str] | None,
        *,
        write_rate: float | None = None,
        drain_rate: float | None = None,
        frozen: bool | None = None,
        offset: float | None = None,
    ) -> int:
        """:meth:`set_lag` for ``task_ids`` (``None``: every task) at one moment; returns how
        many tasks changed. Unknown ids: 404, nothing changed."""
        body = {"task_ids": task_ids, **_lag_body(write_rate, drain_rate, frozen, offset)}
        updated: int = self._call("POST", "/lag", body)["updated"]
        return updated

    def freeze_writes(self, task_id: str) -> dict[str, Any]:
        """Stop the writes to ``task_id``'s source: its lag drains from now on."""
        return self.set_lag(task_id, frozen=True)

    def unfreeze_writes(self, task_id: str) -> dict[str, Any]:
        """Resume the writes (at the task's write rate): its lag grows again."""
        return self.set_lag(task_id, frozen=False)

    def set_keys(self, task_id: str, *, source: int | None, target: int | None) -> dict[str, Any]:
        """Set the key counts ``task_id``'s stats show from now on (``None``: that count is
        omitted from the stats answer). Answers the view."""
        body = {"source": source, "target": target}
        view: dict[str, Any] = self._call("POST", f"/tasks/{task_id}/keys", body)
        return view

    def stop_records(self, task_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Every stop request made to ``task_ids`` (or all tasks): ``{"task_id", "at",
        "offset", "source_keys", "target_keys"}``, what the stats call showed at that moment."""
        records: list[dict[str, Any]] = self._call("POST", "/stop-records", {"task_ids": task_ids})[
            "records"
        ]
        return records


def _lag_body(
    write_rate: float | None, drain_rate: float | None, frozen: bool | None, offset: float | None
) -> dict[str, Any]:
    fields = {
        "write_rate": write_rate,
        "drain_rate": drain_rate,
        "frozen": frozen,
        "offset": offset,
    }
    return {k: v for k, v in fields.items() if v is not None}
