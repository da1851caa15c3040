"""AkSkAuth must reproduce the official SDK's signatures byte for byte, and the verifier agree."""

import datetime as dt
import json
from pathlib import Path
from typing import TypedDict

import httpx
import pytest

from dcs_simulator.verify import Verdict, verify_request
from pulumi_dcs_migration.auth import (
    AkSkAuth,
    TokenAuth,
    canonical_query,
    canonical_uri,
)


class Expected(TypedDict):
    """What the official SDK produced for a vector (the fields these tests compare)."""

    url: str
    canonical_request: str
    authorization: str
    headers_after_signing: dict[str, str]


class Vector(TypedDict):
    """One signing vector recorded from the official SDK (tests/data/signing-vectors.json)."""

    id: str
    method: str
    scheme: str
    host: str
    path: str
    query: list[list[str]]
    headers_given: dict[str, str]
    body: str | None
    sdk_date: str
    ak: str
    sk: str
    project_id: str | None
    security_token: str | None
    expected: Expected


VECTORS: list[Vector] = json.loads(
    (Path(__file__).parent.parent / "data" / "signing-vectors.json").read_text()
)["vectors"]


def _request(v: Vector) -> httpx.Request:
    url = httpx.URL(f"{v['scheme']}://{v['host']}{v['path']}")
    if v["query"]:
        url = url.copy_with(params=[(name, value) for name, value in v["query"]])
    body = v["body"].encode() if v["body"] is not None else None
    return httpx.Request(v["method"], url, headers=v["headers_given"], content=body)


def _sign(v: Vector) -> httpx.Request:
    auth = AkSkAuth(
        v["ak"], v["sk"], security_token=v["security_token"], project_id=v["project_id"]
    )
    return next(auth.auth_flow(_request(v)))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_authorization_and_url(vector: Vector) -> None:
    signed = _sign(vector)
    assert signed.headers["Authorization"] == vector["expected"]["authorization"]
    assert str(signed.url) == vector["expected"]["url"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_headers_added(vector: Vector) -> None:
    signed = _sign(vector)
    for name, value in vector["expected"]["headers_after_signing"].items():
        assert signed.headers[name] == value


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_verifier_accepts_vector(vector: Vector) -> None:
    signed = _sign(vector)
    when = dt.datetime.strptime(vector["sdk_date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    verdict = verify_request(
        method=signed.method,
        raw_path=signed.url.raw_path.split(b"?")[0].decode(),
        raw_query=signed.url.query.decode(),
        headers=list(signed.headers.multi_items()),
        body=signed.content,
        secret_for={vector["ak"]: vector["sk"]}.get,
        now=when,
    )
    assert verdict.ok, verdict.reason
    assert verdict.canonical_request == vector["expected"]["canonical_request"]


def test_verifier_rejects_tampering_wrong_key_and_skew() -> None:
    v = next(x for x in VECTORS if x["body"])
    signed = _sign(v)
    when = dt.datetime.strptime(v["sdk_date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)

    def verify(body: bytes, secrets: dict[str, str], now: dt.datetime) -> Verdict:
        return verify_request(
            method=signed.method,
            raw_path=signed.url.path,
            raw_query="",
            headers=list(signed.headers.multi_items()),
            body=body,
            secret_for=secrets.get,
            now=now,
        )

    keys = {v["ak"]: v["sk"]}
    # The control: unchanged, the request passes, so each refusal below is for its own reason.
    assert verify(signed.content, keys, when).ok
    assert not verify(signed.content + b" ", keys, when).ok
    assert not verify(signed.content, {v["ak"]: "other"}, when).ok
    assert not verify(signed.content, {}, when).ok
    late = verify(signed.content, keys, when + dt.timedelta(minutes=16))
    assert not late.ok and "15 minutes" in late.reason


def test_signs_with_current_clock_when_no_date_given() -> None:
    request = httpx.Request("GET", "https://dcs.cn-north-4.myhuaweicloud.com/v2/p/migration-tasks")
    # X-Sdk-Date has whole seconds: the moment of signing, truncated, lies in this bracket.
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signed = next(AkSkAuth("AK", "SK").auth_flow(request))
    after = dt.datetime.now(dt.UTC)
    sent = dt.datetime.strptime(signed.headers["X-Sdk-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.UTC
    )
    assert before <= sent <= after
    assert verify_request(
        method="GET",
        raw_path=signed.url.path,
        raw_query="",
        headers=list(signed.headers.multi_items()),
        body=b"",
        secret_for={"AK": "SK"}.get,
    ).ok


def test_content_length_and_connection_are_not_signed() -> None:
    request = httpx.Request(
        "POST",
        "https://h/v2/p/x",
        content=b"{}",
        headers={"Content-Type": "application/json", "Connection": "keep-alive"},
    )
    signed = next(AkSkAuth("AK", "SK").auth_flow(request))
    assert "SignedHeaders=content-type;host;x-sdk-date," in signed.headers["Authorization"]


def test_secrets_never_in_repr() -> None:
    auth = AkSkAuth("AKVISIBLE", "SUPERSECRET", security_token="TOKENSECRET")
    assert "SUPERSECRET" not in repr(auth) and "TOKENSECRET" not in repr(auth)
    assert "TOKENSECRET" not in repr(TokenAuth("TOKENSECRET"))


def test_token_auth_sets_header() -> None:
    signed = next(TokenAuth("tok").auth_flow(httpx.Request("GET", "https://h/")))
    assert signed.headers["X-Auth-Token"] == "tok" and "Authorization" not in signed.headers


def test_canonical_uri_quirks() -> None:
    assert canonical_uri("/v2/p/migration-tasks") == "/v2/p/migration-tasks/"
    assert canonical_uri("/v2/p/") == "/v2/p/"
    assert canonical_uri("/a%2Fb") == "/a/b/"  # SDK quirk: encoded slash becomes a separator
    assert canonical_query([("b", "2"), ("a", "x y"), ("a", "1")]) == "a=1&a=x%20y&b=2"


def test_empty_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="access_key"):
        AkSkAuth("", "sk")
    with pytest.raises(ValueError, match="secret_key"):
        AkSkAuth("ak", "")
