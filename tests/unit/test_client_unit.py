"""DcsClient over httpx.MockTransport: errors, retries, pagination, validation, secrets."""

import json
from collections.abc import Callable
from functools import partial

import httpx
import pytest

from dcs_simulator import DEMO_PROJECT_ID
from dcs_simulator.testing import VirtualClock
from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import DcsClient
from pulumi_dcs_migration.errors import (
    AuthenticationError,
    DcsApiError,
    DcsProtocolError,
    DcsTransportError,
    InvalidTaskIdError,
    PermissionDeniedError,
    ServerError,
    TaskNotFoundError,
    ThrottledError,
)
from pulumi_dcs_migration.policy import RetryPolicy, retry_decision

PID = DEMO_PROJECT_ID  # any well-formed project id
TID = "b21989ec-2889-4b8e-99db-19c073425ec2"


def make(handler: Callable[[httpx.Request], httpx.Response]) -> DcsClient:
    """A client whose retries (4 attempts) wait on a virtual clock: no real sleep."""
    return DcsClient(
        "https://dcs.cn-north-4.myhuaweicloud.com",
        PID,
        AkSkAuth("MYAK", "MYSK"),
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=4),
        clock=VirtualClock(),
    )


def err(status: int, code: str, msg: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error_code": code, "error_msg": msg},
        headers={"X-Request-Id": "rid-1", **(headers or {})},
    )


def test_requests_are_signed_and_paths_right() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(
            200, json={"migration_tasks": [{"task_id": TID, "result": "success"}]}
        )

    results = make(handler).batch_stop([TID])
    assert results[0].succeeded
    req = seen[0]
    assert req.url.path == f"/v2/{PID}/migration-task/batch-stop"
    assert req.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=MYAK, ")
    assert json.loads(req.content) == {"migration_tasks": [TID]}


@pytest.mark.parametrize(
    ("status", "code", "cls", "hint"),
    [
        (401, "APIGW.0301", AuthenticationError, "clock"),
        (403, "DCS.2003", PermissionDeniedError, "dcs:migrationTask:modify"),
        (400, "DCS.4133", TaskNotFoundError, "task id"),
        (400, "DCS.4855", DcsApiError, "invalid migration task id"),
    ],
)
def test_errors_are_typed_with_hints(
    status: int, code: str, cls: type[DcsApiError], hint: str
) -> None:
    client = make(lambda r: err(status, code, "boom"))
    with pytest.raises(cls) as info:
        client.get_task(TID)
    e = info.value
    assert e.status_code == status and e.error_code == code and e.request_id == "rid-1"
    assert "show task failed" in str(e) and code in str(e) and hint in str(e)


def test_retries_5xx_then_succeeds_and_never_retries_4xx() -> None:
    calls = {"n": 0}

    def flaky(req: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return (
            err(503, "DCS.5000", "down")
            if calls["n"] < 3
            else httpx.Response(200, json={"count": 0, "migration_tasks": []})
        )

    assert make(flaky).list_tasks().count == 0 and calls["n"] == 3
    calls["n"] = 0

    def bad(req: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return err(400, "DCS.4855", "bad")

    with pytest.raises(DcsApiError):
        make(bad).batch_stop([TID])
    assert calls["n"] == 1


def test_429_retried_and_gives_up_with_throttled_error() -> None:
    calls = {"n": 0}

    def throttled(req: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return err(
            429, "APIGW.0308", "The throttling threshold has been reached", {"Retry-After": "2"}
        )

    with pytest.raises(ThrottledError) as info:
        make(throttled).list_tasks()
    assert calls["n"] == 4 and info.value.retry_after == 2.0


def test_backoff_hook_honours_retry_after_and_idempotency() -> None:
    hook = partial(retry_decision, policy=RetryPolicy(max_retry_after=30), idempotent=True)
    t = ThrottledError("op", 429, "APIGW.0308", "x")
    t.retry_after = 7.0
    assert hook(t) == 7.0
    t.retry_after = 999.0
    assert hook(t) == 30
    t.retry_after = None
    assert hook(t) is True
    assert hook(ServerError("op", 500, "DCS.5000", "x")) is True
    assert hook(DcsApiError("op", 400, "DCS.4855", "x")) is False
    assert hook(AuthenticationError("op", 401, "APIGW.0301", "x")) is False
    req = httpx.Request("POST", "https://h")
    non_idem = partial(retry_decision, policy=RetryPolicy(), idempotent=False)
    assert non_idem(httpx.ConnectError("refused", request=req)) is True
    assert non_idem(httpx.ReadError("reset", request=req)) is False
    assert non_idem(ServerError("op", 500, None, None)) is False


def test_connection_errors_become_transport_error() -> None:
    def down(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    with pytest.raises(DcsTransportError, match="could not reach"):
        make(down).list_tasks()


def test_pagination_is_transparent_and_dedupes() -> None:
    ids = [f"{i:032x}" for i in range(25)]

    def pages(req: httpx.Request) -> httpx.Response:
        off, lim = int(req.url.params["offset"]), int(req.url.params["limit"])
        # the list shifts by one between pages: one id comes twice
        start = off - 1 if off else 0
        return httpx.Response(
            200,
            json={
                "count": 25,
                "migration_tasks": [
                    {"task_id": t, "status": "RUNNING"} for t in ids[start : start + lim]
                ],
            },
        )

    got = [t.task_id for t in make(pages).iter_tasks(page_size=10)]
    assert got == ids[: len(got)] and len(set(got)) == len(got) and len(got) >= 23


@pytest.mark.parametrize("bad", ["../other", "a/b", "x?y=1", "a b", "%2e%2e", "é"])
def test_invalid_ids_never_reach_the_wire(bad: str) -> None:
    def never(req: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    client = make(never)
    with pytest.raises(InvalidTaskIdError):
        client.get_task(bad)
    with pytest.raises(InvalidTaskIdError):
        client.batch_stop([TID, bad])


@pytest.mark.parametrize("body", [b"not json", b'{"migration_tasks": "nope"}', b"[1,2]"])
def test_unreadable_answers_are_protocol_errors(body: bytes) -> None:
    client = make(lambda r: httpx.Response(200, content=body))
    with pytest.raises(DcsProtocolError):
        client.batch_stop([TID])


def test_non_json_error_body_and_scrubbed_secrets() -> None:
    client = DcsClient(
        "https://dcs.cn-north-4.myhuaweicloud.com",
        PID,
        AkSkAuth("MYAK", "MYSK"),
        secrets=["MYAK", "MYSK"],
        transport=httpx.MockTransport(
            lambda r: httpx.Response(
                401,
                json={
                    "error_code": "APIGW.0301",
                    "error_msg": "verify aksk signature fail MYAK MYSK",
                },
            )
        ),
    )
    with pytest.raises(AuthenticationError) as info:
        client.list_tasks()
    assert "MYSK" not in str(info.value) and "MYAK" not in str(info.value)
    gateway = make(lambda r: httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(ServerError, match="Bad Gateway"):
        gateway.list_tasks()


def test_repr_has_no_secrets() -> None:
    client = make(lambda r: httpx.Response(200))
    assert "MYSK" not in repr(client)
