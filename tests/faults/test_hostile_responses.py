"""The client and the engine against a real HTTP server that answers badly on purpose."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dcs_simulator import DEMO_PROJECT_ID
from dcs_simulator.testing import VirtualClock
from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import MAX_RESPONSE_BYTES, DcsClient, RetryPolicy
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import DcsApiError, DcsProtocolError

PID = DEMO_PROJECT_ID  # any well-formed project id
TID = "b21989ec-2889-4b8e-99db-19c073425ec2"


class Script:
    """What the server answers next: (status, headers, body bytes) per request path kind."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: dict[str, int] = {}

    def kind(self, method: str, path: str) -> str:
        if path.endswith("/batch-stop"):
            return "batch_stop"
        if "/migration-tasks" in path:
            return "list"
        return "show"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client under test hangs up mid-answer when an answer is too big: that is the point.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            kind = script.kind(self.command, self.path)
            script.hits[kind] = script.hits.get(kind, 0) + 1
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, headers, body = script.answers.get(kind, (404, {}, b"{}"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def client(url: str, *, max_response_bytes: int = MAX_RESPONSE_BYTES) -> DcsClient:
    return DcsClient(
        url,
        PID,
        AkSkAuth("AK", "SK"),
        retry=RetryPolicy(attempts=2, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0),
        max_response_bytes=max_response_bytes,
    )


def virtual_engine(c: DcsClient, options: StopOptions) -> StopEngine:
    """An engine that waits on a virtual clock: its timeout passes without real sleeping."""
    clock = VirtualClock()
    return StopEngine(c, options, clock=clock.now, sleep=clock.sleep, wall=clock.now)


def ok(obj: object) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((200, {}, b"{not json"), "not valid JSON"),
        ((200, {}, b"<html>oops</html>"), "not valid JSON"),
        (ok({"count": "many", "migration_tasks": []}), "unexpected shape at count"),
        (ok({"count": 1, "migration_tasks": [{"status": "RUNNING"}]}), "migration_tasks.0.task_id"),
        (ok({"count": 1, "migration_tasks": "nope"}), "unexpected shape at migration_tasks"),
        (ok([1, 2, 3]), "unexpected shape"),
    ],
)
def test_malformed_answers_are_clear_protocol_errors(
    server: tuple[str, Script], answer: tuple[int, dict[str, str], bytes], expected: str
) -> None:
    url, script = server
    script.answers["list"] = answer
    with pytest.raises(DcsProtocolError, match=expected):
        client(url).list_tasks()


def test_huge_bodies_are_refused_not_buffered(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers["list"] = (
        200,
        {},
        b'{"count": 0, "migration_tasks": [' + b'{"task_id": "x"},' * 200_000 + b"]}",
    )
    with pytest.raises(DcsProtocolError, match="larger than 1048576 bytes"):
        client(url, max_response_bytes=1 << 20).list_tasks()


def test_hostile_error_bodies_still_give_typed_errors(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers["show"] = (400, {}, b"\xff\xfe garbage \x00" * 500)
    with pytest.raises(DcsApiError) as info:
        client(url).get_task(TID)
    assert info.value.status_code == 400 and len(str(info.value)) < 2500
    script.answers["show"] = ok({"task_id": TID, "status": None, "unexpected": {"deep": [1]}})
    assert client(url).get_task(TID).status is None  # a null status reads as unknown


def test_empty_success_body_is_no_empty_list(server: tuple[str, Script]) -> None:
    # An empty 200 is not the documented shape: an error, never "0 tasks" (issue 13, row 4).
    url, script = server
    for body in (b"", b"{}", b'{"count": 0}'):
        script.answers["list"] = (200, {}, body)
        with pytest.raises(DcsProtocolError, match="unexpected shape at migration_tasks"):
            client(url).list_tasks()
    script.answers["list"] = ok({"count": 0, "migration_tasks": []})
    page = client(url).list_tasks()
    assert page.count == 0 and page.migration_tasks == []


def test_unknown_status_never_waits_forever(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers["show"] = ok({"task_id": TID, "status": "QUANTUM_FLUX"})
    script.answers["batch_stop"] = ok({"migration_tasks": [{"task_id": TID, "result": "success"}]})
    with client(url) as c:
        report = virtual_engine(c, StopOptions(timeout=1.0)).run([TID])
    [outcome] = report.outcomes
    assert outcome.outcome is Outcome.TIMED_OUT and outcome.status == "QUANTUM_FLUX"
    assert 1.0 <= report.elapsed < 3.0  # virtual seconds: it gave up at its timeout


def test_a_batch_answer_missing_ids_is_not_a_success(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers["show"] = ok({"task_id": TID, "status": "INCRMIGEATING"})
    script.answers["batch_stop"] = ok({"migration_tasks": []})  # says nothing about our task
    with client(url) as c:
        report = virtual_engine(c, StopOptions(timeout=1.0, max_stop_attempts=2)).run([TID])
    [outcome] = report.outcomes
    assert not outcome.ok and outcome.status == "INCRMIGEATING"
    assert "missing from the answer" in (outcome.detail or "")
