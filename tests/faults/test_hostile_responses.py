"""The client and the engine against a real HTTP server that answers badly on purpose: the
hostile server of ``tests/hostile`` in its ``scripted`` mode, each test setting the answers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dcs_simulator import DEMO_PROJECT_ID
from dcs_simulator.testing import VirtualClock
from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import MAX_RESPONSE_BYTES, DcsClient
from pulumi_dcs_migration.clock import SYSTEM_CLOCK, Clock
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import DcsApiError, DcsProtocolError
from pulumi_dcs_migration.policy import RetryPolicy

from ..hostile.server import Answer, HostileServer

PID = DEMO_PROJECT_ID  # any well-formed project id
TID = "b21989ec-2889-4b8e-99db-19c073425ec2"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    """A server sending what a test puts in ``server.answers`` per kind of request (404 else)."""
    with HostileServer("scripted") as server:
        yield server


def client(
    url: str, *, max_response_bytes: int = MAX_RESPONSE_BYTES, clock: Clock = SYSTEM_CLOCK
) -> DcsClient:
    return DcsClient(
        url,
        PID,
        AkSkAuth("AK", "SK"),
        retry=RetryPolicy(attempts=2, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0),
        max_response_bytes=max_response_bytes,
        clock=clock,
    )


def virtual_engine(c: DcsClient, options: StopOptions) -> StopEngine:
    """An engine that waits on the client's virtual clock: its timeout passes without real
    sleeping (the client must be made with ``clock=VirtualClock()``)."""
    return StopEngine(c, options, clock=c.policy.clock)


def ok(obj: object) -> Answer:
    return Answer(200, json.dumps(obj).encode(), {"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(200, b"{not json"), "not valid JSON"),
        (Answer(200, b"<html>oops</html>"), "not valid JSON"),
        (ok({"count": "many", "migration_tasks": []}), "unexpected shape at count"),
        (ok({"count": 1, "migration_tasks": [{"status": "RUNNING"}]}), "migration_tasks.0.task_id"),
        (ok({"count": 1, "migration_tasks": "nope"}), "unexpected shape at migration_tasks"),
        (ok([1, 2, 3]), "unexpected shape"),
    ],
)
def test_malformed_answers_are_clear_protocol_errors(
    server: HostileServer, answer: Answer, expected: str
) -> None:
    server.answers["list"] = answer
    with pytest.raises(DcsProtocolError, match=expected):
        client(server.url).list_tasks()


def test_huge_bodies_are_refused_not_buffered(server: HostileServer) -> None:
    server.answers["list"] = Answer(
        200, b'{"count": 0, "migration_tasks": [' + b'{"task_id": "x"},' * 200_000 + b"]}"
    )
    with pytest.raises(DcsProtocolError, match="larger than 1048576 bytes"):
        client(server.url, max_response_bytes=1 << 20).list_tasks()


def test_hostile_error_bodies_still_give_typed_errors(server: HostileServer) -> None:
    server.answers["show"] = Answer(400, b"\xff\xfe garbage \x00" * 500)
    with pytest.raises(DcsApiError) as info:
        client(server.url).get_task(TID)
    assert info.value.status_code == 400 and len(str(info.value)) < 2500
    server.answers["show"] = ok({"task_id": TID, "status": None, "unexpected": {"deep": [1]}})
    assert client(server.url).get_task(TID).status is None  # a null status reads as unknown


def test_empty_success_body_is_no_empty_list(server: HostileServer) -> None:
    # An empty 200 is not the documented shape: an error, never "0 tasks".
    for body in (b"", b"{}", b'{"count": 0}'):
        server.answers["list"] = Answer(200, body)
        with pytest.raises(DcsProtocolError, match="unexpected shape at migration_tasks"):
            client(server.url).list_tasks()
    server.answers["list"] = ok({"count": 0, "migration_tasks": []})
    page = client(server.url).list_tasks()
    assert page.count == 0 and page.migration_tasks == []


def test_unknown_status_never_waits_forever(server: HostileServer) -> None:
    server.answers["show"] = ok({"task_id": TID, "status": "QUANTUM_FLUX"})
    server.answers["batch_stop"] = ok({"migration_tasks": [{"task_id": TID, "result": "success"}]})
    with client(server.url, clock=VirtualClock()) as c:
        report = virtual_engine(c, StopOptions(timeout=1.0)).run([TID])
    [outcome] = report.outcomes
    assert outcome.outcome is Outcome.TIMED_OUT and outcome.status == "QUANTUM_FLUX"
    assert 1.0 <= report.elapsed < 3.0  # virtual seconds: it gave up at its timeout


def test_a_batch_answer_missing_ids_is_not_a_success(server: HostileServer) -> None:
    server.answers["show"] = ok({"task_id": TID, "status": "INCRMIGEATING"})
    server.answers["batch_stop"] = ok({"migration_tasks": []})  # says nothing about our task
    with client(server.url, clock=VirtualClock()) as c:
        report = virtual_engine(c, StopOptions(timeout=1.0, max_stop_attempts=2)).run([TID])
    [outcome] = report.outcomes
    assert not outcome.ok and outcome.status == "INCRMIGEATING"
    assert "missing from the answer" in (outcome.detail or "")
