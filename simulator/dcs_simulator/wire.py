"""Request/response plumbing shared by the DCS and admin routes: the parsed call, JSON
answers with ``X-Request-Id``, the API's error shapes, and body/query parsing."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.responses import Response

DCS_NOT_FOUND = ("DCS.4133", "Instance job is not found.")
DCS_BAD_TASK_ID = ("DCS.4855", "invalid migration task id in the request.")
DCS_BAD_STATE = ("DCS.4026", "The operation is not allowed in the current migration task status.")


class ApiError(Exception):
    """An error answer: HTTP status, ``error_code`` and ``error_msg``.

    ``gateway`` errors (``APIGW.*``) also carry ``request_id`` in the body, as the real API
    gateway's do; service errors (``DCS.*``) do not.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        gateway: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.gateway = gateway
        self.headers = headers or {}

    @classmethod
    def bad(cls, pair: tuple[str, str], status: int = 400) -> ApiError:
        """A service error from a ``(code, message)`` pair."""
        return cls(status, pair[0], pair[1])

    @classmethod
    def invalid(cls, name: str) -> ApiError:
        """400 ``DCS.4063``: the API's generic "invalid parameter" error."""
        return cls(400, "DCS.4063", f"Invalid {name} parameter in the request.")

    def response(self, request_id: str) -> Response:
        """The error as an HTTP answer."""
        body: dict[str, Any] = {"error_code": self.code, "error_msg": self.message}
        if self.gateway:
            body["request_id"] = request_id
        return json_response(body, request_id, status=self.status, headers=self.headers)


def dump(payload: Any) -> bytes:
    """Compact JSON; NaN/inf are refused (they are not JSON)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def json_response(
    payload: Any, request_id: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON answer carrying ``X-Request-Id`` (the SDK copies it into its exceptions)."""
    return Response(
        dump(payload),
        status_code=status,
        headers={"X-Request-Id": request_id, **(headers or {})},
        media_type="application/json",
    )


def empty_response(request_id: str, status: int = 204) -> Response:
    """A bodyless answer (sync-stop's 204)."""
    return Response(status_code=status, headers={"X-Request-Id": request_id})


@dataclass
class Call:
    """One received request, as the routes need it."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    request_id: str
    params: dict[str, str] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)

    @property
    def segments(self) -> list[str]:
        """Percent-decoded path segments (an encoded ``/`` stays inside its segment)."""
        return [unquote(part) for part in self.raw_path.split("/")[1:]]

    def header(self, name: str) -> str | None:
        """First header named ``name`` (case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def query(self) -> dict[str, str]:
        """Decoded query parameters; the last value wins on repeats."""
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object: empty → ``DCS.4004``, not JSON → ``DCS.4005``."""
        if not self.body.strip():
            raise ApiError(400, "DCS.4004", "The request body is empty.")
        try:
            payload = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "DCS.4005", "The request body is not valid JSON.") from exc
        if not isinstance(payload, dict):
            raise ApiError.invalid("body")
        return payload


def int_param(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``, else 400 ``DCS.4063``."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ApiError.invalid(name) from None
    if not low <= value <= high:
        raise ApiError.invalid(name)
    return value


def str_list(payload: dict[str, Any], name: str) -> list[str]:
    """A required, non-empty array of strings from a body, else 400 ``DCS.4063``."""
    value = payload.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ApiError.invalid(name)
    return value


def required_str(payload: dict[str, Any], name: str) -> str:
    """A required non-blank string field, else 400 ``DCS.4063``."""
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError.invalid(name)
    return value


def optional_obj(payload: dict[str, Any], name: str) -> dict[str, Any] | None:
    """An optional object field, else 400 ``DCS.4063``."""
    value = payload.get(name)
    if value is not None and not isinstance(value, dict):
        raise ApiError.invalid(name)
    return value


def choice(
    payload: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None
) -> str | None:
    """An optional string field restricted to ``allowed``."""
    value = payload.get(name, default)
    if value is not None and value not in allowed:
        raise ApiError.invalid(name)
    return value


def iso_ms(epoch: float) -> str:
    """``2021-06-16T06:12:55.508Z``: the list call's timestamp format."""
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}Z"


def slashed(epoch: float | None) -> str | None:
    """``2019/10/22 14:44:30``: the details call's timestamp format."""
    return None if epoch is None else time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(epoch))
