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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental.property_value import PropertyValue

from .. import lifecycle
from ..client import DcsClient
from ..decisions import GOOD_OUTCOMES
from ..engine import ProgressEvent, StopEngine, StopOptions, StopReport, TaskOutcome
from ..errors import ConfigurationError, DcsApiError, DcsError, Problem
from ..lifecycle import UNKNOWN, camel
from ..models import batches
from ..settings import ConnectionSettings, Layer, parse_bool, resolve
from .engine_log import EngineLog
from .schema import CONFIG, CONFIG_NAMES, PACKAGE, RESOURCE_TOKEN, schema_json
from .values import from_wire, snake_of, to_wire

SUMMARY_LINES = 50
"""Per-task lines in the final summary message; more are counted, not listed."""

ADVICE: dict[Problem, str] = {
    Problem.CREDENTIALS: (
        "check the access key and secret key (HW_ACCESS_KEY / HW_SECRET_KEY, or the provider's "
        f"secret config {PACKAGE}:accessKey / {PACKAGE}:secretKey) and that this machine's clock "
        "is within 15 minutes of UTC"
    ),
    Problem.ENDPOINT: f"the endpoint or region is wrong ({PACKAGE}:endpoint / {PACKAGE}:region)",
}
STOP_ADVICE = lifecycle.pulumi_advice("customTimeouts (create, update) or timeoutSeconds")


class PluginError(Exception):
    """An operation failed for a reason its message explains in full (no traceback needed)."""


def _error(exc: DcsError) -> PluginError:
    if isinstance(exc, DcsApiError):
        return PluginError(exc.describe(ADVICE))
    return PluginError(str(exc))


def _config_spelling(setting: str) -> str | None:
    return f"the provider config {PACKAGE}:{camel(setting)}" if setting in CONFIG_NAMES else None


def status_line(event: ProgressEvent) -> str:
    """``stopping: 3/5 TERMINATED, waiting for 2 (TERMINATING)``: the resource row's status."""
    if not event.pending:
        return f"stopping: {event.stopped}/{event.total} TERMINATED"
    counts = collections.Counter(status or "?" for _, status in event.pending)
    statuses = ", ".join(
        f"{n} {status}" if len(counts) > 1 else status for status, n in sorted(counts.items())
    )
    return (
        f"stopping: {event.stopped}/{event.total} TERMINATED, waiting for "
        f"{len(event.pending)} ({statuses})"
    )


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
        self._config = Layer({}, _config_spelling, "provider config")
        self._seen: dict[tuple[str, ...], dict[str, str | None]] = {}

    # --- schema and provider config -----------------------------------------------------------

    async def get_schema(self, request: p.GetSchemaRequest) -> p.GetSchemaResponse:
        """The package schema (built from the lifecycle's property list)."""
        return p.GetSchemaResponse(schema=schema_json())

    async def check_config(self, request: p.CheckRequest) -> p.CheckResponse:
        """Refuse provider config a run could not use, naming the key."""
        values = from_wire(request.new_inputs).values
        failures = []
        unknown = sorted(
            k for k in values if k not in CONFIG_NAMES and k != "version" and values[k] is not None
        )
        failures += [
            p.CheckFailure(
                camel(k),
                f"unknown provider config {camel(k)!r}; known: "
                + ", ".join(camel(n) for n in CONFIG_NAMES),
            )
            for k in unknown
        ]
        flag = values.get("insecure_skip_verify")
        if flag is not None and flag is not UNKNOWN:
            try:
                parse_bool(flag, f"{PACKAGE}:insecureSkipVerify")
            except ConfigurationError as exc:
                failures.append(p.CheckFailure("insecureSkipVerify", str(exc)))
        return p.CheckResponse(inputs=request.new_inputs, failures=failures)

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        """Keep the provider config (a settings layer between the inputs and the environment)."""
        values = {k: v for k, v in from_wire(request.args).values.items() if k in CONFIG_NAMES}
        for key, text in request.variables.items():  # older engines: "dcs-migration:config:region"
            name = snake_of(key.rsplit(":", 1)[-1])
            if name in CONFIG_NAMES and values.get(name) is None:
                values[name] = text
        self._config = Layer(values, _config_spelling, "provider config")
        # No preview support: the engine never calls create/update during a preview.
        return p.ConfigureResponse(accept_secrets=True, supports_preview=False)

    async def cancel(self) -> None:
        """The engine's Cancel (first Ctrl-C): every wait in progress ends at once."""
        self.cancelled.set()

    # --- check / diff ---------------------------------------------------------------------

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        """Validate and complete the inputs; with credentials, look every task up."""
        given = from_wire(request.new_inputs)
        checked = lifecycle.check(given.values, self._config, camel)
        for warning in checked.warnings:
            self.log.warning(request.urn, warning)
        failures = [p.CheckFailure(camel(f.property), f.message) for f in checked.failures]
        if checked.task_ids is not None:
            failures += await asyncio.to_thread(
                self._look, request.urn, checked.inputs, checked.task_ids
            )
        return p.CheckResponse(inputs=to_wire(checked.inputs, given.secret), failures=failures)

    def _look(self, urn: str, inputs: Mapping[str, Any], ids: list[str]) -> list[p.CheckFailure]:
        try:
            settings = self._settings(inputs)
        except ConfigurationError as exc:
            return [p.CheckFailure("taskIds", str(exc))] if _about_credentials(exc) else []
        if not settings.credentials.present:
            return []  # nothing to ask with; create will say so
        try:
            with DcsClient.from_settings(settings) as client:
                looks = StopEngine(client).look(ids)
        except DcsError as exc:
            return [p.CheckFailure("taskIds", f"could not look the tasks up: {_error(exc)}")]
        self._seen[tuple(sorted(ids))] = {o.task_id: o.status for o in looks}
        missing = lifecycle.missing_tasks(looks, settings.project_id, camel)
        if not missing:
            self.log.info(urn, lifecycle.running_line(looks))
        return [p.CheckFailure(camel(f.property), f.message) for f in missing]

    def _now(self, inputs: Mapping[str, Any]) -> dict[str, str | None] | None:
        ids = inputs.get("task_ids")
        if not isinstance(ids, list) or not lifecycle.is_known(ids):
            return None
        return self._seen.get(tuple(sorted(ids)))

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        """Task ids as a set, named in the detailed diff; what runs now is a change."""
        olds, news = from_wire(request.old_state).values, from_wire(request.new_inputs).values
        plan = lifecycle.plan(olds, news, self._now(news))
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
        plan = lifecycle.plan(olds, news, self._now(news))
        report = None
        if plan.to_stop:
            report = await asyncio.to_thread(
                self._stop, request.urn, news, list(plan.to_stop), request.timeout
            )
        return p.UpdateResponse(to_wire(lifecycle.after_update(olds, news, report), given.secret))

    def _stop(
        self, urn: str, inputs: Mapping[str, Any], ids: Sequence[str], custom_timeout: float
    ) -> StopReport:
        timeout = custom_timeout or float(
            inputs.get("timeout_seconds") or lifecycle.DEFAULT_TIMEOUT_SECONDS
        )
        options = StopOptions(timeout=timeout, strict_finished=lifecycle.strict(inputs))
        self.log.status(urn, f"stopping {len(ids)} task(s)")
        try:
            with DcsClient.from_settings(self._settings(inputs)) as client:
                engine = StopEngine(
                    client, options, on_progress=self._reporter(urn), cancel=self.cancelled
                )
                report = engine.run(ids)
        except DcsError as exc:
            raise _error(exc) from None
        for warning in lifecycle.finished_warnings(report, inputs):
            self.log.warning(urn, warning)
        self.log.info(urn, summary(report.outcomes))
        if self.cancelled.is_set():
            failed = [o for o in report.outcomes if o.outcome not in GOOD_OUTCOMES]
            raise PluginError(
                "cancelled: "
                + lifecycle.incomplete_message(failed, len(ids), {})
                + "\nStops already accepted keep going; run `pulumi up` again to wait for them."
            )
        failed = lifecycle.incomplete(report, inputs)
        if failed:
            raise PluginError(lifecycle.incomplete_message(failed, len(ids), STOP_ADVICE))
        return report

    def _reporter(self, urn: str) -> Callable[[ProgressEvent], None]:
        return lambda event: self.log.status(urn, status_line(event))

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
        ids = list(dict.fromkeys(state["task_ids"]))
        looks = self._looks(state, ids)
        inputs = from_wire(request.inputs).values or lifecycle.inputs_of(state)
        return p.ReadResponse(
            request.resource_id,
            to_wire(lifecycle.after_read(state, looks), secret),
            to_wire(inputs, secret),
        )

    def _import(self, request: p.ReadRequest) -> p.ReadResponse:
        ids = lifecycle.import_ids(request.resource_id)
        checked = lifecycle.check({"task_ids": ids}, self._config, camel)
        if not checked.ok or checked.task_ids is None:
            reasons = "; ".join(f.message for f in checked.failures)
            raise PluginError(
                f"cannot import {request.resource_id!r}: {reasons}. The import ID is "
                "<task-id>[,<task-id>...]; the project and endpoint come from the provider "
                f"config ({PACKAGE}:projectId, {PACKAGE}:region or {PACKAGE}:endpoint) or the "
                "environment."
            )
        inputs = checked.inputs
        looks = self._looks(inputs, checked.task_ids)
        missing = lifecycle.missing_tasks(looks, inputs["project_id"], camel)
        if missing:
            raise PluginError("cannot import: " + "; ".join(f.message for f in missing))
        resource_id = lifecycle.resource_id(inputs["project_id"], request.urn, checked.task_ids)
        return p.ReadResponse(
            resource_id, to_wire(lifecycle.imported(inputs, looks)), to_wire(inputs)
        )

    def _looks(self, inputs: Mapping[str, Any], ids: list[str]) -> list[TaskOutcome]:
        try:
            with DcsClient.from_settings(self._settings(inputs)) as client:
                return StopEngine(client).look(ids)
        except DcsError as exc:
            raise _error(exc) from None

    async def delete(self, request: p.DeleteRequest) -> None:
        """Leave the tasks stopped; delete their records only if ``deleteRecordsOnDestroy``."""
        state = from_wire(request.properties).values
        ids = list(dict.fromkeys(state.get("task_ids") or []))
        if not lifecycle.delete_records(state):
            self.log.info(
                request.urn, f"leaving {len(ids)} task(s) as they are; nothing is deleted"
            )
            return
        await asyncio.to_thread(self._delete_records, state, ids)
        self.log.info(request.urn, f"deleted the records of {len(ids)} task(s)")

    def _delete_records(self, state: Mapping[str, Any], ids: list[str]) -> None:
        try:
            with DcsClient.from_settings(self._settings(state)) as client:
                for batch in batches(ids):
                    client.delete_tasks(batch)
        except DcsError as exc:
            raise _error(exc) from None

    # --- plumbing -------------------------------------------------------------------------

    def _settings(self, inputs: Mapping[str, Any]) -> ConnectionSettings:
        location = {k: inputs.get(k) for k in ("project_id", "region", "endpoint")}
        return resolve(Layer(location, camel, "input"), self._config)


def _about_credentials(exc: ConfigurationError) -> bool:
    return exc.setting in ("access_key", "secret_key", "security_token", "auth_token", "ca_bundle")


def detailed_diff(
    plan: lifecycle.Plan, olds: Mapping[str, Any], news: Mapping[str, Any]
) -> dict[str, p.PropertyDiff]:
    """What ``preview --diff`` shows: ids added/removed, tasks running again, replacements."""
    diff: dict[str, p.PropertyDiff] = {}
    new_ids = news.get("task_ids") if isinstance(news.get("task_ids"), list) else []
    old_ids = olds.get("task_ids") if isinstance(olds.get("task_ids"), list) else []
    assert isinstance(new_ids, list) and isinstance(old_ids, list)
    for index, task_id in enumerate(new_ids):
        if task_id in plan.added:
            diff[f"taskIds[{index}]"] = p.PropertyDiff(p.PropertyDiffKind.ADD, True)
        elif task_id in plan.running or task_id in plan.stopping:
            diff[f"taskIds[{index}]"] = p.PropertyDiff(p.PropertyDiffKind.UPDATE, True)
    for index, task_id in enumerate(old_ids):
        if task_id in plan.removed:
            diff[f"taskIds[{index}]"] = p.PropertyDiff(p.PropertyDiffKind.DELETE, True)
    for name in plan.replaces:
        diff[camel(name)] = p.PropertyDiff(p.PropertyDiffKind.UPDATE_REPLACE, True)
    for name in plan.options:
        diff[camel(name)] = p.PropertyDiff(p.PropertyDiffKind.UPDATE, True)
    return diff


def config_defaults() -> dict[str, PropertyValue]:
    """Nothing: every config key is optional (the environment is the last layer)."""
    return {}


__all__ = [
    "CONFIG",
    "RESOURCE_TOKEN",
    "MigrationTasksProvider",
    "PluginError",
    "detailed_diff",
    "status_line",
    "summary",
]
