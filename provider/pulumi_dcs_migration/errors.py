"""Typed errors of the DCS client: structured data first, a neutral message second.

Every error carries what a front end needs to word its own advice: the operation, the HTTP
status, the API's ``error_code``, a :class:`Problem` and the setting at fault. ``str(error)`` is
a neutral one-line message; a front end's message names where its users set the settings at
fault (:meth:`DcsApiError.describe` with its ``where``). Every piece of advice is worded once,
in :func:`hint`. No message ever contains a credential: the client scrubs known secrets from
every part before it builds one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from .auth import MAX_CLOCK_SKEW
from .models import MAX_BATCH_IDS, TASK_ID_SHAPE
from .redact import shorten, shown

MAX_SUMMARY_TEXT = 200
"""Characters of server text in a default (non-verbose) message."""

MAX_DETAIL_TEXT = 300
"""Characters of a transport or protocol error's detail (which may quote the server)."""


class Problem(enum.StrEnum):
    """What went wrong, as far as a front end's advice is concerned."""

    CREDENTIALS = "credentials"  # 401: bad signature, wrong keys, clock skew
    TOKEN = "token"  # 401 DCS.100x: the IAM token is invalid, expired or for another project
    PERMISSION = "permission"  # 403
    THROTTLED = "throttled"  # 429
    ENDPOINT = "endpoint"  # 404 / APIGW.0101: wrong endpoint, region or path
    TASK_NOT_FOUND = "task_not_found"  # DCS.4133
    INVALID_TASK_ID = "invalid_task_id"  # DCS.4855
    PROJECT_ID = "project_id"  # DCS.4002
    TOO_MANY_IDS = "too_many_ids"  # DCS.4100
    SERVER = "server"  # 5xx
    REQUEST = "request"  # any other 4xx


Where = Callable[[str], str]
"""Where a front end's users set a setting: ``"the stack config dcs:region or HW_REGION_NAME"``."""


def hint(problem: Problem, where: Where | None = None) -> str:
    """What to do about ``problem``: the one wording of every piece of advice. ``where`` names
    where each setting at fault is set (a front end's words); without it, the hint is neutral."""

    def at(*settings: str) -> str:
        return f" ({'; '.join(where(s) for s in settings)})" if where else ""

    minutes = MAX_CLOCK_SKEW.total_seconds() / 60
    texts = {
        Problem.CREDENTIALS: (
            f"check the access key and secret key{at('access_key', 'secret_key')} and that "
            f"this machine's clock is within {minutes:g} minutes of UTC"
        ),
        Problem.TOKEN: "the IAM token is invalid, expired or for another project: get a new one",
        Problem.PERMISSION: (
            "the credentials lack permission: grant the IAM action dcs:migrationTask:modify "
            "(dcs:migrationTask:get / list to read) in this project"
        ),
        Problem.THROTTLED: "the API is throttling requests; retry later or stop fewer tasks at once",
        Problem.ENDPOINT: (
            "the endpoint or region is wrong, or the API is not available there"
            + at("endpoint", "region")
        ),
        Problem.TASK_NOT_FOUND: (
            "no such task in this project: check the task id (dcs-migration list) and the "
            "project id" + at("project_id")
        ),
        Problem.INVALID_TASK_ID: "the request names an invalid migration task id: check the ids",
        Problem.PROJECT_ID: (
            "the project id is malformed: it is 32 lower-case hex digits" + at("project_id")
        ),
        Problem.TOO_MANY_IDS: f"too many ids in one request: send at most {MAX_BATCH_IDS}",
        Problem.SERVER: "the service failed; retry later (the request was retried already)",
        Problem.REQUEST: "check the request's parameters",
    }
    return texts[problem]


_PROBLEM_BY_CODE: dict[str, Problem] = {
    "APIGW.0301": Problem.CREDENTIALS,
    "APIGW.0308": Problem.THROTTLED,
    "APIGW.0101": Problem.ENDPOINT,
    "DCS.4133": Problem.TASK_NOT_FOUND,
    "DCS.4855": Problem.INVALID_TASK_ID,
    "DCS.4002": Problem.PROJECT_ID,
    "DCS.4100": Problem.TOO_MANY_IDS,
    **dict.fromkeys(("DCS.1001", "DCS.1002", "DCS.1003", "DCS.1004"), Problem.TOKEN),
}
_PROBLEM_BY_STATUS: dict[int, Problem] = {
    401: Problem.CREDENTIALS,
    403: Problem.PERMISSION,
    404: Problem.ENDPOINT,
    429: Problem.THROTTLED,
}


def problem_of(status: int, code: str | None) -> Problem:
    """The :class:`Problem` of an HTTP status and API error code, most specific first."""
    by_code, by_status = _PROBLEM_BY_CODE.get(code or ""), _PROBLEM_BY_STATUS.get(status)
    return by_code or by_status or (Problem.SERVER if status >= 500 else Problem.REQUEST)


class DcsError(Exception):
    """Base of every error this package raises about DCS."""


class OperationFailed(DcsError):
    """A Pulumi operation or a command failed for a reason its message explains in full: every
    task not stopped with its status, or an API error worded for the front end (no traceback)."""


class ConfigurationError(DcsError, ValueError):
    """A setting is missing or invalid; ``setting`` names it (as the user set it, if known)."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class InvalidTaskIdError(DcsError, ValueError):
    """A task id of the wrong shape was refused before any request was sent."""

    def __init__(self, task_id: object) -> None:
        self.task_id = task_id
        super().__init__(
            f"invalid task id {shown(task_id)}: a DCS migration task id is {TASK_ID_SHAPE}"
        )


class DcsTransportError(DcsError):
    """The API could not be reached (connection refused, dropped, or timed out) after retries."""

    _says = (
        "could not reach the DCS API ({}); check the endpoint or region and the network, then retry"
    )

    def __init__(self, operation: str, detail: str) -> None:
        self.operation = operation
        self.detail = detail
        super().__init__(f"{operation}: " + self._says.format(shorten(detail, MAX_DETAIL_TEXT)))


class DeadlineExceeded(DcsTransportError):
    """The run's deadline passed before the API answered (retries and waits included).

    ``seconds`` is the time the call had when it started; ``reason`` says what used it up when
    that is known (a ``Retry-After`` longer than the time left, a server that trickles).
    """

    _says = (
        "the deadline passed before the DCS API answered ({}); raise the timeout, or check the "
        "endpoint and the network"
    )

    def __init__(self, operation: str, seconds: float, reason: str | None = None) -> None:
        self.seconds = seconds
        self.reason = reason
        detail = f"{max(seconds, 0.0):.1f}s allowed" + (f"; {reason}" if reason else "")
        super().__init__(operation, detail)


class DcsProtocolError(DcsError):
    """The API answered with something this client cannot read (redirect, bad JSON, wrong shape)."""

    def __init__(self, operation: str, detail: str, request_id: str | None = None) -> None:
        self.operation = operation
        self.detail = detail
        self.request_id = request_id
        rid = f" (request id {shorten(request_id, 80)})" if request_id else ""
        text = shorten(detail, MAX_DETAIL_TEXT)
        super().__init__(f"{operation}: unreadable answer from the DCS API{rid}: {text}")


class DcsApiError(DcsError):
    """The API answered with an error status.

    ``error_msg`` is the server's whole (scrubbed) text; ``str()`` shows at most
    :data:`MAX_SUMMARY_TEXT` characters of it, :meth:`describe` with ``verbose=True`` all of it.
    """

    def __init__(
        self,
        operation: str,
        status_code: int,
        error_code: str | None,
        error_msg: str | None,
        request_id: str | None = None,
        *,
        note: str | None = None,
    ) -> None:
        self.operation = operation
        self.status_code = status_code
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.note = note  # something the client worked out (e.g. clock skew), shown after the hint
        self.problem = problem_of(status_code, error_code)
        super().__init__(self.describe())

    def describe(self, where: Where | None = None, *, verbose: bool = False) -> str:
        """One line: what failed, the server's words, then the :func:`hint` (naming the settings
        at fault as ``where`` says a front end's users set them)."""
        # Every part the server wrote was made safe by the client (secrets scrubbed, one line,
        # control characters visible): here it is only bounded.
        code = f" {shorten(self.error_code, 80)}" if self.error_code else ""
        text = self.error_msg or ""
        if not verbose:
            text = _summary(text)
        msg = f": {text}" if text else ""
        rid = f" [request id {shorten(self.request_id, 80)}]" if self.request_id else ""
        note = f" {self.note}" if self.note else ""
        to_fix = hint(self.problem, where)
        return f"{self.operation} failed: HTTP {self.status_code}{code}{msg}{rid}. To fix: {to_fix}.{note}"


def _summary(text: str) -> str:
    # The gateway appends its canonical request to a signature failure ("..., canonical request:
    # GET|/v2/..."): useful to debug signing, noise otherwise.
    head, marker, _ = text.partition(", canonical request:")
    if marker:
        return shorten(head, MAX_SUMMARY_TEXT) + " (canonical request omitted)"
    return shorten(text, MAX_SUMMARY_TEXT)


class AuthenticationError(DcsApiError):
    """401: bad signature, wrong keys, clock skew, or a bad token.

    ``clock_skew`` is how many seconds the API's clock is ahead of the date the request was
    signed with (from the response's ``Date`` header), when known.
    """

    clock_skew: float | None = None


class PermissionDeniedError(DcsApiError):
    """403: the credentials are valid but not allowed to do this."""


class TaskNotFoundError(DcsApiError):
    """400 ``DCS.4133``: the task does not exist (or was deleted) in this project."""


class ThrottledError(DcsApiError):
    """429 ``APIGW.0308``: too many requests; ``retry_after`` is the server's advice, if any."""

    retry_after: float | None = None


class ServerError(DcsApiError):
    """5xx: the service failed."""


def api_error_class(status: int, code: str | None) -> type[DcsApiError]:
    """The most specific error class for an HTTP status and API error code."""
    if code == "DCS.4133":
        return TaskNotFoundError
    by_status = {401: AuthenticationError, 403: PermissionDeniedError, 429: ThrottledError}
    return by_status.get(status, ServerError if status >= 500 else DcsApiError)
