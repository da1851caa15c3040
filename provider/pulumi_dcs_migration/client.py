"""``DcsClient``: one method per DCS migration-task call, with pagination, retries and errors.

It knows nothing about waiting (that is :mod:`.engine`). Retries use stamina: 429 (honouring
``Retry-After``), 5xx and connection failures are retried with exponential backoff and jitter,
bounded in attempts and time; other 4xx never are. Inside a deadline, a 429 is retried until the
deadline (it says "later", not "no"); the attempts bound the other failures. Every request has a
timeout. Task ids are validated before they are put into a URL path.

A client made from settings takes every request's turn from the :class:`~.budget.RequestBudget`
of its endpoint and project (adaptive to 429s, shared by every such client of the process and
by this user's other processes on the machine; stops before looks); :meth:`DcsClient.pace`
tells a poller when a look could be served.

The server is not trusted:

* a deadline (:meth:`DcsClient.deadline`) bounds everything done inside it, retries, waits for
  ``Retry-After``, list paging and every socket read (a server trickling one byte at a time
  cannot hold a call past it);
* an answer is refused, not buffered, beyond :data:`MAX_RESPONSE_BYTES` or
  :data:`MAX_JSON_VALUES`, or nested deeper than :data:`MAX_JSON_DEPTH`; a listing stops at
  :data:`MAX_LIST_PAGES` pages, or when a page brings no new task (``count`` is a hint);
* a redirect, or an answer without the documented shape, is a :class:`~.errors.DcsProtocolError`,
  never an empty result;
* known secrets are scrubbed from every string of every answer and every part of an error,
  before anything is cut to length;
* a plain-http (loopback) endpoint never goes through a proxy from the environment.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import json
import logging
import math
import random
import ssl
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpcore
import httpx
import stamina
import stamina.instrumentation
from pydantic import BaseModel, ValidationError

from . import __version__
from .auth import parse_sdk_date
from .budget import Grant, Priority, RequestBudget, shared_budget
from .errors import (
    AuthenticationError,
    DcsApiError,
    DcsError,
    DcsProtocolError,
    DcsTransportError,
    DeadlineExceeded,
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
    MigrationTaskStats,
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
MAX_ERROR_BODY = 64 * 1024  # bytes of an error answer read at all (the rest is dropped)

# What one answer may hold. A full list page (1,000 tasks, every field) is about 1.5 MB and
# 50,000 values; these leave room for ten times that, and keep the memory a hostile answer can
# cost (the bytes, their text, the parsed values) well under 300 MB.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a larger answer is refused rather than buffered
MAX_JSON_VALUES = 250_000  # JSON separators and containers (, : { [) in one answer
MAX_JSON_DEPTH = 32  # nesting of arrays and objects; the API's answers nest 4 deep

# What one listing (every page of ``list``) may hold: the pages are kept until printed. A
# listing of 30,000 tasks with every field fits; a hostile one costs at most about 200 MB.
MAX_LIST_PAGES = 30  # 30,000 tasks at 1,000 a page
MAX_LIST_BYTES = 32 * 1024 * 1024
MAX_LIST_VALUES = 1_500_000


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


@dataclass
class CallBudget:
    """The time one call may take: until ``at`` (``time.monotonic()``), or unbounded (``None``).

    ``cut`` says why a retry was not made because it could not finish in time.
    """

    at: float | None = None
    started: float = field(default_factory=time.monotonic)
    cut: str | None = None

    @property
    def seconds(self) -> float:
        """The time the call had when it started."""
        return math.inf if self.at is None else self.at - self.started

    def left(self) -> float:
        """Seconds until the deadline (``inf`` without one; zero or less once it passed)."""
        return math.inf if self.at is None else self.at - time.monotonic()


def retry_backoff(
    policy: RetryPolicy, *, idempotent: bool, budget: CallBudget | None = None
) -> Any:
    """A stamina backoff hook: ``False`` = don't retry, ``True`` = usual backoff, a number = wait.

    With a ``budget`` that has a deadline, every retry's wait is a number, and a retry whose wait
    would reach the deadline (a ``Retry-After: 60`` with 3 seconds left) is not made: the call
    ends at once and ``budget.cut`` says why. There, ``policy.attempts`` bounds the failures other
    than 429 only: a throttled request is retried for as long as the deadline allows.
    """
    retries = 0
    others = 0  # failures other than 429 so far

    def decide(exc: Exception) -> bool | float:
        if isinstance(exc, ThrottledError):
            if exc.retry_after is not None:
                return min(max(exc.retry_after, 0.0), policy.max_retry_after)
            return True
        if isinstance(exc, ServerError):
            return idempotent
        if _certificate_refused(exc):
            return False  # a certificate that fails verification fails again: say so now
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True  # the request never left: always safe to send again
        if isinstance(exc, httpx.TransportError):
            return idempotent  # it may have been processed; only resend what is safe to repeat
        return False

    def hook(exc: Exception) -> bool | float:
        nonlocal retries, others
        decision = decide(exc)
        if decision is False or budget is None or budget.at is None:
            return decision
        if not isinstance(exc, ThrottledError):
            others += 1
            if others >= policy.attempts:
                return False
        retries += 1
        wait = _backoff(policy, retries) if decision is True else float(decision)
        left = budget.left()
        if isinstance(exc, ThrottledError) and decision is not True and wait < left:
            # Retried until the deadline: a Retry-After shorter than the backoff (0 from a
            # hostile server) must not turn into a tight loop; the backoff only as far as fits.
            wait = max(wait, min(_backoff(policy, retries), left / 2))
        if wait >= left:
            budget.cut = _why_cut(exc, wait, left)
            return False
        return wait

    return hook


def _certificate_refused(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a failed TLS certificate verification."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _backoff(policy: RetryPolicy, retry: int) -> float:
    """stamina's exponential backoff with jitter, computed here to compare it with the time left."""
    jitter = random.uniform(0, policy.wait_jitter) if policy.wait_jitter else 0.0
    try:
        return min(policy.wait_max, policy.wait_initial * 2.0 ** (retry - 1) + jitter)
    except OverflowError:
        return policy.wait_max


def _why_cut(exc: Exception, wait: float, left: float) -> str:
    """Why a failed attempt was not retried: the retry could not end before the deadline."""
    if left <= 0 and isinstance(exc, httpx.TimeoutException):
        return "the answer did not arrive in time"
    if isinstance(exc, ThrottledError) and exc.retry_after is not None:
        return (
            f"the API answered HTTP 429 and asked to retry after {exc.retry_after:g}s, "
            f"more than the {max(left, 0.0):.1f}s left"
        )
    reason = f"HTTP {exc.status_code}" if isinstance(exc, DcsApiError) else type(exc).__name__
    return f"{reason}, and a retry in {wait:.1f}s would not end before the deadline"


# --- the deadline of every socket operation ---------------------------------------------------

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "dcs_deadline", default=None
)
"""The deadline (``time.monotonic()``) of the request this thread is sending, if any."""


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the current deadline; raises once past it."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, its connections bounded by the deadline (:data:`_DEADLINE`)."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _capped(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _capped(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _bound_by_deadline(http: httpx.Client) -> None:
    """Make every socket operation of ``http`` end by the calling request's deadline.

    httpx's timeouts bound each read, not a whole answer: a server sending a byte a second (in
    its headers or its body) holds a request for as long as it likes. This wraps the network
    backend of each connection pool of the client (the default one and the proxies' from the
    environment); httpx 0.28 / httpcore 1.x keep it in ``_pool._network_backend``. Should that
    ever move, the per-request timeouts capped at the time left and the clock checks between
    body chunks still apply (and tests/hostile notices).
    """
    transports = [getattr(http, "_transport", None), *getattr(http, "_mounts", {}).values()]
    for transport in transports:
        pool: Any = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(
            backend, _DeadlineBackend
        ):
            pool._network_backend = _DeadlineBackend(backend)


@dataclass
class _Allowance:
    """What every page of one listing may hold in all, and has used so far."""

    what: str  # how messages name it: "the task list"
    max_bytes: int
    max_values: int
    used_bytes: int = 0
    used_values: int = 0

    def limit(
        self, what: str, per_answer: int, used: int, total: int, verb: str = "holds more than"
    ) -> tuple[int, str]:
        """The tighter of one answer's limit and this listing's remainder, and how to name it."""
        if total - used < per_answer:
            return total - used, f"{self.what} {verb} {total} {what} in all"
        return per_answer, f"the answer {verb} {per_answer} {what}"


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
    Proxies from the environment (``HTTPS_PROXY``...) apply to an https endpoint; a plain-http
    endpoint (loopback only) is always reached directly, so that signed requests and tokens never
    cross a proxy in clear text.
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
        budget: RequestBudget | None = None,
    ) -> None:
        self.endpoint = validate_endpoint(endpoint)
        self.project_id = validate_project_id(project_id)
        self.retry = retry or RetryPolicy()
        # Every request takes its turn from ``budget`` (from_settings: the process's shared one);
        # without one, requests are not paced (only a 429's Retry-After is waited for).
        self.budget = budget
        self.max_response_bytes = max_response_bytes
        if verify is False:
            _log.warning(INSECURE_WARNING, self.endpoint)
        self._scrub = Scrubber(secrets)
        self._deadline: float | None = None
        self._http = httpx.Client(
            base_url=f"{self.endpoint}/v2/{self.project_id}",
            auth=auth,
            timeout=timeout,
            transport=transport,
            verify=ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"User-Agent": f"pulumi-dcs-migration/{__version__}"},
            follow_redirects=False,  # a redirect would carry signed requests elsewhere
            trust_env=httpx.URL(self.endpoint).scheme == "https",
        )
        _bound_by_deadline(self._http)

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, **kwargs: Any) -> DcsClient:
        """A client for resolved :class:`~.settings.ConnectionSettings`, taking its turns from
        the process's request budget of that endpoint and project (:func:`~.budget.shared_budget`)."""
        creds = settings.credentials
        kwargs.setdefault("verify", settings.verify)
        if "budget" not in kwargs:
            kwargs["budget"] = shared_budget(
                settings.endpoint, settings.project_id, settings.max_requests_per_second
            )
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

    @contextlib.contextmanager
    def deadline(self, at: float | None) -> Iterator[None]:
        """Bound every call made inside the block by ``at`` (a ``time.monotonic()`` instant).

        Retries, ``Retry-After`` waits, list paging and every socket read end by then; a call
        that cannot answer in time raises :class:`~.errors.DeadlineExceeded` (a retry that
        could not finish in time is not even started). An earlier deadline already in force
        wins; ``None`` adds none. The deadline belongs to the client, not the thread: calls
        made from worker threads inside the block (the engine's) are bounded too.
        """
        before = self._deadline
        if at is not None:
            self._deadline = at if before is None else min(before, at)
        try:
            yield
        finally:
            self._deadline = before

    def pace(self, requests: int, interval: float) -> float:
        """Seconds from now to a poller's next look of ``requests`` requests: ``interval``, or
        longer when the request budget could not serve the look sooner (see
        :meth:`~.budget.RequestBudget.pace`). Without a budget, ``interval``."""
        if self.budget is None:
            return interval
        return self.budget.pace(requests, interval)

    # --- calls --------------------------------------------------------------------------

    def list_tasks(
        self, *, offset: int = 0, limit: int = MAX_PAGE_SIZE, name: str | None = None
    ) -> ListMigrationTasksResponse:
        """One page of ``GET /migration-tasks`` (limit 1..1000)."""
        return self._list_page(offset, limit, name, ListMigrationTasksResponse)

    def list_task_statuses(self, *, offset: int = 0, limit: int = MAX_PAGE_SIZE) -> TaskStatusPage:
        """The same call as :meth:`list_tasks`, read for ids, names and statuses only (polling)."""
        return self._list_page(offset, limit, None, TaskStatusPage)

    def _list_page(
        self,
        offset: int,
        limit: int,
        name: str | None,
        model: type[ModelT],
        allowance: _Allowance | None = None,
    ) -> ModelT:
        if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
            raise ValueError(f"limit must be 1..{MAX_PAGE_SIZE} and offset >= 0")
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if name:
            params["name"] = name
        data = self._call("list", "GET", "/migration-tasks", params=params, allowance=allowance)
        _check_list_shape(data, limit)
        page = self._parse("list", data, model)
        if getattr(page, "count", 0) < 0:
            raise DcsProtocolError("list", "unexpected shape at count: a negative number of tasks")
        return page

    def iter_tasks(
        self,
        *,
        name: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        max_pages: int = MAX_LIST_PAGES,
    ) -> Iterator[MigrationTaskSummary]:
        """Every task, across pages. A task seen twice (the list shifting under us) is yielded once.

        Paging ends at a short or empty page, at the ``count`` the API gave, or at a page that
        brings no new task (``count`` is a hint: a server claiming a billion tasks costs one
        page more). A list that goes on past ``max_pages`` pages, or past
        :data:`MAX_LIST_BYTES` / :data:`MAX_LIST_VALUES` in all, raises
        :class:`~.errors.DcsProtocolError` rather than growing without bound.
        """
        seen: set[str] = set()
        offset = 0
        allowance = _Allowance("the task list", MAX_LIST_BYTES, MAX_LIST_VALUES)
        count = 0
        for _ in range(max_pages):
            page = self._list_page(offset, page_size, name, ListMigrationTasksResponse, allowance)
            count = page.count
            new = 0
            for task in page.migration_tasks:
                if task.task_id not in seen:
                    seen.add(task.task_id)
                    new += 1
                    yield task
            offset += len(page.migration_tasks)
            if len(page.migration_tasks) < page_size or offset >= page.count or not new:
                return
        raise DcsProtocolError(
            "list",
            f"the list did not end after {max_pages} pages ({len(seen)} tasks so far; the API "
            f"counted {count}); narrow it down with a name filter",
        )

    def get_task(self, task_id: str) -> MigrationTask:
        """``GET /migration-task/{id}``; raises :class:`~.errors.TaskNotFoundError` if unknown."""
        data = self._call("show task", "GET", f"/migration-task/{_task_path(task_id)}")
        return self._parse("show task", data, MigrationTask)

    def get_stats(self, task_id: str) -> MigrationTaskStats:
        """``GET /migration-task/{id}/stats``: progress, and ``offset``, the incremental lag."""
        path = f"/migration-task/{_task_path(task_id)}/stats"
        return self._parse("task stats", self._call("task stats", "GET", path), MigrationTaskStats)

    def batch_stop(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        """``POST /migration-task/batch-stop``: hand over stop requests; results per task."""
        body = {"migration_tasks": _check_ids(task_ids)}
        data = self._call("batch stop", "POST", "/migration-task/batch-stop", json_body=body)
        _check_batch_shape("batch stop", data)
        return self._parse("batch stop", data, BatchResultResponse).migration_tasks

    def stop_task(self, task_id: str) -> MigrationTask:
        """``POST /migration-task/{id}/stop``; the answer usually reads ``TERMINATING``."""
        data = self._call("stop task", "POST", f"/migration-task/{_task_path(task_id)}/stop")
        return self._parse("stop task", data, MigrationTask)

    def batch_restart(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        """``POST /migration-tasks/batch-restart`` (online tasks; at most 50 per call)."""
        body = {"migration_tasks": _check_ids(task_ids)}
        data = self._call("batch restart", "POST", "/migration-tasks/batch-restart", json_body=body)
        _check_batch_shape("batch restart", data)
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
        allowance: _Allowance | None = None,
    ) -> Any:
        policy = self.retry
        budget = CallBudget(self._deadline)
        if budget.left() <= 0:
            raise DeadlineExceeded(operation, 0.0)
        content = None
        headers = {"Content-Type": "application/json"}
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json;charset=UTF-8"
        # Inside a deadline the deadline bounds the retries (and the hook the non-429 attempts).
        bounded = budget.at is None
        priority = Priority.LOOK if method == "GET" else Priority.ACT
        try:
            for attempt in stamina.retry_context(
                on=retry_backoff(policy, idempotent=idempotent, budget=budget),
                attempts=policy.attempts if bounded else None,
                timeout=policy.timeout if bounded else None,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    grant = self._take_turn(operation, priority, budget)
                    try:
                        result = self._send_once(
                            operation, method, path, params, content, headers, budget, allowance
                        )
                    except ThrottledError as exc:
                        self._throttled(grant, exc)
                        raise
                    if grant is not None and self.budget is not None:
                        self.budget.succeeded(grant)
                    return result
        except (DcsError, httpx.TransportError) as exc:
            raise self._failure(operation, exc, budget) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _take_turn(self, operation: str, priority: Priority, budget: CallBudget) -> Grant | None:
        """This attempt's turn from the request budget (``None`` without one); raises
        :class:`~.errors.DeadlineExceeded` when the turn could not come before the deadline."""
        if self.budget is None:
            return None
        grant = self.budget.acquire(priority, None if budget.at is None else budget.left())
        if grant is None:
            raise DeadlineExceeded(
                operation,
                budget.seconds,
                "its turn in the request budget (the requests-per-second ceiling, lower while "
                "the API throttles) would come after the deadline",
            )
        return grant

    def _throttled(self, grant: Grant | None, exc: ThrottledError) -> None:
        """Tell the budget: every request of the process waits out the Retry-After (capped)."""
        if grant is None or self.budget is None:
            return
        after = exc.retry_after
        self.budget.throttled(
            grant, None if after is None else min(after, self.retry.max_retry_after)
        )

    def _failure(
        self, operation: str, exc: DcsError | httpx.TransportError, budget: CallBudget
    ) -> DcsError:
        """The error a failed call raises, once retries are over."""
        if isinstance(exc, DeadlineExceeded):
            return exc
        if budget.cut is not None:
            return DeadlineExceeded(operation, budget.seconds, budget.cut)
        if isinstance(exc, DcsError):
            return exc
        if budget.left() <= 0:
            return DeadlineExceeded(operation, budget.seconds, "the answer did not arrive in time")
        if isinstance(exc, httpx.TimeoutException):
            return DcsTransportError(operation, f"timed out: {type(exc).__name__}")
        return DcsTransportError(
            operation, self._scrub(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_TEXT]
        )

    def _send_once(
        self,
        operation: str,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
        budget: CallBudget,
        allowance: _Allowance | None,
    ) -> Any:
        left = budget.left()
        if left <= 0:
            raise DeadlineExceeded(operation, budget.seconds)
        request = self._http.build_request(
            method,
            path,
            params=params,
            content=content,
            headers=headers,
            timeout=self._timeout_within(left),
        )
        token = _DEADLINE.set(budget.at)
        try:
            response = self._http.send(request, stream=True)
            try:
                status = response.status_code
                if 300 <= status < 400 or status < 200:
                    raise self._unexpected_status(operation, response)
                if status >= 400:
                    body = self._read_limited(operation, response, budget, MAX_ERROR_BODY, cut=True)
                    raise self._api_error(operation, response, body)
                limit, what = self.max_response_bytes, ""
                if allowance is not None:
                    limit, what = allowance.limit(
                        "bytes",
                        limit,
                        allowance.used_bytes,
                        allowance.max_bytes,
                        verb="is larger than",
                    )
                body = self._read_limited(operation, response, budget, limit, what=what)
            finally:
                response.close()
        finally:
            _DEADLINE.reset(token)
        if allowance is not None:
            allowance.used_bytes += len(body)
        if status == 204 or not body or body.isspace():
            return {}
        request_id = response.headers.get("X-Request-Id")
        return self._decode(
            operation, body, self._scrub(request_id) if request_id else None, allowance
        )

    def _timeout_within(self, left: float) -> httpx.Timeout:
        """The client's timeouts, none longer than the time ``left`` before the deadline."""
        t = self._http.timeout

        def cap(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=cap(t.connect), read=cap(t.read), write=cap(t.write), pool=cap(t.pool)
        )

    def _read_limited(
        self,
        operation: str,
        response: httpx.Response,
        budget: CallBudget,
        limit: int,
        *,
        cut: bool = False,
        what: str = "",
    ) -> bytes:
        """The body, at most ``limit`` bytes: beyond it refused with ``what`` (or, with ``cut``,
        dropped). The clock is checked between chunks: the deadline holds for a slow body too."""
        what = what or f"the answer is larger than {limit} bytes"
        declared = response.headers.get("Content-Length", "")
        if not cut and declared.isdigit() and int(declared) > limit:
            raise DcsProtocolError(operation, what)
        body = bytearray()
        for chunk in response.iter_bytes():
            if budget.left() <= 0:
                raise DeadlineExceeded(operation, budget.seconds, "the answer was still arriving")
            if len(body) + len(chunk) > limit:
                if cut:
                    body += chunk[: limit - len(body)]
                    break
                raise DcsProtocolError(operation, what)
            body += chunk
        return bytes(body)

    def _decode(
        self, operation: str, body: bytes, request_id: str | None, allowance: _Allowance | None
    ) -> Any:
        """JSON from a success body, within the allowance of values and nesting; secrets scrubbed.

        The values are counted (a byte count of ``, : { [``) before anything is parsed, so an
        answer of a million empty objects is refused instead of costing a gigabyte.
        """
        containers = body.count(b"{") + body.count(b"[")
        values = containers + body.count(b",") + body.count(b":")
        limit, what = MAX_JSON_VALUES, f"the answer holds more than {MAX_JSON_VALUES} JSON values"
        if allowance is not None:
            limit, what = allowance.limit(
                "JSON values", limit, allowance.used_values, allowance.max_values
            )
            allowance.used_values += values
        if values > limit:
            raise DcsProtocolError(operation, what, request_id)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise DcsProtocolError(operation, "the body is not UTF-8 text", request_id) from None
        try:
            data = json.loads(text)
        except RecursionError:
            raise DcsProtocolError(operation, "the JSON is nested too deeply", request_id) from None
        except ValueError:
            raise DcsProtocolError(operation, "the body is not valid JSON", request_id) from None
        # Scrub only when a secret could be there: written out, or hidden behind an escape.
        scrub = (
            self._scrub if self._scrub and ("\\" in text or self._scrub.found_in(text)) else None
        )
        del text
        if scrub is None and containers <= MAX_JSON_DEPTH:
            return data  # nothing to scrub, and too few brackets to nest too deep
        try:
            return _walk_json(data, scrub, MAX_JSON_DEPTH)
        except _TooDeep:
            raise DcsProtocolError(
                operation, f"the JSON is nested more than {MAX_JSON_DEPTH} deep", request_id
            ) from None

    def _unexpected_status(self, operation: str, response: httpx.Response) -> DcsProtocolError:
        """A redirect (or an informational status) where an answer was due."""
        status = response.status_code
        location = response.headers.get("Location")
        request_id = response.headers.get("X-Request-Id")
        request_id = self._scrub(request_id) if request_id else None
        if 300 <= status < 400:
            where = ""
            if location:
                try:
                    host = httpx.URL(location).host
                except (httpx.InvalidURL, ValueError, TypeError):
                    host = ""
                where = f" to {self._scrub(host)}" if host else " to another path of this host"
            return DcsProtocolError(
                operation,
                f"HTTP {status} redirect{where}: the DCS API does not redirect, and a redirect "
                "is never followed (it would carry signed requests elsewhere); check the endpoint",
                request_id,
            )
        return DcsProtocolError(operation, f"HTTP {status} is not an answer", request_id)

    def _api_error(self, operation: str, response: httpx.Response, body: bytes) -> DcsApiError:
        code: str | None = None
        message: str | None = None
        if body.count(b",") + body.count(b":") + body.count(b"{") + body.count(b"[") < 10_000:
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
                operation, self._scrub(f"unexpected shape at {where}: {first.get('msg')}")
            ) from None
        except (ValueError, TypeError, RecursionError) as exc:
            raise DcsProtocolError(operation, f"unexpected shape: {type(exc).__name__}") from None


class _TooDeep(Exception):
    """JSON nested deeper than allowed."""


def _walk_json(data: Any, scrub: Callable[[str], str] | None, max_depth: int) -> Any:
    """``data`` with its nesting checked (without recursion) and, given ``scrub``, every string
    (values and keys) scrubbed in place. Raises :class:`_TooDeep`."""
    if isinstance(data, str):
        return scrub(data) if scrub else data
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _TooDeep
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
        if scrub is not None:
            _scrub_container(node, scrub)
    return data


def _scrub_container(node: dict[str, Any] | list[Any], scrub: Callable[[str], str]) -> None:
    """Scrub the strings directly in ``node`` (its values, and an object's keys)."""
    if isinstance(node, list):
        node[:] = [scrub(v) if isinstance(v, str) else v for v in node]
        return
    for key, value in node.items():
        if isinstance(value, str):
            node[key] = scrub(value)
    for key in [k for k in node if scrub(k) != k]:
        node[scrub(key)] = node.pop(key)


def _check_list_shape(data: Any, limit: int) -> None:
    """A list page has ``count`` and a ``migration_tasks`` array of at most ``limit`` tasks."""
    _check_shape("list", data, "migration_tasks", list, "an array of tasks")
    _check_shape("list", data, "count", object, "the number of tasks")
    items = len(data["migration_tasks"])
    if items > limit:
        raise DcsProtocolError("list", f"a page of {items} tasks answers a request for {limit}")


def _check_batch_shape(operation: str, data: Any) -> None:
    """A batch answer has a ``migration_tasks`` array (an empty answer is no success)."""
    _check_shape(operation, data, "migration_tasks", list, "an array of results")


def _check_shape(operation: str, data: Any, key: str, kind: type, meaning: str) -> None:
    """``data`` is an object whose ``key`` holds a ``kind``: a documented field, not a default."""
    if not isinstance(data, dict):
        raise DcsProtocolError(operation, "unexpected shape: the answer is not a JSON object")
    value = data.get(key)
    if value is None:
        raise DcsProtocolError(operation, f"unexpected shape at {key}: missing ({meaning})")
    if not isinstance(value, kind):
        raise DcsProtocolError(
            operation, f"unexpected shape at {key}: a {type(value).__name__}, not {meaning}"
        )


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
