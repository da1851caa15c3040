"""``DcsClient``: one method per DCS migration-task call, with pagination, retries and errors.

It knows nothing about waiting (that is :mod:`.engine`). Retries use stamina: 429 (honouring
``Retry-After``), 5xx and connection failures are retried with exponential backoff and jitter,
bounded in attempts and time; other 4xx never are. Every request has a timeout. Task ids are
validated before they are put into a URL path.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import ssl
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import stamina
import stamina.instrumentation
from pydantic import BaseModel, ValidationError

from . import __version__
from .auth import parse_sdk_date
from .errors import (
    AuthenticationError,
    DcsApiError,
    DcsProtocolError,
    DcsTransportError,
    InvalidTaskIdError,
    ServerError,
    ThrottledError,
    api_error_class,
)
from .models import (
    MAX_PAGE_SIZE,
    BatchItemResult,
    BatchResultResponse,
    ConfigureOnlineTaskBody,
    CreateOnlineTaskBody,
    CreateOnlineTaskResponse,
    CreateTaskBody,
    DeleteTasksBody,
    ListMigrationTasksResponse,
    MigrationTask,
    MigrationTaskSummary,
    TaskCreatedResponse,
    TaskStatusPage,
    is_valid_task_id,
    parse_error_body,
)
from .redact import Scrubber
from .settings import ConnectionSettings, validate_endpoint, validate_project_id

ModelT = TypeVar("ModelT", bound=BaseModel)
_log = logging.getLogger("pulumi_dcs_migration")
INSECURE_WARNING = (
    "WARNING: TLS certificate verification is OFF for %s: anyone on the network path can read "
    "and change these requests. Use a CA bundle (HW_DCS_CA_BUNDLE) instead."
)

CLOCK_SKEW_WARNING = 5 * 60  # seconds; the gateway refuses signatures beyond 15 minutes
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # per request; retries add their own bound
MAX_ERROR_TEXT = 2000  # characters of a non-JSON error body kept in a message
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a larger answer is refused rather than buffered


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry a failed request (see module docstring for what is retried)."""

    attempts: int = 6
    timeout: float = 120.0  # total seconds across all attempts of one call
    wait_initial: float = 0.25
    wait_max: float = 15.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0  # a larger Retry-After is capped


def describe_retry(details: stamina.instrumentation.RetryDetails) -> str:
    """A readable line about one scheduled retry (stamina's default log record says nothing)."""
    cause = details.caused_by
    reason = f"HTTP {cause.status_code}" if isinstance(cause, DcsApiError) else type(cause).__name__
    return f"retrying a DCS call in {details.wait_for:.1f}s (attempt {details.retry_num + 1}) after {reason}"


def print_retries_to_stderr() -> None:
    """Make every retry of this process one readable stderr line (front ends call this)."""
    stamina.instrumentation.set_on_retry_hooks(
        [lambda details: print(describe_retry(details), file=sys.stderr, flush=True)]
    )


def retry_backoff(policy: RetryPolicy, *, idempotent: bool) -> Any:
    """A stamina backoff hook: ``False`` = don't retry, ``True`` = usual backoff, a number = wait."""

    def hook(exc: Exception) -> bool | float:
        if isinstance(exc, ThrottledError):
            if exc.retry_after is not None:
                return min(max(exc.retry_after, 0.0), policy.max_retry_after)
            return True
        if isinstance(exc, ServerError):
            return idempotent
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True  # the request never left: always safe to send again
        if isinstance(exc, httpx.TransportError):
            return idempotent  # it may have been processed; only resend what is safe to repeat
        return False

    return hook


def _task_path(task_id: str) -> str:
    if not is_valid_task_id(task_id):
        raise InvalidTaskIdError(task_id)
    return quote(task_id, safe="")


def _check_ids(task_ids: Sequence[str]) -> list[str]:
    ids = list(task_ids)
    for task_id in ids:
        if not is_valid_task_id(task_id):
            raise InvalidTaskIdError(task_id)
    return ids


class DcsClient:
    """A typed client of the DCS v2 migration-task API for one project.

    >>> from pulumi_dcs_migration.auth import AkSkAuth
    >>> client = DcsClient("https://dcs.cn-north-4.myhuaweicloud.com",
    ...                    "0a1b2c3d4e5f60718293a4b5c6d7e8f9", AkSkAuth("AK", "SK"))

    ``secrets`` are strings (keys, tokens) scrubbed from any server text that ends up in an error.
    ``verify`` is httpx's: ``True`` (default), a CA bundle path, or ``False`` (never by default).
    """

    def __init__(
        self,
        endpoint: str,
        project_id: str,
        auth: httpx.Auth,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        secrets: Sequence[str] = (),
        max_connections: int = 16,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.endpoint = validate_endpoint(endpoint)
        self.project_id = validate_project_id(project_id)
        self.retry = retry or RetryPolicy()
        self.max_response_bytes = max_response_bytes
        if verify is False:
            _log.warning(INSECURE_WARNING, self.endpoint)
        self._scrub = Scrubber(secrets)
        self._http = httpx.Client(
            base_url=f"{self.endpoint}/v2/{self.project_id}",
            auth=auth,
            timeout=timeout,
            transport=transport,
            verify=ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"User-Agent": f"pulumi-dcs-migration/{__version__}"},
        )

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, **kwargs: Any) -> DcsClient:
        """A client for resolved :class:`~.settings.ConnectionSettings`."""
        creds = settings.credentials
        kwargs.setdefault("verify", settings.verify)
        return cls(
            settings.endpoint,
            settings.project_id,
            creds.auth(settings.project_id),
            secrets=creds.secrets(),
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"DcsClient(endpoint={self.endpoint!r}, project_id={self.project_id!r})"

    def __enter__(self) -> DcsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (also done by leaving a ``with`` block)."""
        self._http.close()

    # --- calls --------------------------------------------------------------------------

    def list_tasks(
        self, *, offset: int = 0, limit: int = MAX_PAGE_SIZE, name: str | None = None
    ) -> ListMigrationTasksResponse:
        """One page of ``GET /migration-tasks`` (limit 1..1000)."""
        return self._list_page(offset, limit, name, ListMigrationTasksResponse)

    def list_task_statuses(self, *, offset: int = 0, limit: int = MAX_PAGE_SIZE) -> TaskStatusPage:
        """The same call as :meth:`list_tasks`, read for ids, names and statuses only (polling)."""
        return self._list_page(offset, limit, None, TaskStatusPage)

    def _list_page(self, offset: int, limit: int, name: str | None, model: type[ModelT]) -> ModelT:
        if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
            raise ValueError(f"limit must be 1..{MAX_PAGE_SIZE} and offset >= 0")
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if name:
            params["name"] = name
        data = self._call("list", "GET", "/migration-tasks", params=params)
        return self._parse("list", data, model)

    def iter_tasks(
        self, *, name: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[MigrationTaskSummary]:
        """Every task, across pages. A task seen twice (the list shifting under us) is yielded once."""
        seen: set[str] = set()
        offset = 0
        while True:
            page = self.list_tasks(offset=offset, limit=page_size, name=name)
            for task in page.migration_tasks:
                if task.task_id not in seen:
                    seen.add(task.task_id)
                    yield task
            offset += len(page.migration_tasks)
            if not page.migration_tasks or offset >= page.count:
                return

    def get_task(self, task_id: str) -> MigrationTask:
        """``GET /migration-task/{id}``; raises :class:`~.errors.TaskNotFoundError` if unknown."""
        data = self._call("show task", "GET", f"/migration-task/{_task_path(task_id)}")
        return self._parse("show task", data, MigrationTask)

    def batch_stop(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        """``POST /migration-task/batch-stop``: hand over stop requests; results per task."""
        body = {"migration_tasks": _check_ids(task_ids)}
        data = self._call("batch stop", "POST", "/migration-task/batch-stop", json_body=body)
        return self._parse("batch stop", data, BatchResultResponse).migration_tasks

    def stop_task(self, task_id: str) -> MigrationTask:
        """``POST /migration-task/{id}/stop``; the answer usually reads ``TERMINATING``."""
        data = self._call("stop task", "POST", f"/migration-task/{_task_path(task_id)}/stop")
        return self._parse("stop task", data, MigrationTask)

    def batch_restart(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        """``POST /migration-tasks/batch-restart`` (online tasks; at most 50 per call)."""
        body = {"migration_tasks": _check_ids(task_ids)}
        data = self._call("batch restart", "POST", "/migration-tasks/batch-restart", json_body=body)
        return self._parse("batch restart", data, BatchResultResponse).migration_tasks

    def delete_tasks(self, task_ids: Sequence[str]) -> list[str]:
        """``DELETE /migration-tasks/delete``: delete task records; returns the echoed ids."""
        body = {"task_id_list": _check_ids(task_ids)}
        data = self._call("delete tasks", "DELETE", "/migration-tasks/delete", json_body=body)
        return self._parse("delete tasks", data, DeleteTasksBody).task_id_list

    def create_online_task(self, body: CreateOnlineTaskBody) -> str:
        """Step 1 of an online migration; returns the new task id."""
        data = self._call(
            "create online task",
            "POST",
            "/migration/instance",
            json_body=body.model_dump(exclude_none=True),
            idempotent=False,
        )
        return self._parse("create online task", data, CreateOnlineTaskResponse).instance_id

    def configure_online_task(
        self, task_id: str, body: ConfigureOnlineTaskBody
    ) -> TaskCreatedResponse:
        """Step 2 of an online migration: source, target and method."""
        data = self._call(
            "configure online task",
            "POST",
            f"/migration/{_task_path(task_id)}/task",
            json_body=body.model_dump(exclude_none=True),
            idempotent=False,
        )
        return self._parse("configure online task", data, TaskCreatedResponse)

    def create_task(self, body: CreateTaskBody) -> TaskCreatedResponse:
        """``POST /migration-task``: a backup import or a one-step online migration."""
        data = self._call(
            "create task",
            "POST",
            "/migration-task",
            json_body=body.model_dump(exclude_none=True),
            idempotent=False,
        )
        return self._parse("create task", data, TaskCreatedResponse)

    # --- plumbing -----------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
    ) -> Any:
        policy = self.retry
        content = None
        headers = {"Content-Type": "application/json"}
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json;charset=UTF-8"
        try:
            for attempt in stamina.retry_context(
                on=retry_backoff(policy, idempotent=idempotent),
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    return self._send_once(operation, method, path, params, content, headers)
        except httpx.TimeoutException as exc:
            raise DcsTransportError(operation, f"timed out: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise DcsTransportError(
                operation, self._scrub(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_TEXT]
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        operation: str,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
    ) -> Any:
        request = self._http.build_request(
            method, path, params=params, content=content, headers=headers
        )
        response = self._http.send(request, stream=True)
        try:
            body = self._read_limited(operation, response)
        finally:
            response.close()
        if response.status_code >= 400:
            raise self._api_error(operation, response, body)
        if response.status_code == 204 or not body.strip():
            return {}
        try:
            return json.loads(body)
        except ValueError:
            raise DcsProtocolError(
                operation, "the body is not valid JSON", response.headers.get("X-Request-Id")
            ) from None

    def _read_limited(self, operation: str, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise DcsProtocolError(
                    operation, f"the answer is larger than {self.max_response_bytes} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _api_error(self, operation: str, response: httpx.Response, body: bytes) -> DcsApiError:
        code: str | None = None
        message: str | None = None
        with contextlib.suppress(ValueError, RecursionError):
            code, message = parse_error_body(json.loads(body))
        if code is None and message is None:
            message = body.decode("utf-8", "replace").strip() or response.reason_phrase or None
        # Scrub every part before anything is cut to length or shown (see redact).
        request_id = response.headers.get("X-Request-Id")
        code, message, request_id = (
            self._scrub(v)[:MAX_ERROR_TEXT] if v is not None else None
            for v in (code, message, request_id)
        )
        cls = api_error_class(response.status_code, code)
        note = None
        skew = _clock_skew(response) if cls is AuthenticationError else None
        if skew is not None and abs(skew) > CLOCK_SKEW_WARNING:
            note = _describe_skew(skew)
        error = cls(operation, response.status_code, code, message, request_id, note=note)
        if isinstance(error, ThrottledError):
            error.retry_after = _retry_after(response.headers.get("Retry-After"))
        if isinstance(error, AuthenticationError):
            error.clock_skew = skew
        return error

    def _parse(self, operation: str, data: Any, model: type[ModelT]) -> ModelT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise DcsProtocolError(
                operation, f"unexpected shape at {where}: {first.get('msg')}"
            ) from None


def _clock_skew(response: httpx.Response) -> float | None:
    """Seconds the server's clock is ahead of the date we signed with (None if unknown)."""
    signed = response.request.headers.get("X-Sdk-Date") if response.request else None
    served = response.headers.get("Date")
    if not signed or not served:
        return None
    try:
        ours = parse_sdk_date(signed)
        theirs = email.utils.parsedate_to_datetime(served)
    except (TypeError, ValueError):
        return None
    return (theirs - ours).total_seconds()


def _describe_skew(skew: float) -> str:
    direction = "behind" if skew > 0 else "ahead of"
    return (
        f"This machine's clock is {abs(skew) / 60:.1f} minutes {direction} the API's; signatures "
        "are refused beyond 15 minutes: fix the clock (NTP)."
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; an HTTP date is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
