"""Wire models of the DCS migration-task API calls the product makes, the task-id rule and the
status vocabulary; nothing else lives here.

The simulator takes only the task-id rule (:func:`is_valid_task_id`) and the status sets
(:data:`RUNNING_STATUSES`, :data:`FINISHED_STATUSES`) from this module, not its models; the
models of the calls only tests make (creating tasks, the single-task stop) live in its test
harness, ``dcs_simulator.testing.api``, built on :class:`WireModel`. The models are lenient on
purpose (see the reference, section 2.16): the real API sends numbers where strings are
documented, timestamps in three formats, nulls and extra fields. Status strings are kept exactly
as they arrive, the misspelled ``INCRMIGEATING`` included; :func:`phase_of` maps them to the
small set of phases the stop-and-wait engine reasons in.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .redact import MASK

TASK_ID_PATTERN = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32}"
)
"""What a task id looks like: the API's ids are UUIDs (``b21989ec-2889-4b8e-99db-19c073425ec2``)
or 32 hex digits. Anything else is refused before a request is sent: the API answers such an id
with 400 ``DCS.4855`` for the whole batch, and nothing that could change a URL (``/``, ``?``,
``%``, ``.``, whitespace, unicode) fits the pattern."""

TASK_ID_SHAPE = "a UUID or 32 hex digits"
"""How error messages describe :data:`TASK_ID_PATTERN`."""


def is_valid_task_id(value: object) -> bool:
    """True when ``value`` is a string shaped like a DCS migration task id."""
    return isinstance(value, str) and TASK_ID_PATTERN.fullmatch(value) is not None


MAX_PAGE_SIZE = 1000
"""The list call's largest page (``limit`` 1..1000)."""

MAX_BATCH_IDS = 50
"""Ids per batch call (batch-stop, batch-restart, delete). The API caps batch-restart and
instance batch calls at 50 (reference section 4); batch-stop is not documented, so the same."""


def batches(ids: Sequence[str], size: int = MAX_BATCH_IDS) -> list[list[str]]:
    """``ids`` in consecutive slices of at most ``size`` (one API call each)."""
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def _to_str(value: Any) -> Any:
    """Accept numbers (and booleans) where the SDK documents strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


LenientStr = Annotated[str | None, BeforeValidator(_to_str)]
"""A string field that also accepts a number, and null."""


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Phase(enum.StrEnum):
    """What a status means to someone who wants the task stopped."""

    RUNNING = "running"  # syncing or about to: a stop is needed
    STOPPING = "stopping"  # a stop was accepted and is in progress
    TERMINATED = "terminated"  # stopped by a user: the goal
    FINISHED = "finished"  # ended on its own and will never read TERMINATED
    GONE = "gone"  # the task record is deleted or unknown
    UNKNOWN = "unknown"  # a status this code has never seen: keep waiting, bounded


_PHASES: dict[str, Phase] = {
    "CREATING": Phase.RUNNING,
    "RUNNING": Phase.RUNNING,
    "MIGRATING": Phase.RUNNING,
    "FULLMIGRATING": Phase.RUNNING,
    "INCRMIGEATING": Phase.RUNNING,
    "INCRMIGRATING": Phase.RUNNING,
    # Cleaning up after a successful migration; the reference does not know what follows, so it
    # is waited on like a running task, bounded by the timeout.
    "MIGRATION_SUCCESS": Phase.RUNNING,
    "TERMINATING": Phase.STOPPING,
    "TERMINATED": Phase.TERMINATED,
    "SUCCESS": Phase.FINISHED,
    "FAILED": Phase.FINISHED,
    "MIGRATION_FAILED": Phase.FINISHED,
    "RELEASED": Phase.FINISHED,
    "ERROR": Phase.FINISHED,
    "DELETED": Phase.GONE,
}

RUNNING_STATUSES = frozenset(s for s, p in _PHASES.items() if p is Phase.RUNNING)
FINISHED_STATUSES = frozenset(s for s, p in _PHASES.items() if p is Phase.FINISHED)


def phase_of(status: str | None) -> Phase:
    """Map an API status string to its phase; unseen strings are :attr:`Phase.UNKNOWN`."""
    if status is None:
        return Phase.UNKNOWN
    return _PHASES.get(status.strip().upper(), Phase.UNKNOWN)


# --- list ---------------------------------------------------------------------------------


class MigrationTaskSummary(WireModel):
    """One item of the list call (``MigrationTaskList`` in the SDK)."""

    task_id: str
    task_name: LenientStr = None
    status: LenientStr = None
    migration_type: LenientStr = None
    migration_method: LenientStr = None
    ecs_tenant_private_ip: LenientStr = None
    data_source: LenientStr = None
    source_instance_name: LenientStr = None
    source_instance_id: LenientStr = None
    target_instance_addrs: LenientStr = None
    target_instance_name: LenientStr = None
    target_instance_id: LenientStr = None
    created_at: LenientStr = None
    description: LenientStr = None
    source_instance_status: LenientStr = None
    target_instance_status: LenientStr = None
    source_instance_subnet_id: LenientStr = None
    target_instance_subnet_id: LenientStr = None
    source_instance_spec_code: LenientStr = None
    target_instance_spec_code: LenientStr = None
    error_message: LenientStr = None
    released_at: LenientStr = None
    version: LenientStr = None
    resume_mode: LenientStr = None
    supported_features: list[str] | None = None


class ListMigrationTasksResponse(WireModel):
    """Response of ``GET /v2/{project_id}/migration-tasks``."""

    count: int = 0
    migration_tasks: list[MigrationTaskSummary] = Field(default_factory=list)


class TaskStatusItem(BaseModel):
    """The three fields of a list item that a waiter needs; everything else is skipped."""

    model_config = ConfigDict(extra="ignore")

    task_id: str
    task_name: LenientStr = None
    status: LenientStr = None


class TaskStatusPage(BaseModel):
    """A list page read for statuses only (about 5x cheaper to parse than the full models)."""

    model_config = ConfigDict(extra="ignore")

    count: int = 0
    migration_tasks: list[TaskStatusItem] = Field(default_factory=list)


# --- details --------------------------------------------------------------------------------


class InstanceEndpoint(WireModel):
    """``source_instance`` / ``target_instance`` of the details call."""

    id: LenientStr = None
    name: LenientStr = None
    addrs: LenientStr = None
    ip: LenientStr = None
    port: LenientStr = None
    password: LenientStr = None
    task_status: LenientStr = None
    proxy_multi_db: bool | None = None
    db: LenientStr = None

    def __repr_args__(self) -> Any:
        # The API echoes Redis passwords back; never print them.
        for key, value in super().__repr_args__():
            yield key, (MASK if key == "password" and value else value)


class BackupFile(WireModel):
    """One file of a backup import (``backup_files.files[]``)."""

    file_name: LenientStr = None
    size: LenientStr = None
    update_at: LenientStr = None


class BackupFiles(WireModel):
    """Where a backup import reads from: an OBS bucket or a backup record."""

    file_source: LenientStr = None
    bucket_name: LenientStr = None
    files: list[BackupFile] | None = None
    backup_id: LenientStr = None


class MigrationTask(WireModel):
    """Response of the details call."""

    task_id: str
    task_name: LenientStr = None
    description: LenientStr = None
    status: LenientStr = None
    migration_type: LenientStr = None
    migration_method: LenientStr = None
    ecs_tenant_private_ip: LenientStr = None
    backup_files: BackupFiles | None = None
    network_type: LenientStr = None
    source_instance: InstanceEndpoint | None = None
    target_instance: InstanceEndpoint | None = None
    created_at: LenientStr = None
    updated_at: LenientStr = None
    released_at: LenientStr = None
    version: LenientStr = None
    resume_mode: LenientStr = None
    supported_features: list[str] | None = None
    tenant_vpc_id: LenientStr = None
    tenant_subnet_id: LenientStr = None
    tenant_security_group_id: LenientStr = None
    bandwidth_limit_mb: LenientStr = None
    task_status: LenientStr = None


# --- batch calls --------------------------------------------------------------------------


class BatchItemResult(WireModel):
    """One item of a batch-stop / batch-restart answer."""

    task_id: str
    result: LenientStr = None
    error_code: LenientStr = None
    error_msg: LenientStr = None
    error_ext_msg: LenientStr = None

    @property
    def succeeded(self) -> bool:
        """True when the API accepted the request for this task (``result: success``)."""
        return (self.result or "").strip().lower() == "success"


class BatchResultResponse(WireModel):
    """Answer of batch-stop and batch-restart: one result per task, matched by id."""

    migration_tasks: list[BatchItemResult] = Field(default_factory=list)


class DeleteTasksBody(WireModel):
    """Body of ``DELETE /v2/{project_id}/migration-tasks/delete`` (and its echo)."""

    task_id_list: list[str]


# --- stats --------------------------------------------------------------------------------


def _to_int(value: Any) -> Any:
    """Accept an integer given as a number or as numeric text (``12``, ``12.0``, ``"12"``)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            number = float(text)  # "12.0"; anything else raises: not a number
            if not number.is_integer():
                raise ValueError(f"not a whole number: {value!r}") from None
            return int(number)
    return value


LenientInt = Annotated[int | None, BeforeValidator(_to_int)]
"""An integer field that also accepts numeric text (the SDK types numbers as strings), and null."""


class MigrationTaskStats(WireModel):
    """Response of ``GET /v2/{project_id}/migration-task/{task_id}/stats`` (reference 2.11).

    The SDK types every number as a string; the doc example sends numbers: both are accepted.
    ``offset`` is the incremental-sync lag as an int (0 = in sync; ``None`` when absent).
    ``source_dbsize`` / ``target_dbsize`` are the key counts of the source and the target, read
    as whole numbers by :attr:`source_keys` / :attr:`target_keys`.
    """

    full_migration_progress: LenientStr = None
    offset: LenientInt = None
    source_dbsize: LenientStr = None
    target_dbsize: LenientStr = None
    target_input_kbps: LenientStr = None
    target_ops: LenientStr = None
    is_migrating: bool | None = None

    @property
    def source_keys(self) -> int | None:
        """The source's key count; ``None`` when absent or not a whole number >= 0."""
        return _key_count(self.source_dbsize)

    @property
    def target_keys(self) -> int | None:
        """The target's key count; ``None`` when absent or not a whole number >= 0."""
        return _key_count(self.target_dbsize)


def _key_count(text: str | None) -> int | None:
    """A key count from the wire's text. Anything but a whole number >= 0 is no count: the key
    check then says it cannot compare, rather than failing the whole stats answer (its lag)."""
    try:
        count = _to_int(text) if text is not None else None
    except ValueError:
        return None
    return count if isinstance(count, int) and count >= 0 else None


# --- errors ---------------------------------------------------------------------------------


def parse_error_body(payload: Any) -> tuple[str | None, str | None]:
    """Find ``(code, message)`` in any error-body variant the reference lists (section 5.1).

    Accepts, in the SDK's order: ``error_code``/``error_msg``, ``errorCode``/``errorMsg``,
    ``code``/``message``, the gateway's ``error_code``/``error_message``, or any of these nested
    one level down. Returns ``(None, None)`` when nothing matches.
    """
    for obj in (payload, *payload.values()) if isinstance(payload, dict) else ():
        if not isinstance(obj, dict):
            continue
        # error_code needs no error_msg beside it: the gateway pairs it with error_message.
        for code_key, msg_key in (
            ("error_code", "error_msg"),
            ("errorCode", "errorMsg"),
            ("code", "message"),
        ):
            code = obj.get(code_key)
            if code is not None and (msg_key in obj or code_key == "error_code"):
                msg = obj.get(msg_key) or obj.get("error_message") or obj.get("error_msg")
                return str(code), None if msg is None else str(msg)
    return None, None
