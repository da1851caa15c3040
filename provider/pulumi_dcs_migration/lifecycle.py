"""The lifecycle rules of ``MigrationTasksStopped``, shared by every Pulumi front end.

Plain functions over plain values, in Terraform's terms: **check** (validate and complete the
inputs), **plan** (what a diff shows and what an update must do), **outputs** (what state
records after a stop or a refresh), and the texts of their failures. The dynamic resource
(:mod:`.resource`) and the provider plugin (:mod:`.plugin`) are thin adapters: they translate
their framework's values into these (snake_case names, :data:`UNKNOWN` for preview unknowns),
pass a ``spell`` function that writes a property name the way their users write it
(``task_ids`` or ``taskIds``), and word their own advice around what comes back.

The central rule is convergence: a declared task that runs *now* is a change, whatever the state
remembers. ``check`` looks every task up (when it has credentials); :func:`plan` compares that
look with the state, and an update stops exactly the new tasks and the ones found running.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Final

from .decisions import GOOD_OUTCOMES, Outcome, guard_reading
from .engine import StopOptions, StopReport, TaskOutcome, describe
from .errors import ConfigurationError
from .models import TASK_ID_SHAPE, Phase, is_valid_task_id, phase_of
from .redact import shown

if TYPE_CHECKING:
    import pulumi

from .settings import (
    Layer,
    checked_number,
    parse_bool,
    positive_seconds,
    resolve_location,
)

Spell = Callable[[str], str]
"""Writes a canonical (snake_case) property name as a front end's users write it."""


def snake(name: str) -> str:
    """The canonical spelling (the dynamic resource's)."""
    return name


def camel(name: str) -> str:
    """``task_ids`` -> ``taskIds`` (the provider plugin's schema)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _Unknown(enum.Enum):
    """A value a preview does not know yet (a front end maps its own unknowns to this). An enum
    member: one instance, also through copy and pickle."""

    UNKNOWN = "UNKNOWN"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown.UNKNOWN


def is_known(value: Any) -> bool:
    """False for :data:`UNKNOWN`, also inside lists."""
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return value is not UNKNOWN


# --- the schema -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """One input or output property: its canonical name, JSON type and documentation."""

    name: str
    type: str  # "string", "number", "boolean", "array", "object"
    doc: str
    default: Any = None
    replaces: bool = False  # a change replaces the resource


DEFAULT_TIMEOUT_SECONDS = StopOptions.timeout
DEFAULT_SYNC_TIMEOUT_SECONDS = StopOptions.sync_timeout
MAX_TIMEOUT_SECONDS = 86_400.0
MAX_TASK_IDS = 10_000
ON_FINISHED_CHOICES = ("warn", "fail")


def _input(
    schema_type: str, doc: str, *, default: Any = None, replaces: bool = False
) -> dict[str, Any]:
    """What a field of :class:`MigrationTasksStoppedArgs` declares besides its Python type: its
    schema type, documentation, the default ``check`` fills in, whether a change replaces."""
    return {"type": schema_type, "doc": doc, "default": default, "replaces": replaces}


@dataclass
class MigrationTasksStoppedArgs:
    """The inputs of ``MigrationTasksStopped``, declared once.

    This typed class is what Python programs pass (or its fields as keyword arguments); the
    schema of the provider plugin, the checks, and the docs tables derive from its fields
    (:data:`INPUTS`). Each field's documentation is the schema's description.
    """

    task_ids: pulumi.Input[Sequence[pulumi.Input[str]]] = field(
        metadata=_input(
            "array",
            "Ids of the migration tasks that must be stopped. A set: order and repetition are "
            f"ignored. Each is {TASK_ID_SHAPE}.",
        )
    )
    project_id: pulumi.Input[str] | None = field(
        default=None,
        metadata=_input(
            "string",
            "The IAM project (32 lower-case hex digits). Default: the provider or stack config, "
            "then HW_PROJECT_ID / HUAWEICLOUD_SDK_PROJECT_ID. A change replaces the resource.",
            replaces=True,
        ),
    )
    region: pulumi.Input[str] | None = field(
        default=None,
        metadata=_input(
            "string",
            "The region, e.g. cn-north-4; the endpoint is https://dcs.{region}.myhuaweicloud.com. "
            "Default: the provider or stack config, then HW_REGION_NAME / HUAWEICLOUD_SDK_REGION. "
            "An endpoint, when also set, wins. A change replaces the resource.",
            replaces=True,
        ),
    )
    endpoint: pulumi.Input[str] | None = field(
        default=None,
        metadata=_input(
            "string",
            "An explicit API URL instead of the region's (https; plain http only on loopback). "
            "Default: the provider or stack config, then HW_DCS_ENDPOINT. A change replaces the "
            "resource.",
            replaces=True,
        ),
    )
    timeout_seconds: pulumi.Input[float] | None = field(
        default=None,
        metadata=_input(
            "number",
            "How long an update waits for every task to read TERMINATED, in seconds (0, 86400].",
            default=DEFAULT_TIMEOUT_SECONDS,
        ),
    )
    on_finished: pulumi.Input[str] | None = field(
        default=None,
        metadata=_input(
            "string",
            "A task that already ended on its own (SUCCESS, FAILED, ...) can never read TERMINATED: "
            "'warn' counts it as not running and says so; 'fail' makes it an error.",
            default="warn",
        ),
    )
    delete_records_on_destroy: pulumi.Input[bool] | None = field(
        default=None,
        metadata=_input(
            "boolean",
            "true: destroy also deletes the task records through the API. false: destroy leaves the "
            "tasks stopped and touches nothing.",
            default=False,
        ),
    )
    max_offset: pulumi.Input[int] | None = field(
        default=None,
        metadata=_input(
            "integer",
            "The cutover guard: stop a task only once its incremental-sync lag (the stats call's "
            "offset, 0 = in sync) is at most this, so that a cutover loses no write. Unset: stop at "
            "once.",
        ),
    )
    sync_timeout_seconds: pulumi.Input[float] | None = field(
        default=None,
        metadata=_input(
            "number",
            "With maxOffset: how long to wait for a lagging task to catch up, in seconds (default "
            "600). A task still lagging then is left running, and the update fails naming it with "
            "its lag.",
        ),
    )
    max_key_difference: pulumi.Input[int] | None = field(
        default=None,
        metadata=_input(
            "integer",
            "With maxOffset, the guard counts keys too: stop a task only once its source's key "
            "count minus its target's (the stats call's source_dbsize - target_dbsize) is at most "
            "this as well, 0 = the same count, so that a target that evicted or filtered keys is "
            "never cut over to. A task whose stats give no key counts is left running. Unset: the "
            "lag alone.",
        ),
    )


INPUTS: tuple[Property, ...] = tuple(
    Property(
        f.name, f.metadata["type"], f.metadata["doc"], f.metadata["default"], f.metadata["replaces"]
    )
    for f in fields(MigrationTasksStoppedArgs)
)
"""Every input: name, schema type, documentation, default, whether it replaces."""

MigrationTasksStoppedArgs.__doc__ = (
    f"{MigrationTasksStoppedArgs.__doc__}\n    Attributes:\n"
    + "".join(f"        {p.name}: {p.doc}\n" for p in INPUTS)
)
INPUT_NAMES: tuple[str, ...] = tuple(p.name for p in INPUTS)
REPLACE_NAMES: tuple[str, ...] = tuple(p.name for p in INPUTS if p.replaces)
OPTION_NAMES: tuple[str, ...] = tuple(
    p.name for p in INPUTS if not p.replaces and p.name != "task_ids"
)

TASK_FIELDS: tuple[Property, ...] = (
    Property("task_id", "string", "The migration task's id."),
    Property("name", "string", "The task's name, as the API reports it."),
    Property("status", "string", "The last status seen, spelled as the API spells it."),
    Property(
        "outcome",
        "string",
        "What happened to the task: stopped, already_terminated or finished_before_stop (and, "
        "after a refresh of a task that never got a stop, null).",
    ),
    Property("observed_at", "string", "When that status was read (ISO-8601, UTC)."),
    Property(
        "offset",
        "integer",
        "With the cutover guard (maxOffset): the task's incremental-sync lag when last read.",
    ),
    Property(
        "source_keys",
        "integer",
        "With the guard's key check (maxKeyDifference): the source's key count when last read.",
    ),
    Property(
        "target_keys",
        "integer",
        "With the guard's key check (maxKeyDifference): the target's key count when last read.",
    ),
)
OUTPUTS: tuple[Property, ...] = (
    Property("tasks", "array", "Per declared task: what was seen and what happened."),
    Property("terminated_ids", "array", "The ids whose last seen status is TERMINATED."),
)


# --- check ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """An input that cannot be accepted: the property (canonical name) and the message."""

    property: str
    message: str


@dataclass(frozen=True)
class Checked:
    """The completed inputs (canonical names; :data:`UNKNOWN` kept), failures and warnings."""

    inputs: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def task_ids(self) -> list[str] | None:
        """The de-duplicated ids, when all are known and valid."""
        ids = self.inputs.get("task_ids")
        if self.failures or not isinstance(ids, list) or not is_known(ids):
            return None
        return ids


def check(news: Mapping[str, Any], config: Layer, spell: Spell = snake) -> Checked:
    """Validate ``news`` and complete it from ``config`` (a front end's config layer) and the
    environment: project, region or endpoint, and the options' defaults."""
    inputs = dict(news)
    failures = [
        Failure(
            name,
            f"unknown input {name!r}; known inputs: {', '.join(spell(n) for n in INPUT_NAMES)}",
        )
        for name in inputs
        if name not in INPUT_NAMES
    ]
    warnings: list[str] = []
    ids_failures, ids, duplicates = _check_task_ids(inputs.get("task_ids"), spell)
    failures += ids_failures
    if ids is not None:
        inputs["task_ids"] = ids
        warnings += duplicates
    location_failures, location_warnings = _complete_location(inputs, config, spell)
    failures += location_failures
    warnings += location_warnings
    failures += check_options(inputs, spell)
    return Checked(inputs, failures, warnings)


def _check_task_ids(value: Any, spell: Spell) -> tuple[list[Failure], list[Any] | None, list[str]]:
    """(failures, the de-duplicated list or None, duplicate warnings)."""
    name = spell("task_ids")
    if value is UNKNOWN:
        return [], None, []
    wrong = None
    if value is None:
        wrong = f"{name} is required: a list of migration task ids to stop"
    elif not isinstance(value, list):
        wrong = f"{name} must be a list of strings, not {type(value).__name__}"
    elif not value:
        wrong = f"{name} is empty: give at least one migration task id"
    elif len(value) > MAX_TASK_IDS:
        wrong = f"{name} has {len(value)} ids; at most {MAX_TASK_IDS} per resource"
    if wrong is not None:
        return [Failure("task_ids", wrong)], None, []
    failures: list[Failure] = []
    warnings: list[str] = []
    first_index: dict[str, int] = {}
    unique: list[Any] = []
    for index, task_id in enumerate(value):
        if task_id is UNKNOWN:
            unique.append(task_id)
        elif not is_valid_task_id(task_id):
            failures.append(
                Failure(
                    "task_ids",
                    f"{name}[{index}] = {shown(task_id)} is not a valid task id ({TASK_ID_SHAPE})",
                )
            )
        elif task_id in first_index:
            warnings.append(
                f"{name}[{index}] repeats {name}[{first_index[task_id]}] ({task_id}); "
                "the duplicate is ignored"
            )
        else:
            first_index[task_id] = index
            unique.append(task_id)
    return failures, (None if failures else unique), warnings


def _complete_location(
    inputs: dict[str, Any], config: Layer, spell: Spell
) -> tuple[list[Failure], list[str]]:
    """Fill project and region/endpoint from config and environment; check them."""
    names = ("project_id", "region", "endpoint")
    if any(inputs.get(n) is UNKNOWN for n in names):
        return [], []
    given = Layer({n: inputs.get(n) for n in names}, spell, "input")
    try:
        location = resolve_location(given, config)
    except ConfigurationError as exc:
        setting = next((n for n in names if n == exc.setting), "endpoint")
        return [Failure(setting, str(exc))], []
    inputs["project_id"] = location.project_id
    for name, value in (("region", location.region), ("endpoint", location.endpoint)):
        if value is None:
            inputs.pop(name, None)
        else:
            inputs[name] = value
    ignored = location.ignored_region
    if ignored is None:
        return [], []
    return [], [
        f"{spell('region')} {ignored.value} (from {ignored.where}) "
        f"is ignored: the endpoint {location.endpoint} wins"
    ]


def check_options(inputs: dict[str, Any], spell: Spell) -> list[Failure]:
    """Check the options of a stop (every input but the ids and the location), filling in their
    defaults; the command line's ``stop`` runs the same checks."""
    failures = []
    for prop in INPUTS:
        if prop.default is not None and inputs.get(prop.name) is None:
            inputs[prop.name] = prop.default
    failures += _seconds(inputs, "timeout_seconds", spell)
    on_finished = inputs.get("on_finished")
    if on_finished is not UNKNOWN and on_finished not in ON_FINISHED_CHOICES:
        failures.append(
            Failure(
                "on_finished",
                f"{spell('on_finished')} must be one of {ON_FINISHED_CHOICES}, not "
                f"{shown(on_finished)}",
            )
        )
    flag = inputs.get("delete_records_on_destroy")
    if flag is not UNKNOWN and not isinstance(flag, bool):
        failures.append(
            Failure(
                "delete_records_on_destroy",
                f"{spell('delete_records_on_destroy')} must be true or false",
            )
        )
    return failures + _check_guard(inputs, spell)


def _seconds(inputs: dict[str, Any], name: str, spell: Spell) -> list[Failure]:
    """``name``: seconds in (0, :data:`MAX_TIMEOUT_SECONDS`], made a float in place."""
    if inputs.get(name) is UNKNOWN:
        return []
    try:
        inputs[name] = positive_seconds(inputs.get(name), spell(name), maximum=MAX_TIMEOUT_SECONDS)
    except ConfigurationError as exc:
        return [Failure(name, str(exc))]
    return []


def _whole(inputs: dict[str, Any], name: str, spell: Spell, what: str) -> list[Failure]:
    """``name``: a whole number >= 0 or unset, made an int in place."""
    value = inputs.get(name)
    if value is None or value is UNKNOWN:
        return []
    try:
        inputs[name] = int(checked_number(value, spell(name), what, zero=True, whole=True))
    except ConfigurationError as exc:
        return [Failure(name, str(exc))]
    return []


def _check_guard(inputs: dict[str, Any], spell: Spell) -> list[Failure]:
    """``max_offset``: a whole number of bytes >= 0 (or unset); ``max_key_difference``: a whole
    number of keys >= 0 (or unset), only with ``max_offset`` (the key check is part of the
    cutover guard, never a guard of its own); ``sync_timeout_seconds``: seconds, less than the
    whole wait (``timeout_seconds``)."""
    bound = inputs.get("max_offset")
    failures = _whole(
        inputs,
        "max_offset",
        spell,
        "a whole number >= 0 (the lag in bytes at which a task may be stopped)",
    )
    keys = inputs.get("max_key_difference")
    key_failures = _whole(
        inputs,
        "max_key_difference",
        spell,
        "a whole number >= 0 (how many keys the target may hold fewer than the source "
        "when a task is stopped; 0 = the same count)",
    )
    if keys is not None and keys is not UNKNOWN and bound is None and not key_failures:
        name, offset = spell("max_key_difference"), spell("max_offset")
        message = (
            f"{name} needs {offset}: the key check is part of the cutover guard; "
            f"set {offset} too (0 = in sync), or drop {name}"
        )
        key_failures = [Failure("max_key_difference", message)]
    failures += key_failures
    sync = inputs.get("sync_timeout_seconds")
    if sync is None and bound is None:
        return failures  # no guard: nothing to fill in (and no change for existing states)
    if sync is None:
        inputs["sync_timeout_seconds"] = DEFAULT_SYNC_TIMEOUT_SECONDS
    if sync is UNKNOWN:
        return failures
    sync_failures = _seconds(inputs, "sync_timeout_seconds", spell)
    if sync_failures:
        return failures + sync_failures
    timeout = inputs.get("timeout_seconds")
    if (
        bound is not None
        and isinstance(timeout, float)
        and inputs["sync_timeout_seconds"] >= timeout
    ):
        failures.append(
            Failure(
                "sync_timeout_seconds",
                f"{spell('sync_timeout_seconds')} ({inputs['sync_timeout_seconds']:g}) must be "
                f"less than {spell('timeout_seconds')} ({timeout:g}), which bounds the whole wait",
            )
        )
    return failures


def stop_options(
    inputs: Mapping[str, Any], *, timeout: float | None = None, wait: bool = True
) -> StopOptions:
    """The engine's options for checked ``inputs``, the cutover guard included (``timeout``: a
    limit that overrides ``timeout_seconds``, such as Pulumi's customTimeouts)."""
    bound, keys = inputs.get("max_offset"), inputs.get("max_key_difference")
    return StopOptions(
        timeout=timeout or float(inputs.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS),
        wait=wait,
        strict_finished=strict(inputs),
        max_offset=int(bound) if isinstance(bound, int | float) else None,
        sync_timeout=float(inputs.get("sync_timeout_seconds") or DEFAULT_SYNC_TIMEOUT_SECONDS),
        max_key_difference=(
            int(keys) if isinstance(keys, int | float) and not isinstance(keys, bool) else None
        ),
    )


def missing_tasks(looks: Sequence[TaskOutcome], project_id: str, spell: Spell) -> list[Failure]:
    """A failure per declared task that does not exist: preview fails naming it."""
    return [
        Failure(
            "task_ids",
            f"task {o.task_id!r} does not exist in project {project_id}; remove it from "
            f"{spell('task_ids')} or check the id (dcs-migration list) and the project",
        )
        for o in looks
        if o.outcome is Outcome.NOT_FOUND
    ]


def _listed(items: Sequence[str], limit: int = 5) -> str:
    """``a, b, c and 2 more``: at most ``limit`` items named."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def preview_lines(looks: Sequence[TaskOutcome], options: StopOptions) -> list[str]:
    """What preview says of a look: which tasks run now (and would be stopped) and which need
    nothing. With the cutover guard also each running task's lag next to its status, which
    tasks would wait for their lag (and, with the key check, for their target's keys), and
    which give no key counts (they would be left running)."""
    running = [o for o in looks if o.outcome is Outcome.RUNNING]
    named = [
        f"{o.task_id} ({o.status}"
        + ("" if o.offset is None else f", {guard_reading(o.offset, o.key_difference)}")
        + ")"
        for o in running
    ]
    done = len(looks) - len(running)
    lines = [
        f"{len(running)} of {len(looks)} task(s) running now"
        + (f": {_listed(named)}" if running else "")
        + (f"; {done} already stopped or finished" if done else "")
    ]
    bound, sync, keys = options.max_offset, options.sync_timeout, options.max_key_difference
    if bound is None:
        return lines
    lagging = [
        f"{o.task_id} ({guard_reading(o.offset, o.key_difference)})"
        for o in running
        if o.offset is not None
        and (
            o.offset > bound
            or (keys is not None and o.key_difference is not None and o.key_difference > keys)
        )
    ]
    if lagging:
        short = "" if keys is None else f" and their target is at most {keys} key(s) short"
        lines.append(
            f"{len(lagging)} task(s) would wait (up to {sync:g}s) until their lag is at most "
            f"{bound}{short} before being stopped: {_listed(lagging)}"
        )
    uncounted = [o.task_id for o in running if o.offset is not None and o.key_difference is None]
    if keys is not None and uncounted:
        lines.append(
            f"{len(uncounted)} task(s) give no key counts in their stats and would be left "
            f"running ({Outcome.KEYS_UNKNOWN.value}): {_listed(uncounted)}"
        )
    return lines


# --- plan (diff) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a diff shows and what an update does. Empty = no change."""

    replaces: tuple[str, ...] = ()  # property names whose change replaces the resource
    options: tuple[str, ...] = ()  # option properties that changed (no API call)
    added: tuple[str, ...] = ()  # task ids to stop: newly declared
    removed: tuple[str, ...] = ()  # task ids no longer declared (no API call)
    running: tuple[str, ...] = ()  # declared tasks found running now: stopped again
    stopping: tuple[str, ...] = ()  # declared tasks found stopping now: waited for
    unknown: bool = False  # some input is not known yet (preview)

    @property
    def changes(self) -> bool:
        """Anything to do at all."""
        return self.unknown or any(
            (self.replaces, self.options, self.added, self.removed, self.running, self.stopping)
        )

    @property
    def to_stop(self) -> tuple[str, ...]:
        """What an update hands to the engine: the new tasks and the ones found running."""
        return self.added + self.running + self.stopping

    def drift(self) -> list[str]:
        """Lines about declared tasks that run or stop now (convergence), for a preview."""
        return _lines(
            (self.running, "running again since the last stop; up will stop"),
            (self.stopping, "stopping now; up will wait for"),
        )

    def reasons(self, spell: Spell = snake) -> list[str]:
        """One line per reason for the change (what a preview says)."""
        lines = self.drift() + _lines(
            (self.added, "added; up will stop"), (self.removed, "removed (left as they are)")
        )
        lines += [f"{spell(n)} changes: replacing the resource" for n in self.replaces]
        lines += [f"{spell(n)} changes" for n in self.options]
        return lines


def _lines(*groups: tuple[tuple[str, ...], str]) -> list[str]:
    """``2 task(s) added; up will stop: a, b`` per non-empty group of ids."""
    return [f"{len(ids)} task(s) {what}: " + ", ".join(ids) for ids, what in groups if ids]


def plan(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    now: Mapping[str, str | None] | None = None,
) -> Plan:
    """Compare the state (``olds``: outputs) with checked inputs (``news``).

    ``now`` maps task ids to the status a look just read (``check``'s); without one, the statuses
    the state recorded (the last refresh) stand in. Task ids are a set.
    """
    replaces = tuple(n for n in REPLACE_NAMES if _differs(olds.get(n), news.get(n)))
    options = tuple(n for n in OPTION_NAMES if _differs(olds.get(n), news.get(n)))
    new_ids = news.get("task_ids")
    old_ids = [t for t in (olds.get("task_ids") or []) if isinstance(t, str)]
    if not isinstance(new_ids, list) or not is_known(new_ids):
        return Plan(replaces, options, unknown=True)
    old, new = set(old_ids), set(new_ids)
    added = tuple(t for t in new_ids if t not in old)
    removed = tuple(t for t in old_ids if t not in new)
    kept = [t for t in new_ids if t in old]
    statuses = {**recorded_statuses(olds), **(now or {})}
    running = tuple(t for t in kept if _phase(statuses.get(t)) is Phase.RUNNING)
    stopping = tuple(t for t in kept if _phase(statuses.get(t)) is Phase.STOPPING)
    return Plan(replaces, options, added, removed, running, stopping)


def _phase(status: str | None) -> Phase | None:
    if status is None:
        return None
    phase = phase_of(status)
    return Phase.RUNNING if phase is Phase.UNKNOWN else phase


def _differs(old: Any, new: Any) -> bool:
    if not is_known(new):
        return True
    return (old if old != "" else None) != (new if new != "" else None)


def recorded_statuses(state: Mapping[str, Any]) -> dict[str, str | None]:
    """Task id -> the status the state recorded for it."""
    return {
        e["task_id"]: e.get("status")
        for e in (state.get("tasks") or [])
        if isinstance(e, Mapping) and isinstance(e.get("task_id"), str)
    }


# --- outputs ----------------------------------------------------------------------------------


def entry(outcome: TaskOutcome) -> dict[str, Any]:
    """One ``tasks`` element from an engine outcome."""
    fields = outcome.as_dict()
    return {p.name: fields[p.name] for p in TASK_FIELDS}


def outputs(inputs: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole output set: the inputs, ``tasks`` and ``terminated_ids``."""
    outs = inputs_of(inputs)
    tasks = [dict(e) for e in entries]
    outs["tasks"] = tasks
    outs["terminated_ids"] = [
        e["task_id"] for e in tasks if phase_of(e.get("status")) is Phase.TERMINATED
    ]
    return outs


def _entries(state: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Task id -> the ``tasks`` entry the state recorded for it."""
    return {e["task_id"]: e for e in (state.get("tasks") or []) if isinstance(e, Mapping)}


def after_update(
    olds: Mapping[str, Any], news: Mapping[str, Any], report: StopReport | None
) -> dict[str, Any]:
    """Outputs after an update: the old entries of untouched tasks, new ones for those stopped."""
    entries = _entries(olds)
    if report is not None:
        entries.update({o.task_id: entry(o) for o in report.outcomes})
    return outputs(news, [entries[t] for t in news["task_ids"] if t in entries])


def after_read(state: Mapping[str, Any], looks: Sequence[TaskOutcome]) -> dict[str, Any]:
    """Outputs after a refresh: every task's real status, outcomes kept from the state."""
    old = _entries(state)
    entries = []
    for look in looks:
        previous = dict(old.get(look.task_id) or {"task_id": look.task_id, "outcome": None})
        previous.update(
            status=look.status,
            name=look.name or previous.get("name"),
            observed_at=look.observed_at,
        )
        entries.append(previous)
    return outputs(state, entries)


def inputs_of(state: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs recorded in a state (what read returns as inputs: no false drift)."""
    return {k: v for k, v in state.items() if k in INPUT_NAMES}


def strict(inputs: Mapping[str, Any]) -> bool:
    """Whether a task that finished on its own is a failure (``on_finished: fail``)."""
    return inputs.get("on_finished") == "fail"


def delete_records(inputs: Mapping[str, Any]) -> bool:
    """Whether destroy deletes the task records."""
    try:
        return parse_bool(inputs.get("delete_records_on_destroy") or False, "delete_records")
    except ConfigurationError:
        return False


def finished_warnings(report: StopReport, inputs: Mapping[str, Any]) -> list[str]:
    """A warning per task that ended on its own, when that is allowed."""
    if strict(inputs):
        return []
    return [
        f"warning: {o.task_id} had already ended with status {o.status}; it was not stopped "
        "and counts as not running"
        for o in report.outcomes
        if o.outcome is Outcome.FINISHED
    ]


def incomplete_message(failed: Sequence[TaskOutcome], total: int, spelling: Spelling) -> str:
    """The failure text: every task not stopped with its status, then what to do.

    What the server wrote (names, statuses, error texts) was made one safe line where it entered
    (the client), so it can fake no line of its own in any front end's error."""
    lines = [f"{len(failed)} of {total} task(s) are not stopped:"]
    lines += [f"  - {describe(o)}" for o in failed]
    todo = stop_advice({o.outcome for o in failed}, spelling)
    if todo:
        lines.append("To fix: " + "; ".join(todo) + ".")
    return "\n".join(lines)


@dataclass(frozen=True)
class Spelling:
    """How one front end's users write what they set: all a front end chooses of the advice."""

    input: Spell  # an input: task_ids, taskIds, --max-offset
    wait_limit: str  # what bounds a stop's wait: timeout_seconds, customTimeouts, --timeout
    rerun: str  # the same stop again: `pulumi up`, the same command
    allow_finished: str  # how a task that ended on its own counts as not running


def stop_advice(outcomes: Iterable[Outcome], spelling: Spelling) -> list[str]:
    """What to do about tasks left with ``outcomes``: the one wording, in a front end's words."""
    s = spelling
    texts = {
        Outcome.TIMED_OUT: (
            f"raise {s.wait_limit} or run {s.rerun} again: a rerun continues where this one stopped"
        ),
        Outcome.NOT_FOUND: (
            f"remove the ids that do not exist in this project from {s.input('task_ids')} "
            "(dcs-migration list shows what does), or check the project id"
        ),
        Outcome.STOP_REJECTED: "check the task in the DCS console; the API refused to stop it",
        Outcome.FINISHED: (
            "the task ended on its own and can never read TERMINATED: allow finished tasks "
            f"({s.allow_finished}) or remove its id"
        ),
        Outcome.NOT_IN_SYNC: (
            "check that writes to the source Redis are frozen, or raise "
            f"{s.input('sync_timeout_seconds')} (or {s.input('max_offset')}); the lagging tasks "
            "were left running, the others are stopped"
        ),
        Outcome.LAG_UNKNOWN: (
            "its lag could not be read (the stats call); it was left running: retry, or drop "
            f"{s.input('max_offset')} to stop without the guard"
        ),
        Outcome.KEYS_UNKNOWN: (
            "its stats gave no key counts to compare (source_dbsize, target_dbsize); it was left "
            f"running: retry, or drop {s.input('max_key_difference')} to stop on the lag alone"
        ),
    }
    wanted = set(outcomes)
    return [text for outcome, text in texts.items() if outcome in wanted]


PULUMI = Spelling(snake, "timeout_seconds", "`pulumi up`", "on_finished: warn")
"""The dynamic resource's words (a Python program's)."""

PLUGIN = Spelling(
    camel, "customTimeouts (create, update) or timeoutSeconds", "`pulumi up`", "onFinished: warn"
)
"""The provider plugin's words (the schema's camelCase)."""


def summary_line(report: StopReport) -> str:
    """The last progress line of a successful stop."""
    terminated = len(report.terminated_ids)
    own = sum(1 for o in report.outcomes if o.outcome in GOOD_OUTCOMES) - terminated
    finished = f" ({own} finished on their own)" if own > 0 else ""
    return f"{terminated}/{len(report.outcomes)} terminated in {report.elapsed:.1f}s{finished}"


# --- identity ----------------------------------------------------------------------------------


def resource_id(project_id: str, key: str, task_ids: Sequence[str]) -> str:
    """``<project id>/<12 hex digits>``: a digest of what names the resource (``key``: its URN
    for the plugin; its project, stack and name for the dynamic resource, which is not told its
    URN) and the task ids it was created or imported with. Unique per resource and kept for its
    life (an update never changes an ID)."""
    digest = hashlib.sha256("\n".join([key, *sorted(task_ids)]).encode()).hexdigest()[:12]
    return f"{project_id}/{digest}"


def import_ids(import_id: str) -> list[str]:
    """The task ids of a ``pulumi import`` ID: ``<task-id>[,<task-id>...]`` (spaces allowed)."""
    return [part for part in re.split(r"[,\s]+", import_id.strip()) if part]


def imported(inputs: Mapping[str, Any], looks: Sequence[TaskOutcome]) -> dict[str, Any]:
    """Outputs of an imported resource: what each task is now; a stopped one counts as such."""
    # A running or missing task: nothing happened to it yet.
    return outputs(
        inputs, [{**entry(o), "outcome": o.outcome.value if o.ok else None} for o in looks]
    )
