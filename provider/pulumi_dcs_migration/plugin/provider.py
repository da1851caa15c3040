"""The ``dcs-migration`` provider plugin: ``MigrationTasksStopped`` for every Pulumi language.

A thin adapter over the shared lifecycle rules (:mod:`..lifecycle`), like the dynamic resource,
plus what only a real provider can do: ``customTimeouts`` bound the wait, the engine's Cancel
(the first Ctrl-C) ends it within a couple of seconds, ``pulumi import`` adopts tasks, the diff
is detailed (which task ids, which task runs again), and progress shows on the resource's own
row. Blocking work (HTTP, the stop-and-wait) runs in worker threads so the gRPC server keeps
answering, Cancel included.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.provider.experimental import provider as p

from .. import lifecycle
from ..engine import ProgressEvent, StopReport, TaskOutcome
from ..errors import ConfigurationError, OperationFailed
from ..lifecycle import UNKNOWN, camel
from ..operations import Operations, Reporter
from ..settings import Layer, parse_bool, requests_per_second, where_to_set
from .engine_log import EngineLog
from .schema import CONFIG, CONFIG_NAMES, PACKAGE, RESOURCE_TOKEN, schema_json
from .values import from_wire, snake_of, to_wire

SUMMARY_LINES = 50
"""Per-task lines in the final summary message; more are counted, not listed."""


def _config_spelling(setting: str) -> str | None:
    return f"the provider config {PACKAGE}:{camel(setting)}" if setting in CONFIG_NAMES else None


def status_line(event: ProgressEvent) -> str:
    """``stopping: 3/5 TERMINATED, waiting for 2 (TERMINATING)``: the resource row's status."""
    own = f", {event.finished} finished on its own" if event.finished else ""
    done = f"stopping: {event.terminated}/{event.total} TERMINATED{own}"
    if not event.pending:
        return done
    counts = collections.Counter(status or "?" for _, status in event.pending)
    statuses = ", ".join(
        f"{n} {status}" if len(counts) > 1 else status for status, n in sorted(counts.items())
    )
    return f"{done}, waiting for {len(event.pending)} ({statuses})"


def summary(outcomes: Sequence[TaskOutcome]) -> str:
    """The final per-task table, one line per task (at most :data:`SUMMARY_LINES`)."""
    lines = [
        f"{o.task_id}{f' ({o.name})' if o.name else ''}: {o.status or 'unknown'}, {o.outcome.value}"
        for o in outcomes[:SUMMARY_LINES]
    ]
    if len(outcomes) > SUMMARY_LINES:
        lines.append(f"... and {len(outcomes) - SUMMARY_LINES} more")
    return "\n".join(lines)


class MigrationTasksProvider(p.Provider):
    """The provider: one instance per plugin process, serving every resource of a deployment."""

    def __init__(self, log: EngineLog | None = None) -> None:
        self.log = log or EngineLog(None)
        self.cancelled = threading.Event()
        self.ops = Operations(Layer({}, _config_spelling, "provider config"))

    def reporter(self, urn: str) -> Reporter:
        """Messages on the resource's row (``urn``); progress as its ephemeral status line."""
        return Reporter(
            spelling=lifecycle.PLUGIN,
            where=lambda setting: where_to_set(setting, self.ops.config),
            say=lambda message: self.log.info(urn, message),
            warn=lambda message: self.log.warning(urn, message),
            progress=lambda event: self.log.status(urn, status_line(event)),
        )

    # --- schema and provider config -----------------------------------------------------------

    async def get_schema(self, request: p.GetSchemaRequest) -> p.GetSchemaResponse:
        """The package schema (built from the lifecycle's property list)."""
        return p.GetSchemaResponse(schema=schema_json())

    async def check_config(self, request: p.CheckRequest) -> p.CheckResponse:
        """Refuse provider config a run could not use, naming the key."""
        values = from_wire(request.new_inputs).values
        failures = [
            p.CheckFailure(
                camel(k),
                f"unknown provider config {camel(k)!r}; known: "
                + ", ".join(camel(n) for n in CONFIG_NAMES),
            )
            for k in sorted(values)
            if k not in CONFIG_NAMES and k != "version" and values[k] is not None
        ]
        for name, parse in (
            ("insecure_skip_verify", parse_bool),
            ("max_requests_per_second", requests_per_second),
        ):
            value = values.get(name)
            if value is not None and value is not UNKNOWN:
                try:
                    parse(value, f"{PACKAGE}:{camel(name)}")
                except ConfigurationError as exc:
                    failures.append(p.CheckFailure(camel(name), str(exc)))
        return p.CheckResponse(inputs=request.new_inputs, failures=failures)

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        """Keep the provider config (a settings layer between the inputs and the environment)."""
        values = {k: v for k, v in from_wire(request.args).values.items() if k in CONFIG_NAMES}
        for key, text in request.variables.items():  # older engines: "dcs-migration:config:region"
            name = snake_of(key.rsplit(":", 1)[-1])
            if name in CONFIG_NAMES and values.get(name) is None:
                values[name] = text
        self.ops = Operations(Layer(values, _config_spelling, "provider config"))
        # No preview support: the engine never calls create/update during a preview.
        return p.ConfigureResponse(accept_secrets=True, supports_preview=False)

    async def cancel(self) -> None:
        """The engine's Cancel (first Ctrl-C): every wait in progress ends at once."""
        self.cancelled.set()

    # --- check / diff ---------------------------------------------------------------------

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        """Validate and complete the inputs; with credentials, look every task up."""
        given = from_wire(request.new_inputs)
        inputs, failures = await asyncio.to_thread(
            self.ops.check, given.values, self.reporter(request.urn)
        )
        return p.CheckResponse(
            inputs=to_wire(inputs, given.secret),
            failures=[p.CheckFailure(camel(f.property), f.message) for f in failures],
        )

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        """Task ids as a set, named in the detailed diff; what runs now is a change."""
        olds, news = from_wire(request.old_state).values, from_wire(request.new_inputs).values
        plan = self.ops.plan(olds, news)
        for line in plan.drift():
            self.log.info(request.urn, line)
        return p.DiffResponse(
            changes=plan.changes,
            replaces=[camel(n) for n in plan.replaces],
            delete_before_replace=False,
            detailed_diff=detailed_diff(plan, olds, news),
        )

    # --- create / update ------------------------------------------------------------------

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        """Stop every task and wait (bounded by customTimeouts.create, else timeoutSeconds)."""
        given = from_wire(request.properties)
        inputs = given.values
        report = await asyncio.to_thread(
            self._stop, request.urn, inputs, inputs["task_ids"], request.timeout
        )
        outs = lifecycle.outputs(inputs, [lifecycle.entry(o) for o in report.outcomes])
        resource_id = lifecycle.resource_id(inputs["project_id"], request.urn, inputs["task_ids"])
        return p.CreateResponse(resource_id, to_wire(outs, given.secret))

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        """Stop the new tasks and the ones running now; removals cost no call."""
        olds, given = from_wire(request.olds).values, from_wire(request.news)
        news = given.values
        plan = self.ops.plan(olds, news)
        report = None
        if plan.to_stop:
            report = await asyncio.to_thread(
                self._stop, request.urn, news, list(plan.to_stop), request.timeout
            )
        return p.UpdateResponse(to_wire(lifecycle.after_update(olds, news, report), given.secret))

    def _stop(
        self, urn: str, inputs: Mapping[str, Any], ids: Sequence[str], custom_timeout: float
    ) -> StopReport:
        report = self.ops.stop(
            inputs, ids, self.reporter(urn), timeout=custom_timeout or None, cancel=self.cancelled
        )
        self.log.info(urn, summary(report.outcomes))
        return report

    # --- read (refresh, import) / delete --------------------------------------------------

    async def read(self, request: p.ReadRequest) -> p.ReadResponse:
        """Refresh: every task's real status. Import (no state yet): adopt the ids in the ID."""
        state = from_wire(request.properties)
        if state.values.get("task_ids"):
            return await asyncio.to_thread(self._refresh, request, state.values, state.secret)
        return await asyncio.to_thread(self._import, request)

    def _refresh(
        self, request: p.ReadRequest, state: Mapping[str, Any], secret: frozenset[str]
    ) -> p.ReadResponse:
        refreshed = self.ops.refresh(state, self.reporter(request.urn))
        inputs = from_wire(request.inputs).values or lifecycle.inputs_of(state)
        return p.ReadResponse(
            request.resource_id,
            to_wire(refreshed, secret),
            to_wire(inputs, secret),
        )

    def _import(self, request: p.ReadRequest) -> p.ReadResponse:
        ids = lifecycle.import_ids(request.resource_id)
        checked = lifecycle.check({"task_ids": ids}, self.ops.config, camel)
        if checked.task_ids is None:  # a failure
            reasons = "; ".join(f.message for f in checked.failures)
            raise OperationFailed(
                f"cannot import {request.resource_id!r}: {reasons}. The import ID is "
                "<task-id>[,<task-id>...]; the project and endpoint come from the provider "
                f"config ({PACKAGE}:projectId, {PACKAGE}:region or {PACKAGE}:endpoint) or the "
                "environment."
            )
        inputs = checked.inputs
        looks = self.ops.read(inputs, checked.task_ids, self.reporter(request.urn))
        missing = lifecycle.missing_tasks(looks, inputs["project_id"], camel)
        if missing:
            raise OperationFailed("cannot import: " + "; ".join(f.message for f in missing))
        resource_id = lifecycle.resource_id(inputs["project_id"], request.urn, checked.task_ids)
        return p.ReadResponse(
            resource_id, to_wire(lifecycle.imported(inputs, looks)), to_wire(inputs)
        )

    async def delete(self, request: p.DeleteRequest) -> None:
        """Leave the tasks stopped; delete their records only if ``deleteRecordsOnDestroy``."""
        state = from_wire(request.properties).values
        await asyncio.to_thread(self.ops.delete, state, self.reporter(request.urn))


def detailed_diff(
    plan: lifecycle.Plan, olds: Mapping[str, Any], news: Mapping[str, Any]
) -> dict[str, p.PropertyDiff]:
    """What ``preview --diff`` shows: ids added/removed, tasks running again, replacements."""
    kind = p.PropertyDiffKind
    changed: dict[str, p.PropertyDiffKind] = {}
    for index, task_id in enumerate(_ids(news)):
        if task_id in plan.added:
            changed[f"taskIds[{index}]"] = kind.ADD
        elif task_id in plan.running or task_id in plan.stopping:
            changed[f"taskIds[{index}]"] = kind.UPDATE
    for index, task_id in enumerate(_ids(olds)):
        if task_id in plan.removed:
            changed[f"taskIds[{index}]"] = kind.DELETE
    changed.update({camel(n): kind.UPDATE_REPLACE for n in plan.replaces})
    changed.update({camel(n): kind.UPDATE for n in plan.options})
    return {path: p.PropertyDiff(k, True) for path, k in changed.items()}


def _ids(props: Mapping[str, Any]) -> list[Any]:
    ids = props.get("task_ids")
    return ids if isinstance(ids, list) else []


__all__ = [
    "CONFIG",
    "RESOURCE_TOKEN",
    "MigrationTasksProvider",
    "detailed_diff",
    "status_line",
    "summary",
]
