"""The DCS API calls that only tests make: creating tasks, and the single-task stop.

The product never creates a task and stops tasks in batches (``batch-stop``), so these calls and
their models live here, not in ``pulumi_dcs_migration``. They go through a plain httpx client
signed with the product's :class:`~pulumi_dcs_migration.auth.AkSkAuth` (:func:`api_client`),
without retries: an error answer raises :class:`httpx.HTTPStatusError`.

    with api_client(sim) as http:
        task_id = create_task(http, CreateTaskBody(...)).id
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.errors import InvalidTaskIdError
from pulumi_dcs_migration.models import (
    BackupFiles,
    LenientStr,
    MigrationTask,
    WireModel,
    is_valid_task_id,
)

from ..server import RunningSimulator

# --- models -----------------------------------------------------------------------------------


class CreateOnlineTaskBody(WireModel):
    """Step 1 of an online migration: provision the migration VM."""

    name: str
    description: str | None = None
    vpc_id: str
    subnet_id: str | None = None
    security_group_id: str


class CreateOnlineTaskResponse(WireModel):
    """Answer of step 1 of an online migration."""

    instance_id: str  # named instance_id by the API, but it holds the migration task id


class ConfigInstance(WireModel):
    """A source or target instance in a create/configure body: a DCS id or ``ip:port`` addresses."""

    id: str | None = None
    addrs: str | None = None
    password: str | None = None


class ConfigureOnlineTaskBody(WireModel):
    """Step 2 of an online migration: what to migrate and how."""

    migration_method: str
    resume_mode: str | None = None
    bandwidth_limit_mb: LenientStr = None
    source_instance: ConfigInstance
    target_instance: ConfigInstance | None = None


class CreateTaskBody(WireModel):
    """Body of ``POST /v2/{project_id}/migration-task`` (backup import or one-step online)."""

    task_name: str
    description: str | None = None
    migration_type: str
    migration_method: str | None = None
    backup_files: BackupFiles | None = None
    network_type: str | None = None
    source_instance: ConfigInstance | None = None
    target_instance: ConfigInstance | None = None


class TaskCreatedResponse(WireModel):
    """Answer of the configure step and of create-task."""

    id: str
    name: LenientStr = None
    status: LenientStr = None


# --- calls ------------------------------------------------------------------------------------


def api_client(
    sim: RunningSimulator, auth: httpx.Auth | None = None, **kwargs: Any
) -> httpx.Client:
    """An httpx client for ``sim``'s project API (base URL ``{url}/v2/{project_id}``, to which
    httpx appends a path such as ``/migration-task``), signed with its keys unless ``auth`` is
    given."""
    cfg = sim.config
    auth = auth or AkSkAuth(cfg.access_key, cfg.secret_key, project_id=cfg.project_id)
    kwargs.setdefault("timeout", 30)
    return httpx.Client(base_url=f"{sim.url}/v2/{cfg.project_id}", auth=auth, **kwargs)


def create_online_task(http: httpx.Client, body: CreateOnlineTaskBody) -> str:
    """``POST /migration/instance``, step 1 of an online migration; returns the new task id."""
    data = _post(http, "/migration/instance", body)
    return CreateOnlineTaskResponse.model_validate(data).instance_id


def configure_online_task(
    http: httpx.Client, task_id: str, body: ConfigureOnlineTaskBody
) -> TaskCreatedResponse:
    """``POST /migration/{id}/task``, step 2 of an online migration: source, target and method."""
    data = _post(http, f"/migration/{_task_path(task_id)}/task", body)
    return TaskCreatedResponse.model_validate(data)


def create_task(http: httpx.Client, body: CreateTaskBody) -> TaskCreatedResponse:
    """``POST /migration-task``: a backup import or a one-step online migration."""
    return TaskCreatedResponse.model_validate(_post(http, "/migration-task", body))


def stop_task(http: httpx.Client, task_id: str) -> MigrationTask:
    """``POST /migration-task/{id}/stop``; the answer usually reads ``TERMINATING``."""
    data = _post(http, f"/migration-task/{_task_path(task_id)}/stop")
    return MigrationTask.model_validate(data)


def _task_path(task_id: str) -> str:
    """``task_id`` for a URL path; refused, as the product's client does, unless well formed."""
    if not is_valid_task_id(task_id):
        raise InvalidTaskIdError(task_id)
    return quote(task_id, safe="")


def _post(http: httpx.Client, path: str, body: WireModel | None = None) -> Any:
    """POST ``body`` (its ``None`` fields left out) to ``path``; the JSON answer, or raises."""
    json_body = None if body is None else body.model_dump(exclude_none=True)
    response = http.post(path, json=json_body)
    response.raise_for_status()
    return response.json()
