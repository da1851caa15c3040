"""The DCS migration-task operations (reference section 2), one method per route.

Every method takes the parsed :class:`~.wire.Call` (path parameters already in
``call.params``) and returns a response or raises :class:`~.wire.ApiError`. Authentication,
the project check and faults happen before these run (see :mod:`.app`).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from pulumi_dcs_migration.models import is_valid_task_id

from .state import (
    BACKUP_IMPORT,
    FULL,
    INCREMENTAL,
    ONLINE,
    STOPPING_OR_STOPPED,
    SimulatorState,
    Task,
    full_progress,
    is_finished,
    is_running,
)
from .wire import (
    DCS_BAD_STATE,
    DCS_BAD_TASK_ID,
    DCS_NOT_FOUND,
    ApiError,
    Call,
    choice,
    empty_response,
    int_param,
    iso_ms,
    json_response,
    optional_obj,
    required_str,
    slashed,
    str_list,
)

RESTART_LIMIT = 50  # the newest Chinese doc page caps batch-restart at 50 tasks


class DcsApi:
    """Handlers for the DCS routes over one :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    # --- helpers ----------------------------------------------------------------------------

    def _task(self, call: Call) -> Task:
        """The live task named in the path, else 400 ``DCS.4133`` (malformed ids too)."""
        task_id = call.params["task_id"]
        task = self.state.live(task_id) if is_valid_task_id(task_id) else None
        if task is None:
            raise ApiError.bad(DCS_NOT_FOUND)
        return task

    def _batch_ids(self, payload: dict[str, Any], name: str) -> list[str]:
        ids = str_list(payload, name)
        if not all(is_valid_task_id(i) for i in ids):
            raise ApiError.bad(DCS_BAD_TASK_ID)
        return ids

    def _details(self, task: Task, now: float, status: str | None = None) -> dict[str, Any]:
        return task_details(task, now, status)

    # --- read -------------------------------------------------------------------------------

    def list(self, call: Call) -> Response:
        """``GET migration-tasks``: live tasks in creation order; ``name`` is a substring."""
        query = call.query()
        offset = int_param(query, "offset", 0, 0, 2**31 - 1)
        limit = int_param(query, "limit", 10, 1, 1000)
        count, tasks = self.state.page(offset, limit, query.get("name") or None)
        now = self.state.clock()
        items = [task_summary(t, now) for t in tasks]
        return json_response({"count": count, "migration_tasks": items}, call.request_id)

    def show(self, call: Call) -> Response:
        """``GET migration-task/{id}``; a deleted task per ``Behaviour.deleted_details``."""
        task_id = call.params["task_id"]
        task = self.state.get(task_id) if is_valid_task_id(task_id) else None
        if task is None or (task.deleted and self.state.behaviour.deleted_details == "not_found"):
            raise ApiError.bad(DCS_NOT_FOUND)
        now = self.state.clock()
        status = "DELETED" if task.deleted else None
        return json_response(self._details(task, now, status), call.request_id)

    def stats(self, call: Call) -> Response:
        """``GET migration-task/{id}/stats``: progress numbers consistent with the status, and
        ``offset``, the incremental lag in bytes (see :meth:`.state.Task.offset_at`)."""
        with self.state.lock:
            task = self._task(call)
            body = task_stats(task, self.state.clock())
        return json_response(body, call.request_id)

    def logs(self, call: Call) -> Response:
        """``GET migration-task/{id}/logs``: one entry per lifecycle event."""
        task = self._task(call)
        query = call.query()
        offset = int_param(query, "offset", 0, 0, 2**31 - 1)
        limit = int_param(query, "limit", 10, 1, 1000)
        level = query.get("log_level") or None
        entries = task_logs(task, self.state.clock())
        if level is not None:
            entries = [e for e in entries if e["log_level"] == level.upper()]
        body = {"log_num": len(entries), "migration_logs": entries[offset : offset + limit]}
        return json_response(body, call.request_id)

    # --- stop -------------------------------------------------------------------------------

    def batch_stop(self, call: Call) -> Response:
        """``POST migration-task/batch-stop``: per-item results; whole-request errors atomic."""
        payload = call.json_object()
        ids = str_list(payload, "migration_tasks")
        limit = self.state.behaviour.batch_limit
        if limit is not None and len(ids) > limit:
            raise ApiError(400, "DCS.4100", f"The number of migration tasks exceeds {limit}.")
        if not all(is_valid_task_id(i) for i in ids):
            raise ApiError.bad(DCS_BAD_TASK_ID)
        with self.state.lock:
            now = self.state.clock()
            # Decide every item first: a whole-request 400 must leave all tasks untouched.
            plan = [self._plan_stop(task_id, now) for task_id in ids]
            for task, _ in plan:
                if task is not None:
                    task.request_stop(now)
        return json_response({"migration_tasks": [item for _, item in plan]}, call.request_id)

    def _plan_stop(self, task_id: str, now: float) -> tuple[Task | None, dict[str, Any]]:
        """``(task to stop or None, result item)`` for one batch-stop id."""
        behaviour = self.state.behaviour
        task = self.state.live(task_id)
        if task is None:
            if behaviour.unknown_in_batch == "reject_400":
                raise ApiError.bad(DCS_BAD_TASK_ID)
            return None, failed_item(task_id, DCS_NOT_FOUND)
        status = task.status_at(now)
        if is_running(status):
            return task, {"task_id": task_id, "result": "success"}
        if status in STOPPING_OR_STOPPED:
            return None, {"task_id": task_id, "result": "success"}
        if is_finished(status) and behaviour.stop_finished == "noop_success":
            return None, {"task_id": task_id, "result": "success"}
        if is_finished(status) and behaviour.stop_finished == "reject_400":
            raise ApiError.bad(DCS_BAD_TASK_ID)
        return None, failed_item(task_id, DCS_BAD_STATE)

    def _stop_one(self, call: Call) -> Task:
        """Shared by stop and sync-stop: request the stop or explain why not."""
        with self.state.lock:
            task = self._task(call)
            now = self.state.clock()
            status = task.status_at(now)
            if is_running(status):
                task.request_stop(now)
            elif status in STOPPING_OR_STOPPED:
                pass  # already stopping or stopped: accepted, nothing changes
            elif not (is_finished(status) and self.state.behaviour.stop_finished == "noop_success"):
                raise ApiError.bad(DCS_BAD_STATE)
            return task

    def stop(self, call: Call) -> Response:
        """``POST migration-task/{id}/stop``: answers the details, now ``TERMINATING``."""
        task = self._stop_one(call)
        return json_response(self._details(task, self.state.clock()), call.request_id)

    def sync_stop(self, call: Call) -> Response:
        """``POST migration-task/{id}/sync-stop``: read as "stop", answered with 204 at once."""
        self._stop_one(call)
        return empty_response(call.request_id)

    # --- delete / restart -------------------------------------------------------------------

    def delete(self, call: Call) -> Response:
        """``DELETE migration-tasks/delete``: all or nothing; echoes the ids."""
        ids = self._batch_ids(call.json_object(), "task_id_list")
        with self.state.lock:
            now = self.state.clock()
            tasks = [self._deletable(task_id, now) for task_id in ids]
            for task in tasks:
                if not task.deleted:
                    task.deleted, task.deleted_at = True, now
        return json_response({"task_id_list": ids}, call.request_id)

    def _deletable(self, task_id: str, now: float) -> Task:
        task = self.state.get(task_id)
        if task is None:
            raise ApiError.bad(DCS_NOT_FOUND)
        status = task.status_at(now)
        active = is_running(status) or status == "TERMINATING"
        if not task.deleted and active and self.state.behaviour.delete_running == "refuse":
            raise ApiError.bad(DCS_BAD_STATE)
        return task

    def batch_restart(self, call: Call) -> Response:
        """``POST migration-tasks/batch-restart``: TERMINATED online tasks → INCRMIGEATING."""
        payload = call.json_object()
        ids = str_list(payload, "migration_tasks")
        if len(ids) > RESTART_LIMIT:
            raise ApiError(
                400, "DCS.4100", f"The number of migration tasks exceeds {RESTART_LIMIT}."
            )
        if not all(is_valid_task_id(i) for i in ids):
            raise ApiError.bad(DCS_BAD_TASK_ID)
        with self.state.lock:
            items = [self._restart(task_id) for task_id in ids]
        return json_response({"migration_tasks": items}, call.request_id)

    def _restart(self, task_id: str) -> dict[str, Any]:
        task = self.state.live(task_id)
        if task is None:
            return failed_item(task_id, DCS_NOT_FOUND)
        now = self.state.clock()
        if task.migration_type != ONLINE or task.status_at(now) != "TERMINATED":
            return failed_item(task_id, DCS_BAD_STATE)
        task.set_status("INCRMIGEATING", now)
        task.updated_at = now
        return {"task_id": task_id, "result": "success"}

    # --- create -----------------------------------------------------------------------------

    def create_online(self, call: Call) -> Response:
        """``POST migration/instance`` (step 1): a task that reads CREATING, then RUNNING."""
        payload = call.json_object()
        name = required_str(payload, "name")
        vpc_id = required_str(payload, "vpc_id")
        security_group_id = required_str(payload, "security_group_id")
        with self.state.lock:
            task = self.state.new_task(name, ONLINE, None)
            now = self.state.clock()
            task.status, task.ready_at = "CREATING", now + self.state.config.create_delay
            task.description = str(payload.get("description") or "")
            task.vpc_id, task.security_group_id = vpc_id, security_group_id
            task.subnet_id = payload.get("subnet_id")
        return json_response({"instance_id": task.task_id}, call.request_id)

    def configure_online(self, call: Call) -> Response:
        """``POST migration/{id}/task`` (step 2): full → FULLMIGRATING, incremental →
        INCRMIGEATING. Accepted while CREATING too (a real client should wait for RUNNING)."""
        payload = call.json_object()
        method = choice(payload, "migration_method", (FULL, INCREMENTAL), None)
        if method is None:
            raise ApiError.invalid("migration_method")
        source = optional_obj(payload, "source_instance")
        if source is None:
            raise ApiError.invalid("source_instance")
        target = optional_obj(payload, "target_instance") or {}
        resume = choice(payload, "resume_mode", ("auto", "manual"), "manual")
        with self.state.lock:
            task = self._task(call)
            now = self.state.clock()
            if task.migration_type != ONLINE or task.status_at(now) not in ("CREATING", "RUNNING"):
                raise ApiError.bad(DCS_BAD_STATE)
            task.set_status("FULLMIGRATING" if method == FULL else "INCRMIGEATING", now)
            task.migration_method, task.resume_mode = method, resume or "manual"
            task.source, task.target = dict(source), dict(target)
            task.bandwidth_limit_mb = _opt_str(payload.get("bandwidth_limit_mb"))
            task.updated_at = now
        body = {"id": task.task_id, "name": task.task_name, "status": task.status}
        return json_response(body, call.request_id)

    def create(self, call: Call) -> Response:
        """``POST migration-task``: backup import → MIGRATING; one-step online → by method."""
        payload = call.json_object()
        name = required_str(payload, "task_name")
        kind = choice(payload, "migration_type", (BACKUP_IMPORT, ONLINE), None)
        if kind is None:
            raise ApiError.invalid("migration_type")
        method = choice(payload, "migration_method", (FULL, INCREMENTAL), FULL) or FULL
        backup = optional_obj(payload, "backup_files")
        source = optional_obj(payload, "source_instance")
        target = optional_obj(payload, "target_instance")
        if kind == BACKUP_IMPORT and backup is None:
            raise ApiError.invalid("backup_files")
        if kind == ONLINE and source is None:
            raise ApiError.invalid("source_instance")
        if target is None or not target.get("id"):
            raise ApiError.invalid("target_instance")
        status = "MIGRATING" if kind == BACKUP_IMPORT else _online_status(method)
        with self.state.lock:
            task = self.state.new_task(name, kind, method)
            task.set_status(status, self.state.clock())
            task.description = str(payload.get("description") or "")
            task.backup_files, task.source, task.target = backup, dict(source or {}), dict(target)
            task.network_type = payload.get("network_type")
        body = {"id": task.task_id, "name": task.task_name, "status": status}
        return json_response(body, call.request_id)


def _online_status(method: str) -> str:
    return "FULLMIGRATING" if method == FULL else "INCRMIGEATING"


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def failed_item(task_id: str, error: tuple[str, str]) -> dict[str, Any]:
    """A per-item ``failed`` result of a batch call."""
    return {"task_id": task_id, "result": "failed", "error_code": error[0], "error_msg": error[1]}


def _addrs(side: dict[str, Any]) -> str | None:
    value = side.get("addrs")
    return value if isinstance(value, str) else None


def _endpoint(side: dict[str, Any]) -> dict[str, Any]:
    """``source_instance``/``target_instance`` of the details call (password echoed, as the
    doc examples show)."""
    addrs = _addrs(side) or ""
    ip, _, port = addrs.split(",")[0].rpartition(":")
    return {
        "id": side.get("id"),
        "name": side.get("name"),
        "addrs": addrs or None,
        "ip": ip or None,
        "port": port or None,
        "password": side.get("password"),
        "task_status": "RUNNING",
        "proxy_multi_db": False,
        "db": side.get("db"),
    }


def task_summary(task: Task, now: float) -> dict[str, Any]:
    """One item of the list call (``MigrationTaskList``)."""
    data_source = (task.backup_files or {}).get("bucket_name") or _addrs(task.source)
    return {
        "task_id": task.task_id,
        "task_name": task.task_name,
        "status": task.status_at(now),
        "migration_type": task.migration_type,
        "migration_method": task.migration_method,
        "ecs_tenant_private_ip": "192.168.0.10",
        "data_source": data_source,
        "source_instance_name": task.source.get("name"),
        "source_instance_id": task.source.get("id"),
        "target_instance_addrs": _addrs(task.target),
        "target_instance_name": task.target.get("name"),
        "target_instance_id": task.target.get("id"),
        "created_at": iso_ms(task.created_at),
        "description": task.description,
        "source_instance_status": "RUNNING" if task.source.get("id") else None,
        "target_instance_status": "RUNNING" if task.target.get("id") else None,
        "source_instance_subnet_id": None,
        "target_instance_subnet_id": None,
        "source_instance_spec_code": None,
        "target_instance_spec_code": None,
        "error_message": None,
        "released_at": None,
        "version": "6.0",
        "resume_mode": task.resume_mode,
        "supported_features": ["supports_setting_resume_mode"],
    }


def task_details(task: Task, now: float, status: str | None = None) -> dict[str, Any]:
    """The details call's body (also the single stop's)."""
    terminated = task.terminated_at(now)
    return {
        "task_id": task.task_id,
        "task_name": task.task_name,
        "description": task.description,
        "status": status or task.status_at(now),
        "migration_type": task.migration_type,
        "migration_method": task.migration_method,
        "ecs_tenant_private_ip": "192.168.0.10",
        "backup_files": task.backup_files,
        "network_type": task.network_type or "vpc",
        "source_instance": _endpoint(task.source),
        "target_instance": _endpoint(task.target),
        "created_at": slashed(task.created_at),
        "updated_at": slashed(terminated if terminated is not None else task.updated_at),
        "released_at": None,
        "version": "6.0",
        "resume_mode": task.resume_mode,
        "supported_features": ["supports_setting_resume_mode"],
        "tenant_vpc_id": task.vpc_id,
        "tenant_subnet_id": task.subnet_id,
        "tenant_security_group_id": task.security_group_id,
        "bandwidth_limit_mb": task.bandwidth_limit_mb,
        "task_status": None,
    }


def task_stats(task: Task, now: float) -> dict[str, Any]:
    """The stats call's body. Numbers are JSON numbers, as in the doc example (the SDK types
    them as strings and reads numbers fine), but for the key counts (``source_dbsize``,
    ``target_dbsize``): strings, as the API documents them; a count set to null is omitted.
    ``offset`` (bytes behind the source, 0 = in sync) is frozen from the stop request on and 0
    for tasks not in incremental sync; the counts follow it (:meth:`.state.Task.keys_at`)."""
    status = task.status_at(now)
    migrating = is_running(status)
    source, target = task.keys_at(now)
    counts = {"source_dbsize": source, "target_dbsize": target}
    return {
        "full_migration_progress": full_progress(status),
        "offset": task.offset_at(now),
        **{name: str(count) for name, count in counts.items() if count is not None},
        "target_input_kbps": 128 if migrating else 0,
        "target_ops": 50 if migrating else 0,
        "is_migrating": migrating,
    }


def task_logs(task: Task, now: float) -> list[dict[str, Any]]:
    """Log entries derived from the task's recorded lifecycle moments."""
    events: list[tuple[float, str, str]] = [(task.created_at, "DCS.M000", "migration task created")]
    if task.stop_requested_at is not None:
        events.append((task.stop_requested_at, "DCS.M010", "stop requested"))
    terminated = task.terminated_at(now)
    if terminated is not None:
        events.append((terminated, "DCS.M011", "migration task terminated"))
    return [
        {
            "created_at": iso_ms(at),
            "log_level": "INFO",
            "message": msg,
            "log_code": code,
            "keyword": [],
        }
        for at, code, msg in events
    ]
