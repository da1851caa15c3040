"""``DcsClient``: one method per DCS migration-task call, with pagination and typed errors.

It knows nothing about waiting for tasks (that is :mod:`.engine`), and nothing about when to
send or resend a request: every call runs under the client's :class:`~.policy.RequestPolicy`
(retries, the deadline, the rate limit). Task ids are validated before they are put into a URL
path.

The server is not trusted:

* a deadline (:meth:`DcsClient.deadline`) bounds everything done inside it, retries, waits for
  ``Retry-After``, list paging and every socket read (:mod:`.transport`: a server trickling one
  byte at a time cannot hold a call past it);
* an answer is refused, not buffered, beyond :data:`MAX_RESPONSE_BYTES` or
  :data:`MAX_JSON_VALUES`, or nested deeper than :data:`MAX_JSON_DEPTH`; a listing stops at
  :data:`MAX_LIST_PAGES` pages, or when a page brings no new task (``count`` is a hint);
* a redirect, or an answer without the documented shape, is a :class:`~.errors.DcsProtocolError`,
  never an empty result;
* every string the server sent (every key and value of an answer, an error's code, message and
  request id, a redirect's host, the text of a transport failure) is made safe here, where it
  enters the product: known secrets scrubbed, then control characters (terminal escapes, bidi
  overrides, newlines) made visible as ``\x1b``-style escapes (:func:`~.redact.one_line`), so
  no front end can print it raw; nothing is cut to length before that;
* a plain-http (loopback) endpoint never goes through a proxy from the environment.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import ssl
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from . import __version__
from .auth import MAX_CLOCK_SKEW, parse_sdk_date
from .clock import SYSTEM_CLOCK, Clock
from .errors import (
    AuthenticationError,
    DcsApiError,
    DcsProtocolError,
    DcsTransportError,
    InvalidTaskIdError,
    ThrottledError,
    api_error_class,
)
from .models import (
    MAX_PAGE_SIZE,
    BatchItemResult,
    BatchResultResponse,
    DeleteTasksBody,
    ListMigrationTasksResponse,
    MigrationTask,
    MigrationTaskStats,
    MigrationTaskSummary,
    TaskStatusPage,
    is_valid_task_id,
    parse_error_body,
)
from .policy import Deadline, RequestPolicy, RetryPolicy
from .ratelimit import Priority, RateLimiter, shared_limiter
from .redact import Scrubber, needs_escaping, one_line
from .settings import ConnectionSettings, validate_endpoint, validate_project_id
from .transport import DeadlineTransport, environment_proxy

ModelT = TypeVar("ModelT", bound=BaseModel)
_log = logging.getLogger("pulumi_dcs_migration")
INSECURE_WARNING = (
    "WARNING: TLS certificate verification is OFF for %s: certificates are NOT verified, so "
    "anyone on the network path can read and change these requests. Use a CA bundle "
    "(HW_DCS_CA_BUNDLE, --ca-bundle, caBundle) instead."
)
"""The one warning about ``verify=False``, logged once per client (front ends show it)."""

CLOCK_SKEW_WARNING = MAX_CLOCK_SKEW.total_seconds() / 3  # worth naming in a 401 (not refused)
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


@dataclass
class _Allowance:
    """What every page of one listing may hold in all, per unit (``bytes``, ``JSON values``),
    and has used so far; the allowance of a single answer has no totals."""

    what: str = ""  # how messages name it: "the task list"
    total: dict[str, int] = field(default_factory=dict)
    used: Counter[str] = field(default_factory=Counter)

    def limit(self, unit: str, per_answer: int, verb: str = "holds more than") -> tuple[int, str]:
        """The tighter of one answer's limit and this listing's remainder, and how to name it."""
        total = self.total.get(unit)
        if total is not None and total - self.used[unit] < per_answer:
            return total - self.used[unit], f"{self.what} {verb} {total} {unit} in all"
        return per_answer, f"the answer {verb} {per_answer} {unit}"


def _checked(task_id: str) -> str:
    if not is_valid_task_id(task_id):
        raise InvalidTaskIdError(task_id)
    return task_id


def _task_path(task_id: str) -> str:
    return quote(_checked(task_id), safe="")


class DcsClient:
    """A typed client of the DCS v2 migration-task API for one project.

    >>> from pulumi_dcs_migration.auth import AkSkAuth
    >>> client = DcsClient("https://dcs.cn-north-4.myhuaweicloud.com",
    ...                    "0a1b2c3d4e5f60718293a4b5c6d7e8f9", AkSkAuth("AK", "SK"))

    ``secrets`` are strings (keys, tokens) scrubbed from any server text that ends up in an error.
    ``verify`` is httpx's: ``True`` (default), a CA bundle path, or ``False`` (never by default).
    Proxies come from the environment, for an https endpoint only (:mod:`.transport`).
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
        limiter: RateLimiter | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.endpoint = validate_endpoint(endpoint)
        self.project_id = validate_project_id(project_id)
        # Every call runs under this policy; without a limiter (from_settings gives the shared
        # one), requests are not paced (only a 429's Retry-After is waited for).
        self.policy = RequestPolicy(retry, limiter, clock=clock)
        self.max_response_bytes = max_response_bytes
        if verify is False:
            _log.warning(INSECURE_WARNING, self.endpoint)
        self._scrub = Scrubber(secrets)
        self._deadline: float | None = None
        self._transport: DeadlineTransport | None = None  # a test's transport: nothing to bound
        if transport is None:
            context = (
                ssl.create_default_context(cafile=verify)
                if isinstance(verify, str)
                else httpx.create_ssl_context(verify=verify)
            )
            self._transport = transport = DeadlineTransport(
                clock=clock,
                ssl_context=context,
                limits=httpx.Limits(max_connections=max_connections),
                proxy=environment_proxy(httpx.URL(self.endpoint)),
            )
        self._http = httpx.Client(
            base_url=f"{self.endpoint}/v2/{self.project_id}",
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"pulumi-dcs-migration/{__version__}"},
            follow_redirects=False,  # a redirect would carry signed requests elsewhere
            trust_env=False,  # the transport reads the proxy from the environment itself
        )

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, **kwargs: Any) -> DcsClient:
        """A client for resolved :class:`~.settings.ConnectionSettings`, taking its turns from
        the rate limit of that endpoint and project (:func:`~.ratelimit.shared_limiter`)."""
        creds = settings.credentials
        kwargs.setdefault("verify", settings.verify)
        if "limiter" not in kwargs:
            kwargs["limiter"] = shared_limiter(
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
        """Bound every call made inside the block by ``at`` (an instant on the client's clock).

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
        """Seconds from now to a poller's next poll of ``requests`` requests: ``interval``, or
        longer when the rate limit could not serve it sooner (:meth:`~.policy.RequestPolicy.pace`)."""
        return self.policy.pace(requests, interval)

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
        # A list page has count and a migration_tasks array of at most limit tasks.
        _check_shape("list", data, "migration_tasks", list, "an array of tasks")
        _check_shape("list", data, "count", object, "the number of tasks")
        if (items := len(data["migration_tasks"])) > limit:
            raise DcsProtocolError("list", f"a page of {items} tasks answers a request for {limit}")
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
        totals = {"bytes": MAX_LIST_BYTES, "JSON values": MAX_LIST_VALUES}
        allowance = _Allowance("the task list", totals)
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
        return self._batch("batch stop", "/migration-task/batch-stop", task_ids)

    def batch_restart(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        """``POST /migration-tasks/batch-restart`` (online tasks; at most 50 per call)."""
        return self._batch("batch restart", "/migration-tasks/batch-restart", task_ids)

    def _batch(self, operation: str, path: str, task_ids: Sequence[str]) -> list[BatchItemResult]:
        body = {"migration_tasks": [_checked(t) for t in task_ids]}
        data = self._call(operation, "POST", path, json_body=body)
        # A batch answer has a migration_tasks array (an empty answer is no success).
        _check_shape(operation, data, "migration_tasks", list, "an array of results")
        return self._parse(operation, data, BatchResultResponse).migration_tasks

    def delete_tasks(self, task_ids: Sequence[str]) -> list[str]:
        """``DELETE /migration-tasks/delete``: delete task records; returns the echoed ids."""
        body = {"task_id_list": [_checked(t) for t in task_ids]}
        data = self._call("delete tasks", "DELETE", "/migration-tasks/delete", json_body=body)
        return self._parse("delete tasks", data, DeleteTasksBody).task_id_list

    # --- plumbing -----------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        allowance: _Allowance | None = None,
    ) -> Any:
        content = None
        headers = {"Content-Type": "application/json"}
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json;charset=UTF-8"
        allowance = allowance or _Allowance()

        def send(deadline: Deadline) -> Any:
            left = deadline.left()
            if left <= 0:
                raise deadline.exceeded(operation)
            t = self._http.timeout.as_dict()  # none longer than the time left
            timeout = httpx.Timeout(
                **{k: left if v is None else min(v, left) for k, v in t.items()}
            )
            request = self._http.build_request(
                method, path, params=params, content=content, headers=headers, timeout=timeout
            )
            bound: contextlib.AbstractContextManager[None] = (
                self._transport.bounded(deadline.at)
                if self._transport is not None
                else contextlib.nullcontext()  # a test's transport: no sockets to bound
            )
            with bound:
                response = self._http.send(request, stream=True)
                try:
                    body = self._read_body(operation, response, deadline, allowance)
                finally:
                    response.close()
            if response.status_code == 204 or not body or body.isspace():
                return {}
            return self._decode(operation, body, self._request_id(response), allowance)

        try:
            return self.policy.call(
                operation,
                send,
                deadline=self._deadline,
                priority=Priority.READ if method == "GET" else Priority.WRITE,
            )
        except httpx.TimeoutException as exc:
            raise DcsTransportError(operation, f"timed out: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            detail = self._safe(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_TEXT]
            raise DcsTransportError(operation, detail) from None

    def _read_body(
        self,
        operation: str,
        response: httpx.Response,
        deadline: Deadline,
        allowance: _Allowance,
    ) -> bytes:
        """A success's body, within the limits; any other answer raised as its error."""
        status = response.status_code
        if 300 <= status < 400 or status < 200:
            raise self._unexpected_status(operation, response)
        if status >= 400:
            body = self._read_limited(operation, response, deadline, MAX_ERROR_BODY, cut=True)
            raise self._api_error(operation, response, body)
        limit, what = allowance.limit("bytes", self.max_response_bytes, verb="is larger than")
        body = self._read_limited(operation, response, deadline, limit, what=what)
        allowance.used["bytes"] += len(body)
        return body

    def _read_limited(
        self,
        operation: str,
        response: httpx.Response,
        deadline: Deadline,
        limit: int,
        *,
        cut: bool = False,
        what: str = "",
    ) -> bytes:
        """The body, at most ``limit`` bytes: beyond it refused with ``what`` (or, with ``cut``,
        dropped). The clock is checked between chunks: the deadline holds for a slow body too."""
        declared = response.headers.get("Content-Length", "")
        if not cut and declared.isdigit() and int(declared) > limit:
            raise DcsProtocolError(operation, what)
        body = bytearray()
        for chunk in response.iter_bytes():
            if deadline.left() <= 0:
                raise deadline.exceeded(operation, "the answer was still arriving")
            if len(body) + len(chunk) > limit:
                if cut:
                    body += chunk[: limit - len(body)]
                    break
                raise DcsProtocolError(operation, what)
            body += chunk
        return bytes(body)

    def _decode(
        self, operation: str, body: bytes, request_id: str | None, allowance: _Allowance
    ) -> Any:
        """JSON from a success body, within the allowance of values and nesting; every string
        (keys too) made safe (:meth:`_safe`).

        The values are counted (a byte count of ``, : { [``) before anything is parsed, so an
        answer of a million empty objects is refused instead of costing a gigabyte.
        """
        containers = body.count(b"{") + body.count(b"[")
        values = containers + body.count(b",") + body.count(b":")
        limit, what = allowance.limit("JSON values", MAX_JSON_VALUES)
        allowance.used["JSON values"] += values
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
        # Walk the strings only when one could need it: a control character or a secret hides
        # behind a JSON escape, or stands there raw. The parser refuses a raw C0 control inside
        # a string (outside one, only whitespace may stand), so in ASCII text only DEL can.
        unsafe = (
            "\\" in text
            or "\x7f" in text
            or (not text.isascii() and needs_escaping(text))
            or self._scrub.found_in(text)
        )
        del text
        if not unsafe and containers <= MAX_JSON_DEPTH:
            return data  # nothing to make safe, and too few brackets to nest too deep
        try:
            return _walk_json(data, self._safe if unsafe else None, MAX_JSON_DEPTH)
        except _TooDeep:
            raise DcsProtocolError(
                operation, f"the JSON is nested more than {MAX_JSON_DEPTH} deep", request_id
            ) from None

    def _safe(self, text: str) -> str:
        """Server text as the product may show it: secrets scrubbed, then one visible line."""
        return one_line(self._scrub(text))

    def _request_id(self, response: httpx.Response) -> str | None:
        request_id = response.headers.get("X-Request-Id")
        return self._safe(request_id) if request_id else None

    def _unexpected_status(self, operation: str, response: httpx.Response) -> DcsProtocolError:
        """A redirect (or an informational status) where an answer was due."""
        status = response.status_code
        location = response.headers.get("Location")
        request_id = self._request_id(response)
        if 300 <= status < 400:
            where = ""
            if location:
                try:
                    host = httpx.URL(location).host
                except (httpx.InvalidURL, ValueError, TypeError):
                    host = ""
                where = f" to {self._safe(host)}" if host else " to another path of this host"
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
            self._safe(v)[:MAX_ERROR_TEXT] if v is not None else None
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
                operation, self._safe(f"unexpected shape at {where}: {first.get('msg')}")
            ) from None
        except (ValueError, TypeError, RecursionError) as exc:
            raise DcsProtocolError(operation, f"unexpected shape: {type(exc).__name__}") from None


class _TooDeep(Exception):
    """JSON nested deeper than allowed."""


def _walk_json(data: Any, clean: Callable[[str], str] | None, max_depth: int) -> Any:
    """``data`` with its nesting checked (a level at a time, without recursion) and, given
    ``clean``, every string (values and keys) cleaned in place. Raises :class:`_TooDeep`."""
    if isinstance(data, str):
        return clean(data) if clean else data
    level, depth = [data], 1
    while level:
        if depth > max_depth:
            raise _TooDeep
        below = []
        for node in level:
            # Exact types: json.loads makes plain dicts and lists (and this loop is the hot one
            # of a 1,000-task list page).
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    below.append(child)
            if clean is not None:
                _clean_container(node, clean)
        level, depth = below, depth + 1
    return data


def _clean_container(node: dict[str, Any] | list[Any], clean: Callable[[str], str]) -> None:
    """Clean the strings directly in ``node`` (its values, and an object's keys)."""
    if isinstance(node, list):
        node[:] = [clean(v) if isinstance(v, str) else v for v in node]
        return
    for key, value in node.items():
        if isinstance(value, str):
            node[key] = clean(value)
    for key in [k for k in node if clean(k) != k]:
        node[clean(key)] = node.pop(key)


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
        f"are refused beyond {MAX_CLOCK_SKEW.total_seconds() / 60:g} minutes: fix the clock (NTP)."
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; an HTTP date is ignored)."""
    try:
        seconds = float(value or "")  # surrounding whitespace is allowed
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
