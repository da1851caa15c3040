"""Hardening (issue 13): the admin API answers loopback clients only, and the access log.

The non-loopback refusal is checked on the ASGI app with a made-up client address in the scope
(no test reaches the machine's external address); the real ``dcs-simulator`` process is
exercised in ``test_sim_cli.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import Message

from dcs_simulator import SimulatorApp, SimulatorConfig, SimulatorState
from dcs_simulator.app import is_loopback_client
from dcs_simulator.server import is_loopback_host

from .sim_helpers import P

EXTERNAL = ("192.0.2.10", 40000)  # TEST-NET-1: documentation only, never routed
LOOPBACK = ("127.0.0.1", 40000)


def call_app(
    app: SimulatorApp,
    method: str,
    path: str,
    client: tuple[str, int] | None,
    body: bytes = b"",
) -> tuple[int, dict[str, Any]]:
    """Drive the ASGI app directly; return the status and the JSON body."""
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "server": ("127.0.0.1", 8080),
        "client": client,
    }
    sent: list[Message] = []
    received = False

    async def receive() -> Message:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = int(sent[0]["status"])
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(payload) if payload else {}


@pytest.fixture
def app() -> SimulatorApp:
    return SimulatorApp(SimulatorState(SimulatorConfig(seed=2, access_log=True)))


@pytest.mark.parametrize(
    "client",
    [EXTERNAL, ("10.0.0.5", 1), ("2001:db8::1", 1), ("::ffff:192.0.2.1", 1), None, ("x", 1)],
)
def test_admin_refuses_non_loopback_clients(
    app: SimulatorApp, client: tuple[str, int] | None
) -> None:
    for method, path in [
        ("GET", "/_simulator/health"),
        ("POST", "/_simulator/tasks"),
        ("DELETE", "/_simulator/faults"),
        ("POST", "/_simulator/throttle"),
    ]:
        status, body = call_app(app, method, path, client, b'{"count": 5, "rate": 1}')
        assert status == 403, (method, path)
        assert "loopback" in body["error"]
    assert len(app.state.tasks) == 2  # nothing was created
    assert app.throttle.policy is None  # nor throttled
    assert app.state.counters == {"admin_refused": 4}


@pytest.mark.parametrize(
    "client", [LOOPBACK, ("127.8.9.10", 1), ("::1", 1), ("::ffff:127.0.0.1", 1)]
)
def test_admin_answers_loopback_clients(app: SimulatorApp, client: tuple[str, int]) -> None:
    status, body = call_app(app, "GET", "/_simulator/health", client)
    assert (status, body["tasks"]) == (200, 2)


def test_dcs_routes_still_answer_non_loopback_clients(app: SimulatorApp) -> None:
    # Not refused by address: they go through authentication like any API call.
    status, body = call_app(app, "GET", f"{P}/migration-tasks", EXTERNAL)
    assert (status, body["error_code"]) == (401, "APIGW.0301")


def test_loopback_checks() -> None:
    assert is_loopback_client({"client": ("127.0.0.1", 1)})
    assert not is_loopback_client({"client": ("192.0.2.1", 1)})
    assert not is_loopback_client({})
    assert all(map(is_loopback_host, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback_host, ["0.0.0.0", "::", "", "192.168.1.1", "example.org"]))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    logger = logging.getLogger("dcs_simulator.access")
    handler = _Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_access_log_has_one_line_per_request(app: SimulatorApp, access_lines: list[str]) -> None:
    call_app(app, "GET", "/_simulator/health", LOOPBACK)
    call_app(app, "GET", "/_simulator/health", EXTERNAL)
    call_app(app, "GET", f"{P}/migration-tasks", EXTERNAL)
    assert access_lines == [
        '127.0.0.1:40000 - "GET /_simulator/health HTTP/1.1" 200',
        '192.0.2.10:40000 - "GET /_simulator/health HTTP/1.1" 403',
        f'192.0.2.10:40000 - "GET {P}/migration-tasks HTTP/1.1" 401',
    ]


def test_no_access_log_unless_asked(access_lines: list[str]) -> None:
    quiet = SimulatorApp(SimulatorState(SimulatorConfig()))
    call_app(quiet, "GET", "/_simulator/health", LOOPBACK)
    assert access_lines == []
