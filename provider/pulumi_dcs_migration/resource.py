"""``MigrationTasksStopped``: a Pulumi resource that declares "these DCS migration tasks are stopped".

The dynamic provider below translates Pulumi's lifecycle into calls on the stop-and-wait engine:

* **check** validates every input a preview can know (and, with credentials, that each task
  exists), filling region/project/endpoint from stack config or the environment;
* **diff** treats ``task_ids`` as a set: new ids are an update that stops only them, removed ids
  an update with no API call, a different project/region/endpoint a replacement, and a task that
  the last refresh saw running again a change;
* **create/update** stop and wait, printing progress; a failure lists every unfinished task;
* **read** (refresh) records the real status of every task;
* **delete** leaves the tasks stopped (and deletes their records only if asked to).

Credentials never become attributes of the pickled provider: they reach the provider process
through ``configure()`` (secret stack config ``dcs:accessKey`` / ``dcs:secretKey``) or the
environment, so the stack state never holds them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .client import DcsClient, print_retries_to_stderr
from .engine import (
    Outcome,
    ProgressEvent,
    StopEngine,
    StopIncompleteError,
    StopOptions,
    StopReport,
    TaskOutcome,
    describe,
)
from .errors import ConfigurationError, DcsError
from .models import Phase, is_valid_task_id, phase_of
from .settings import (
    ConnectionSettings,
    EnvironmentSettings,
    endpoint_for,
    resolve,
    validate_project_id,
)

DEFAULT_TIMEOUT_SECONDS = 1800.0
MAX_TASK_IDS = 10_000
ON_FINISHED_CHOICES = ("warn", "fail")

# Input names (snake_case: they are also the state's property names).
INPUT_KEYS = frozenset(
    {
        "task_ids",
        "project_id",
        "region",
        "endpoint",
        "timeout_seconds",
        "on_finished",
        "delete_records_on_destroy",
        "label",
    }
)
REPLACE_KEYS = ("project_id", "region", "endpoint")
CONFIG_NAMESPACE = "dcs"


def _emit(label: str, message: str) -> None:
    """A line the engine forwards to the CLI as an info diagnostic (see README)."""
    print(f"[{label}] {message}", file=sys.stderr, flush=True)


# --- the provider ---------------------------------------------------------------------------


class MigrationTasksStoppedProvider(ResourceProvider):
    """Dynamic provider of :class:`MigrationTasksStopped`. Holds no state of its own when pickled."""

    def configure(self, req: ConfigureRequest) -> None:
        """Keep the stack config this provider reads (``dcs:*``) for later calls."""
        # Runs in the provider process after unpickling; this object is never pickled again, so
        # keeping the stack's config (secrets included) here never reaches the state.
        print_retries_to_stderr()
        self._stack_config = {
            key: req.config.get(f"{CONFIG_NAMESPACE}:{key}")
            for key in (
                "accessKey",
                "secretKey",
                "securityToken",
                "projectId",
                "region",
                "endpoint",
                "caBundle",
                "insecureSkipVerify",
            )
        }

    # check ------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and complete the inputs; with credentials, also check that every task exists."""
        inputs = {k: v for k, v in news.items() if k != "__provider"}
        failures = [
            CheckFailure(k, f"unknown input {k!r}; known inputs: {', '.join(sorted(INPUT_KEYS))}")
            for k in inputs
            if k not in INPUT_KEYS
        ]
        self._apply_defaults(inputs)
        failures += _check_task_ids(inputs.get("task_ids"))
        failures += _check_location(inputs)
        failures += _check_options(inputs)
        if not failures and _is_known(inputs.get("task_ids")):
            failures += self._check_existence(inputs)
        return CheckResult(inputs, failures)

    def _apply_defaults(self, inputs: dict[str, Any]) -> None:
        config = getattr(self, "_stack_config", {})
        env = EnvironmentSettings()
        for key, conf_key, env_value in (
            ("project_id", "projectId", env.project_id),
            ("region", "region", env.region),
            ("endpoint", "endpoint", env.endpoint),
        ):
            if inputs.get(key) in (None, ""):
                value = config.get(conf_key) or env_value
                if value:
                    inputs[key] = value
                else:
                    inputs.pop(key, None)
        if inputs.get("endpoint"):
            inputs.pop("region", None)  # an explicit endpoint wins; keep one source of truth
        inputs.setdefault("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        inputs.setdefault("on_finished", "warn")
        inputs.setdefault("delete_records_on_destroy", False)

    def _check_existence(self, inputs: dict[str, Any]) -> list[CheckFailure]:
        """With credentials, make preview fail on an id that does not exist in the project."""
        try:
            settings = self._settings(inputs)
        except ConfigurationError:
            return []
        if not settings.credentials.present:
            return []  # nothing to ask with; create will check
        try:
            with self._client(settings) as client:
                found = StopEngine(client).look(inputs["task_ids"])
        except DcsError as exc:
            return [CheckFailure("task_ids", f"could not look the tasks up: {exc}")]
        missing = [o.task_id for o in found if o.outcome is Outcome.NOT_FOUND]
        if not missing:
            _emit(_label(inputs), _plan_line(found))
        return [
            CheckFailure(
                "task_ids",
                f"task {tid!r} does not exist in project {settings.project_id}; remove it or "
                "check the id (dcs-migration list) and the project",
            )
            for tid in missing
        ]

    # diff ---------------------------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Set-based task ids; a new project/region/endpoint replaces; drift found by refresh is a change."""
        replaces = [k for k in REPLACE_KEYS if _known_differs(olds.get(k), news.get(k))]
        changes = bool(replaces)
        new_ids = news.get("task_ids")
        if not _is_known(new_ids) or set(new_ids or []) != set(olds.get("task_ids") or []):
            changes = True
        for key in ("timeout_seconds", "on_finished", "delete_records_on_destroy", "label"):
            if _known_differs(olds.get(key), news.get(key)):
                changes = True
        drifted = _drifted(olds)
        if drifted:
            changes = True
            _emit(
                _label(news),
                f"{len(drifted)} task(s) running again since the last stop; up will stop: "
                + ", ".join(drifted),
            )
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=False)

    # create / update -------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Stop every task and wait; raises (nothing goes to state) unless all are stopped or finished."""
        ids = list(dict.fromkeys(props["task_ids"]))
        report = self._stop(props, ids)
        return CreateResult(_resource_id(props), _outputs(props, _entries(report.outcomes)))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Stop only the new ids and the ones a refresh saw running again; removals cost no call."""
        ids = list(dict.fromkeys(news["task_ids"]))
        old_entries = {e["task_id"]: e for e in (olds.get("tasks") or []) if isinstance(e, dict)}
        drifted = set(_drifted(olds))
        todo = [tid for tid in ids if tid not in old_entries or tid in drifted]
        entries = {tid: old_entries[tid] for tid in ids if tid in old_entries}
        if todo:
            report = self._stop(news, todo)
            entries.update({e["task_id"]: e for e in _entries(report.outcomes)})
        else:
            _emit(_label(news), "no task to stop (only removals or option changes)")
        return UpdateResult(_outputs(news, [entries[tid] for tid in ids]))

    def _stop(self, props: Mapping[str, Any], ids: Sequence[str]) -> StopReport:
        label = _label(props)
        strict = props.get("on_finished") == "fail"
        options = StopOptions(
            timeout=float(props.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS),
            strict_finished=strict,
        )
        _emit(label, f"stopping {len(ids)} task(s)")
        try:
            with self._client(self._settings(props)) as client:
                report = StopEngine(client, options, on_progress=_progress_printer(label)).run(ids)
        except DcsError as exc:
            raise _clean(exc) from None
        for o in report.outcomes:
            if o.outcome is Outcome.FINISHED and not strict:
                _emit(
                    label,
                    f"warning: {o.task_id} had already ended with status {o.status}; "
                    "it was not stopped and counts as not running",
                )
        if report.failures(strict_finished=strict):
            raise _clean(StopIncompleteError(report, strict_finished=strict))
        _emit(label, f"{len(report.terminated_ids)}/{len(ids)} terminated in {report.elapsed:.1f}s")
        return report

    # read / delete -----------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: record every task's real status, and return the inputs too (no false drift)."""
        props = {k: v for k, v in props.items() if k != "__provider"}
        ids = list(dict.fromkeys(props.get("task_ids") or []))
        try:
            with self._client(self._settings(props)) as client:
                seen = {o.task_id: o for o in StopEngine(client).look(ids)}
        except DcsError as exc:
            raise _clean(exc) from None
        old_entries = {e["task_id"]: e for e in (props.get("tasks") or []) if isinstance(e, dict)}
        entries = []
        for tid in ids:
            entry = dict(old_entries.get(tid) or {"task_id": tid, "outcome": None})
            now = seen[tid]
            entry.update(
                status=now.status, name=now.name or entry.get("name"), observed_at=now.observed_at
            )
            entries.append(entry)
        inputs = {k: v for k, v in props.items() if k in INPUT_KEYS}
        return ReadResult(id_, _outputs(inputs, entries), inputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Leave the tasks stopped; delete their records only if ``delete_records_on_destroy``."""
        ids = list(dict.fromkeys(props.get("task_ids") or []))
        label = _label(props)
        if not props.get("delete_records_on_destroy"):
            _emit(label, f"leaving {len(ids)} task(s) as they are (stopped); nothing is deleted")
            return
        try:
            with self._client(self._settings(props)) as client:
                for start in range(0, len(ids), 50):
                    client.delete_tasks(ids[start : start + 50])
        except DcsError as exc:
            raise _clean(exc) from None
        _emit(label, f"deleted the records of {len(ids)} task(s)")

    # plumbing ------------------------------------------------------------------------------

    def _settings(self, props: Mapping[str, Any]) -> ConnectionSettings:
        config = getattr(self, "_stack_config", {})
        return resolve(
            region=props.get("region"),
            endpoint=props.get("endpoint"),
            project_id=props.get("project_id"),
            access_key=config.get("accessKey"),
            secret_key=config.get("secretKey"),
            security_token=config.get("securityToken"),
            ca_bundle=config.get("caBundle"),
            insecure_skip_verify=str(config.get("insecureSkipVerify")).lower() == "true",
        )

    @staticmethod
    def _client(settings: ConnectionSettings) -> DcsClient:
        return DcsClient.from_settings(settings)


# --- helpers (pure) -------------------------------------------------------------------------


def _is_known(value: Any) -> bool:
    """False for preview-time unknowns (``pulumi.output.Unknown``), recursively in lists."""
    if isinstance(value, list):
        return all(_is_known(v) for v in value)
    return type(value).__name__ != "Unknown"


def _known_differs(old: Any, new: Any) -> bool:
    if not _is_known(new):
        return True
    return (old or None) != (new or None)


def _check_task_ids(task_ids: Any) -> list[CheckFailure]:
    if task_ids is None:
        return [
            CheckFailure("task_ids", "task_ids is required: a list of migration task ids to stop")
        ]
    if not isinstance(task_ids, list):
        return [
            CheckFailure(
                "task_ids", f"task_ids must be a list of strings, not {type(task_ids).__name__}"
            )
        ]
    if not task_ids:
        return [CheckFailure("task_ids", "task_ids is empty: give at least one migration task id")]
    if len(task_ids) > MAX_TASK_IDS:
        return [
            CheckFailure(
                "task_ids", f"task_ids has {len(task_ids)} ids; at most {MAX_TASK_IDS} per resource"
            )
        ]
    failures = []
    seen: set[str] = set()
    for index, tid in enumerate(task_ids):
        if not _is_known(tid):
            continue
        if not is_valid_task_id(tid):
            failures.append(
                CheckFailure(
                    "task_ids",
                    f"task_ids[{index}] = {_shorten(tid)} is not a valid task id "
                    "(a UUID or 32 hex digits: letters, digits and '-')",
                )
            )
        elif tid in seen:
            failures.append(
                CheckFailure(
                    "task_ids", f"task_ids[{index}] = {tid!r} is listed twice; remove the duplicate"
                )
            )
        else:
            seen.add(tid)
    return failures


def _shorten(value: Any) -> str:
    """A value as it appears in a message: repr'd, and cut so a huge one stays readable."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _plan_line(found: Sequence[TaskOutcome]) -> str:
    """What preview shows: which tasks run now (and would be stopped) and which need nothing."""
    running = [o for o in found if o.outcome is Outcome.RUNNING]
    done = len(found) - len(running)
    shown = ", ".join(f"{o.task_id} ({o.status})" for o in running[:5])
    more = f" and {len(running) - 5} more" if len(running) > 5 else ""
    head = f"{len(running)} of {len(found)} task(s) running now"
    tail = f"; {done} already stopped or finished" if done else ""
    return f"{head}{': ' + shown + more if running else ''}{tail}"


def _check_location(inputs: Mapping[str, Any]) -> list[CheckFailure]:
    failures = []
    project = inputs.get("project_id")
    if project is None:
        failures.append(
            CheckFailure(
                "project_id",
                "project_id is required: set it, the stack config "
                "dcs:projectId, or HW_PROJECT_ID (32 hex digits)",
            )
        )
    elif _is_known(project):
        try:
            validate_project_id(project)
        except ConfigurationError as exc:
            failures.append(CheckFailure("project_id", str(exc)))
    region, endpoint = inputs.get("region"), inputs.get("endpoint")
    if _is_known(region) and _is_known(endpoint):
        try:
            endpoint_for(region, endpoint)
        except ConfigurationError as exc:
            failures.append(CheckFailure("endpoint" if endpoint else "region", str(exc)))
    return failures


def _check_options(inputs: Mapping[str, Any]) -> list[CheckFailure]:
    failures = []
    timeout = inputs.get("timeout_seconds")
    if _is_known(timeout) and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= 86_400
    ):
        failures.append(
            CheckFailure(
                "timeout_seconds", "timeout_seconds must be a number of seconds in (0, 86400]"
            )
        )
    on_finished = inputs.get("on_finished")
    if _is_known(on_finished) and on_finished not in ON_FINISHED_CHOICES:
        failures.append(
            CheckFailure(
                "on_finished",
                f"on_finished must be one of {ON_FINISHED_CHOICES}, not {on_finished!r}",
            )
        )
    flag = inputs.get("delete_records_on_destroy")
    if _is_known(flag) and not isinstance(flag, bool):
        failures.append(
            CheckFailure(
                "delete_records_on_destroy", "delete_records_on_destroy must be true or false"
            )
        )
    label = inputs.get("label")
    if label is not None and _is_known(label) and not isinstance(label, str):
        failures.append(CheckFailure("label", "label must be a string"))
    return failures


def _drifted(olds: Mapping[str, Any]) -> list[str]:
    """Tasks the last refresh saw running (or stopping) again although this resource stopped them."""
    return [
        e["task_id"]
        for e in (olds.get("tasks") or [])
        if isinstance(e, dict)
        and phase_of(e.get("status")) in (Phase.RUNNING, Phase.STOPPING, Phase.UNKNOWN)
        and e.get("status") is not None
    ]


def _entries(outcomes: Sequence[TaskOutcome]) -> list[dict[str, Any]]:
    return [
        {
            "task_id": o.task_id,
            "name": o.name,
            "status": o.status,
            "outcome": o.outcome.value,
            "observed_at": o.observed_at,
        }
        for o in outcomes
    ]


def _outputs(inputs: Mapping[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    outs = {k: v for k, v in inputs.items() if k in INPUT_KEYS}
    outs["tasks"] = entries
    outs["terminated_ids"] = [e["task_id"] for e in entries if e.get("status") == "TERMINATED"]
    return outs


def _resource_id(props: Mapping[str, Any]) -> str:
    return f"{props['project_id']}/stopped-{len(props['task_ids'])}"


def _label(props: Mapping[str, Any]) -> str:
    label = props.get("label")
    return label if isinstance(label, str) and label else "dcs"


def _progress_printer(label: str) -> Callable[[ProgressEvent], None]:
    return lambda event: _emit(label, event.line())


class TaskStopError(Exception):
    """The error a Pulumi operation reports; its message is the whole story, no stack needed."""


def _clean(exc: Exception) -> TaskStopError:
    return TaskStopError(str(exc))


# --- the resource ---------------------------------------------------------------------------


@dataclass
class MigrationTasksStoppedArgs:
    """Inputs of :class:`MigrationTasksStopped`.

    Attributes:
        task_ids: ids of the migration tasks that must be stopped (a set: order is ignored).
        project_id: the IAM project (32 hex digits); default: config ``dcs:projectId``, then
            ``HW_PROJECT_ID`` / ``HUAWEICLOUD_SDK_PROJECT_ID``.
        region: e.g. ``cn-north-4``; default: ``dcs:region``, then ``HW_REGION_NAME``.
        endpoint: an explicit API URL instead of the region's (the simulator); default:
            ``dcs:endpoint``, then ``HW_DCS_ENDPOINT``.
        timeout_seconds: how long ``up`` waits for every task to read ``TERMINATED`` (default
            1800; Pulumi's ``custom_timeouts`` never reach a dynamic provider).
        on_finished: a task that already ended on its own (``SUCCESS``, ``FAILED``, ...) can never
            be stopped: ``"warn"`` (default) counts it as not running and says so; ``"fail"``
            makes it an error.
        delete_records_on_destroy: ``pulumi destroy`` also deletes the task records through the
            API (default ``False``: destroy leaves the tasks stopped and touches nothing).
    """

    task_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    project_id: pulumi.Input[str] | None = None
    region: pulumi.Input[str] | None = None
    endpoint: pulumi.Input[str] | None = None
    timeout_seconds: pulumi.Input[float] | None = None
    on_finished: pulumi.Input[str] | None = None
    delete_records_on_destroy: pulumi.Input[bool] | None = None


class MigrationTasksStopped(Resource, module="dcs", name="MigrationTasksStopped"):
    """Declares that a set of DCS migration tasks is stopped (status ``TERMINATED``).

    ``pulumi up`` batch-stops the tasks and waits for them; ``pulumi refresh`` notices a task that
    runs again and the next ``up`` stops it again; ``pulumi destroy`` leaves the tasks stopped.

    Outputs: ``tasks`` (per task: ``task_id``, ``name``, ``status``, ``outcome`` — ``stopped``,
    ``already_terminated`` or ``finished_before_stop`` — and ``observed_at``) and
    ``terminated_ids``.
    """

    task_ids: pulumi.Output[list[str]]
    project_id: pulumi.Output[str]
    region: pulumi.Output[str | None]
    endpoint: pulumi.Output[str | None]
    timeout_seconds: pulumi.Output[float]
    on_finished: pulumi.Output[str]
    delete_records_on_destroy: pulumi.Output[bool]
    tasks: pulumi.Output[list[dict[str, Any]]]
    terminated_ids: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        args: MigrationTasksStoppedArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        config = pulumi.Config(CONFIG_NAMESPACE)
        props: dict[str, Any] = {
            "task_ids": args.task_ids,
            "project_id": args.project_id or config.get("projectId"),
            "region": args.region or config.get("region"),
            "endpoint": args.endpoint or config.get("endpoint"),
            "timeout_seconds": args.timeout_seconds,
            "on_finished": args.on_finished,
            "delete_records_on_destroy": args.delete_records_on_destroy,
            "label": resource_name,
            "tasks": None,
            "terminated_ids": None,
        }
        super().__init__(MigrationTasksStoppedProvider(), resource_name, props, opts)


__all__ = [
    "MigrationTasksStopped",
    "MigrationTasksStoppedArgs",
    "MigrationTasksStoppedProvider",
    "TaskStopError",
    "describe",
]
