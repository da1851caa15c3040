"""Typed errors of the DCS client, each with a message that says what to do next.

Every message names the operation, the HTTP status, the API's ``error_code`` and a hint; none of
them ever contains a credential (the client scrubs known secrets from server text before it
builds an error).
"""

from __future__ import annotations

# What to do about an error, by API error code, then by HTTP status.
_HINTS_BY_CODE: dict[str, str] = {
    "APIGW.0301": (
        "check the access key and secret key (HW_ACCESS_KEY / HW_SECRET_KEY or dcs:accessKey / "
        "dcs:secretKey) and that this machine's clock is within 15 minutes of UTC"
    ),
    "APIGW.0308": "the API is throttling requests; retry later or stop fewer tasks at once",
    "APIGW.0101": "the endpoint or region is wrong, or the API is not available there",
    "DCS.4133": "no such task in this project: check the task id (dcs-migration list) and the project id",
    "DCS.4855": "the request names an invalid migration task id: check the ids",
    "DCS.4002": "the project id is malformed: it is 32 lower-case hex digits (My Credentials > API Credentials)",
    "DCS.4100": "too many ids in one request: send at most 50",
    "DCS.1001": "the IAM token is invalid: get a new one",
    "DCS.1002": "the IAM token has expired: get a new one",
    "DCS.1003": "no IAM token was sent",
    "DCS.1004": "the project id does not match the token's project",
}
_HINTS_BY_STATUS: dict[int, str] = {
    401: "check the credentials and this machine's clock",
    403: (
        "the credentials lack permission: grant the IAM action dcs:migrationTask:modify "
        "(dcs:migrationTask:get / list to read) in this project"
    ),
    404: "the endpoint, region or path is wrong",
    429: "the API is throttling requests; retry later",
}


def hint_for(status: int, code: str | None) -> str:
    """The advice shown with an error, most specific first."""
    if code and code in _HINTS_BY_CODE:
        return _HINTS_BY_CODE[code]
    if status in _HINTS_BY_STATUS:
        return _HINTS_BY_STATUS[status]
    if status >= 500:
        return "the service failed; retry later (the request was retried already)"
    return "check the request's parameters"


class DcsError(Exception):
    """Base of every error this package raises about DCS."""


class ConfigurationError(DcsError, ValueError):
    """Settings are missing or invalid (credentials, region, endpoint, project id)."""


class InvalidTaskIdError(DcsError, ValueError):
    """A task id that is not safe to put in a URL was refused before any request was sent."""

    def __init__(self, task_id: object) -> None:
        self.task_id = task_id
        super().__init__(
            f"invalid task id {task_id!r}: a DCS migration task id is a UUID or 32 hex digits "
            "(letters, digits and '-', at most 64 characters)"
        )


class DcsTransportError(DcsError):
    """The API could not be reached (connection refused, dropped, or timed out) after retries."""

    def __init__(self, operation: str, detail: str) -> None:
        self.operation = operation
        super().__init__(
            f"{operation}: could not reach the DCS API ({detail}); check the endpoint/region "
            "and the network, then retry"
        )


class DcsProtocolError(DcsError):
    """The API answered with something this client cannot read (bad JSON, wrong shape)."""

    def __init__(self, operation: str, detail: str, request_id: str | None = None) -> None:
        self.operation = operation
        self.request_id = request_id
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{operation}: unreadable answer from the DCS API{rid}: {detail}")


class DcsApiError(DcsError):
    """The API answered with an error status."""

    def __init__(
        self,
        operation: str,
        status_code: int,
        error_code: str | None,
        error_msg: str | None,
        request_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.status_code = status_code
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.hint = hint_for(status_code, error_code)
        code = f" {error_code}" if error_code else ""
        msg = f": {error_msg}" if error_msg else ""
        rid = f" [request id {request_id}]" if request_id else ""
        super().__init__(
            f"{operation} failed: HTTP {status_code}{code}{msg}{rid}. To fix: {self.hint}"
        )


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
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 429:
        return ThrottledError
    if status >= 500:
        return ServerError
    return DcsApiError
