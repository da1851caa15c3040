"""Checking what the engine reported against the simulator's own state."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from pulumi_dcs_migration.engine import Outcome, StopReport
from pulumi_dcs_migration.models import FINISHED_STATUSES

from ..admin_client import SimulatorAdmin


def epoch(iso: str | None) -> float:
    """Epoch seconds of an ``observed_at`` stamp."""
    assert iso is not None
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _truth(admin: SimulatorAdmin, task_id: str) -> dict[str, Any]:
    try:
        return admin.task(task_id)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 404:  # never existed: as good as deleted
            return {"status": None, "deleted": True, "terminated_at": None}
        raise


def mismatches(
    report: StopReport, admin: SimulatorAdmin, touched_at: dict[str, float]
) -> list[str]:
    """Every way the report disagrees with the simulator (empty when it is exactly true).

    ``touched_at`` maps a task to when a test's change behind the engine's back (restart,
    delete, finish) was applied. A task's report is judged by the state at its last look, which
    the engine stamps with the moment the look was *sent*: a change applied at or after that
    moment may not show in it, and the task is skipped. (Stamps have millisecond precision, so
    a change within the same millisecond before the look is skipped too: never a false alarm.)
    """
    problems = []
    for o in report.outcomes:
        truth = _truth(admin, o.task_id)
        if o.observed_at is not None and touched_at.get(o.task_id, -1.0) >= epoch(o.observed_at):
            continue
        status, terminated_at = truth["status"], truth.get("terminated_at")
        if o.outcome in (Outcome.STOPPED, Outcome.ALREADY_TERMINATED):
            if status != "TERMINATED" or truth.get("deleted"):
                problems.append(f"{o.task_id}: reported {o.outcome} but simulator says {status}")
        elif o.outcome is Outcome.FINISHED:
            if status not in FINISHED_STATUSES:
                problems.append(f"{o.task_id}: reported finished but simulator says {status}")
        elif o.outcome is Outcome.NOT_FOUND:
            if not truth.get("deleted"):
                problems.append(f"{o.task_id}: reported not found but it exists ({status})")
        elif o.outcome in (Outcome.TIMED_OUT, Outcome.STOP_REJECTED):
            if terminated_at is not None and terminated_at < epoch(o.observed_at):
                problems.append(
                    f"{o.task_id}: reported {o.outcome} but it was TERMINATED before the last look"
                )
    return problems
