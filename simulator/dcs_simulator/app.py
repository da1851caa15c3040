"""The simulator's ASGI application: routing, authentication, faults, counters.

A plain ASGI callable rather than a Starlette router, for three reasons: routing must see the
raw path (an encoded ``/`` in a task id must stay inside its segment, and the signature is
checked over the raw path), 404/405 must answer with the API's own error bodies, and a
"drop" fault needs the server's raw ``send`` to close the connection without an answer.

Order for a DCS request: route (404 ``DCS.4001`` / 405 ``DCS.5001``) → count the operation →
faults → authentication (401 ``APIGW.0301``) → throttling (429 ``APIGW.0308``, counted as
``throttled``) → project id (400 ``DCS.4002``) → handler. Faults come first because they model
the network and the gateway's front door; throttling follows authentication because the
gateway's policy is per user ("policy user over ratelimit"), and it is keyed by the project id
in the path. A throttled request still counts under its operation (it reached the gateway), and
under ``throttled``, never under ``fault``.

Admin requests (``/_simulator/...``) are never faulted or throttled, and are answered only for
loopback clients (403 otherwise): the admin API has no authentication, so a simulator bound to
a non-loopback address must not hand control of its state to the network. With ``access_log``
each request is logged (logger ``dcs_simulator.access``) once its answer has been sent.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .admin import AdminApi
from .config import OPERATIONS
from .dcs import DcsApi
from .faults import Decision, FaultPlan
from .state import SimulatorState
from .throttle import Throttle, ThrottlePolicy, retry_after_header
from .verify import verify_request
from .wire import ApiError, Call, json_response

log = logging.getLogger(__name__)
access_logger = logging.getLogger("dcs_simulator.access")

AUTH_PREFIX = "Incorrect IAM authentication information: "
THROTTLE_MSG = (
    "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute"
)
_SIGNED_HEADERS_RE = re.compile(r"SignedHeaders=([^,\s]+)")


@dataclass(frozen=True)
class Route:
    """One DCS route: method, path pattern (``{name}`` segments bind), operation name."""

    method: str
    pattern: tuple[str, ...]
    operation: str

    @property
    def literals(self) -> int:
        """How specific the pattern is: literal routes win over ``{task_id}`` ones."""
        return sum(1 for part in self.pattern if not part.startswith("{"))

    def bind(self, segments: list[str]) -> dict[str, str] | None:
        """Path parameters when ``segments`` fit the pattern, else ``None``."""
        if len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for part, value in zip(self.pattern, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = value
            elif part != value:
                return None
        return params


def _r(method: str, path: str, operation: str) -> Route:
    return Route(method, tuple(f"v2/{{project_id}}/{path}".split("/")), operation)


ROUTES = (
    _r("GET", "migration-tasks", "list"),
    _r("GET", "migration-task/{task_id}", "show"),
    _r("POST", "migration-task/batch-stop", "batch_stop"),
    _r("POST", "migration-task/{task_id}/stop", "stop"),
    _r("POST", "migration-task/{task_id}/sync-stop", "sync_stop"),
    _r("DELETE", "migration-tasks/delete", "delete"),
    _r("POST", "migration-tasks/batch-restart", "batch_restart"),
    _r("POST", "migration/instance", "create_online"),
    _r("POST", "migration/{task_id}/task", "configure_online"),
    _r("POST", "migration-task", "create"),
    _r("GET", "migration-task/{task_id}/stats", "stats"),
    _r("GET", "migration-task/{task_id}/logs", "logs"),
)
assert {route.operation for route in ROUTES} == set(OPERATIONS), "route table out of sync"


def match(method: str, segments: list[str]) -> tuple[Route, dict[str, str]]:
    """The route for a request; 404 ``DCS.4001`` or 405 ``DCS.5001`` when there is none."""
    bound = [(r, p) for r in ROUTES if (p := r.bind(segments)) is not None]
    if not bound:
        raise ApiError(404, "DCS.4001", "The requested URL does not exist.")
    allowed = [(r, p) for r, p in bound if r.method == method]
    if not allowed:
        raise ApiError(405, "DCS.5001", "The HTTP method is not allowed for the requested URL.")
    return max(allowed, key=lambda rp: rp[0].literals)


class SimulatorApp:
    """ASGI entry point: ``/_simulator/...`` goes to the admin API, the rest to DCS."""

    def __init__(
        self,
        state: SimulatorState,
        faults: FaultPlan | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.state = state
        self.faults = faults or FaultPlan()
        config = state.config
        self.throttle = throttle or Throttle(
            state.clock, ThrottlePolicy.of(config.throttle_rate, config.throttle_burst)
        )
        self.access_log = config.access_log
        self.dcs = DcsApi(state)
        self.admin = AdminApi(state, self.faults, self.throttle)
        self._handlers: dict[str, Callable[[Call], Response]] = {
            op: getattr(self.dcs, op) for op in OPERATIONS
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is switched off; websockets are not part of the API
        call = await _read_call(scope, receive)
        response: Response | None
        if call.raw_path == "/_simulator" or call.raw_path.startswith("/_simulator/"):
            if is_loopback_client(scope):
                response = self.admin.dispatch(call)
            else:
                self.state.count("admin_refused")
                body = {"error": "the /_simulator/ admin API only answers loopback clients"}
                response = json_response(body, call.request_id, status=403)
        else:
            response = await self._dcs(call, send)
            if response is None:
                self._log_access(scope, call, None)
                return  # connection dropped on purpose
        await response(scope, receive, send)
        self._log_access(scope, call, response.status_code)

    def _log_access(self, scope: Scope, call: Call, status: int | None) -> None:
        if not self.access_log:
            return
        client = scope.get("client")
        who = f"{client[0]}:{client[1]}" if client else "-"
        query = f"?{call.raw_query}" if call.raw_query else ""
        version = scope.get("http_version", "1.1")
        answer = "dropped" if status is None else str(status)
        access_logger.info(
            '%s - "%s %s%s HTTP/%s" %s', who, call.method, call.raw_path, query, version, answer
        )

    async def _dcs(self, call: Call, send: Send) -> Response | None:
        try:
            route, params = match(call.method, call.segments)
            call.params.update(params)
            self.state.count(route.operation)
            decision = self.faults.decide(route.operation)
            if decision.latency:
                await asyncio.sleep(decision.latency)
            if decision.answers:
                self.state.count("fault")
                return await self._fault(decision, call, send)
            self._authenticate(call)
            self._throttle(call)
            if call.params["project_id"] != self.state.config.project_id:
                raise ApiError(400, "DCS.4002", "Invalid project ID in the request.")
            return self._handlers[route.operation](call)
        except ApiError as exc:
            return exc.response(call.request_id)
        except Exception:  # a simulator bug must still answer like the API would
            log.exception("simulator error on %s %s", call.method, call.raw_path)
            return ApiError(500, "DCS.5000", "Internal error.").response(call.request_id)

    async def _fault(self, decision: Decision, call: Call, send: Send) -> Response | None:
        if decision.drop:
            await _drop_connection(send)
            return None
        if decision.throttle:
            headers = {}
            if decision.throttle_retry_after is not None:
                headers["Retry-After"] = retry_after_header(decision.throttle_retry_after)
            raise ApiError(429, "APIGW.0308", THROTTLE_MSG, gateway=True, headers=headers)
        raise ApiError(decision.server_error or 500, "DCS.5000", "Internal error.")

    def _throttle(self, call: Call) -> None:
        """The per-project token bucket (see :mod:`.throttle`): 429 with ``Retry-After``."""
        wait = self.throttle.admit(call.params["project_id"])
        if wait is None:
            return
        self.state.count("throttled")
        headers = {"Retry-After": retry_after_header(wait)}
        raise ApiError(429, "APIGW.0308", THROTTLE_MSG, gateway=True, headers=headers)

    # --- authentication ---------------------------------------------------------------------

    def _authenticate(self, call: Call) -> None:
        """Accept a known ``X-Auth-Token`` or a valid AK/SK signature; else 401 APIGW.0301."""
        token = call.header("X-Auth-Token")
        if token is not None:
            if not any(hmac.compare_digest(token, t) for t in self.state.config.tokens):
                self._reject(call, "decrypt token fail")
            return
        if call.header("Authorization") is None:
            self._reject(call, "no X-Auth-Token and no Authorization header")
        config = self.state.config
        verdict = verify_request(
            method=call.method,
            raw_path=call.raw_path,
            raw_query=call.raw_query,
            headers=call.headers,
            body=call.body,
            secret_for=lambda ak: config.secret_key if ak == config.access_key else None,
        )
        if not verdict.ok:
            reason = f"verify aksk signature fail, {verdict.reason}"
            if verdict.canonical_request:  # the gateway shows its canonical request, | for \n
                reason += ", canonical request: " + verdict.canonical_request.replace("\n", "|")
            self._reject(call, reason)
        self._check_security_token(call)

    def _check_security_token(self, call: Call) -> None:
        """Temporary credentials: the STS token must be sent and signed."""
        expected = self.state.config.security_token
        if expected is None:
            return
        sent = call.header("X-Security-Token")
        signed = _SIGNED_HEADERS_RE.search(call.header("Authorization") or "")
        signed_names = signed.group(1).split(";") if signed else []
        if sent is None or "x-security-token" not in signed_names:
            self._reject(
                call, "verify aksk signature fail, X-Security-Token is missing or unsigned"
            )
        if not hmac.compare_digest(sent.strip(), expected):
            self._reject(call, "verify aksk signature fail, invalid X-Security-Token")

    def _reject(self, call: Call, reason: str) -> NoReturn:
        self.state.count("unauthorized")
        raise ApiError(401, "APIGW.0301", AUTH_PREFIX + reason, gateway=True)


async def _read_call(scope: Scope, receive: Receive) -> Call:
    """Collect the request: raw path and query, headers as text, the whole body."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    return Call(
        method=scope["method"].upper(),
        raw_path=raw_path.decode("latin-1"),
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        body=b"".join(chunks),
        request_id=uuid.uuid4().hex,
    )


async def _drop_connection(send: Send) -> None:
    """Close the socket without answering.

    uvicorn's ``send`` is a bound method of its request-response cycle, which holds the
    transport; closing it (and marking the cycle disconnected so uvicorn does not try to send
    a 500) is the only way an ASGI app can hang up mid-request. Under any other server the
    fallback starts a response and abandons it, which the client also sees as a broken
    connection.
    """
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(cycle, "disconnected"):
        transport.close()
        cycle.disconnected = True
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
    )


def is_loopback_client(scope: Scope) -> bool:
    """True when the request comes from a loopback address (IPv4, IPv6, or IPv4-mapped IPv6).

    An unknown client (no ``client`` in the scope, or not an IP address) is not loopback.
    """
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
