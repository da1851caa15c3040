"""Authentication: AK/SK signatures checked with ``auth.verify_request``, tokens, STS tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator

import httpx
import pytest

from dcs_simulator import (
    DEMO_ACCESS_KEY,
    DEMO_PROJECT_ID,
    DEMO_SECRET_KEY,
    RunningSimulator,
)
from pulumi_dcs_migration.auth import AkSkAuth, TokenAuth, sdk_date

from ..conftest import SimulatorFactory
from .sim_helpers import HttpClientFactory, P

AUTH_PREFIX = "Incorrect IAM authentication information: "


def assert_unauthorized(response: httpx.Response, reason: str) -> str:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error_code"] == "APIGW.0301"
    assert body["error_msg"].startswith(AUTH_PREFIX)
    assert reason in body["error_msg"]
    assert body["request_id"] == response.headers["X-Request-Id"]  # gateway errors carry it
    message: str = body["error_msg"]
    return message


def test_valid_signature_is_accepted(dcs: httpx.Client) -> None:
    assert dcs.get(f"{P}/migration-tasks", params={"limit": 5, "name": "a b"}).status_code == 200


def test_bad_secret_key(simulator: RunningSimulator, http_client_for: HttpClientFactory) -> None:
    client = http_client_for(simulator, AkSkAuth(DEMO_ACCESS_KEY, "not-the-secret"))
    message = assert_unauthorized(client.get(f"{P}/migration-tasks"), "signature mismatch")
    # As the real gateway does, the message shows its canonical request with | for newlines.
    assert f"GET|{P}/migration-tasks/|" in message
    assert "x-sdk-date:" in message


def test_unknown_access_key(
    simulator: RunningSimulator, http_client_for: HttpClientFactory
) -> None:
    client = http_client_for(simulator, AkSkAuth("SOMEOTHERAK", DEMO_SECRET_KEY))
    assert_unauthorized(client.get(f"{P}/migration-tasks"), "unknown access key")


@pytest.mark.parametrize("minutes", [16, -16])
def test_date_16_minutes_off(
    simulator: RunningSimulator, http_client_for: HttpClientFactory, minutes: int
) -> None:
    client = http_client_for(simulator)
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    response = client.get(f"{P}/migration-tasks", headers={"X-Sdk-Date": sdk_date(when)})
    assert_unauthorized(response, "15 minutes")


def test_date_14_minutes_off_is_fine(
    simulator: RunningSimulator, http_client_for: HttpClientFactory
) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=14)
    response = http_client_for(simulator).get(
        f"{P}/migration-tasks", headers={"X-Sdk-Date": sdk_date(when)}
    )
    assert response.status_code == 200


class _TamperBody(httpx.Auth):
    """Sign, then change the body: the gateway must notice."""

    requires_request_body = True

    def __init__(self) -> None:
        self.inner = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.inner.sign(request)
        tampered = request.content.replace(b"a", b"b")
        request.stream = httpx.ByteStream(tampered)
        request._content = tampered
        request.headers["Content-Length"] = str(len(tampered))
        yield request


def test_tampered_body(simulator: RunningSimulator, http_client_for: HttpClientFactory) -> None:
    client = http_client_for(simulator, _TamperBody())
    response = client.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": ["aaaa"]})
    assert_unauthorized(response, "signature mismatch")


def test_tampered_query(simulator: RunningSimulator, http_client_for: HttpClientFactory) -> None:
    client = http_client_for(simulator)
    request = client.build_request("GET", f"{P}/migration-tasks", params={"limit": 5})
    signed = next(AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY).auth_flow(request))
    signed.url = signed.url.copy_with(query=b"limit=6")
    plain = httpx.Client(timeout=10)
    try:
        assert_unauthorized(plain.send(signed), "signature mismatch")
    finally:
        plain.close()


def test_missing_credentials(simulator: RunningSimulator) -> None:
    with httpx.Client(base_url=simulator.url) as client:
        response = client.get(f"{P}/migration-tasks")
    assert_unauthorized(response, "no X-Auth-Token and no Authorization header")


def test_malformed_authorization(simulator: RunningSimulator) -> None:
    with httpx.Client(base_url=simulator.url) as client:
        response = client.get(f"{P}/migration-tasks", headers={"Authorization": "Basic abc"})
    assert_unauthorized(response, "malformed Authorization")


def test_token_auth(
    simulator_factory: SimulatorFactory, http_client_for: HttpClientFactory
) -> None:
    sim = simulator_factory(tokens=("tok-1", "tok-2"))
    assert http_client_for(sim, TokenAuth("tok-2")).get(f"{P}/migration-tasks").status_code == 200
    response = http_client_for(sim, TokenAuth("tok-3")).get(f"{P}/migration-tasks")
    assert_unauthorized(response, "decrypt token fail")


def test_security_token_required_and_signed(
    simulator_factory: SimulatorFactory, http_client_for: HttpClientFactory
) -> None:
    sim = simulator_factory(security_token="sts-token")
    good = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, security_token="sts-token")
    assert http_client_for(sim, good).get(f"{P}/migration-tasks").status_code == 200
    missing = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    assert_unauthorized(
        http_client_for(sim, missing).get(f"{P}/migration-tasks"), "X-Security-Token"
    )
    wrong = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, security_token="other")
    assert_unauthorized(http_client_for(sim, wrong).get(f"{P}/migration-tasks"), "X-Security-Token")


def test_auth_runs_before_project_check(
    simulator: RunningSimulator, http_client_for: HttpClientFactory
) -> None:
    client = http_client_for(simulator, AkSkAuth(DEMO_ACCESS_KEY, "bad"))
    other = "f" * 32
    assert client.get(f"/v2/{other}/migration-tasks").status_code == 401
    assert other != DEMO_PROJECT_ID


def test_unauthorized_is_counted(
    simulator: RunningSimulator, http_client_for: HttpClientFactory
) -> None:
    client = http_client_for(simulator, AkSkAuth(DEMO_ACCESS_KEY, "bad"))
    client.get(f"{P}/migration-tasks")
    client.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": ["x"]})
    counters = simulator.admin.counters()
    assert counters["unauthorized"] == 2
    assert counters["list"] == 1 and counters["batch_stop"] == 1
