"""Hostile endpoints at the library tier: :class:`DcsClient`, the stop engine, settings and the
Pulumi provider against the same hostile servers as the command-line tier.

The time bounds are guards against hangs (a deadline plus :data:`~.harness.GUARD`), not speed
assertions; memory is measured in a subprocess (:func:`~.harness.run_python`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import MAX_LIST_PAGES, DcsClient
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import (
    AuthenticationError,
    ConfigurationError,
    DcsApiError,
    DcsProtocolError,
    DcsTransportError,
    DeadlineExceeded,
    InvalidTaskIdError,
    OperationFailed,
    ThrottledError,
)
from pulumi_dcs_migration.policy import RetryPolicy
from pulumi_dcs_migration.ratelimit import MemoryStore, RateLimiter
from pulumi_dcs_migration.redact import MASK, one_line
from pulumi_dcs_migration.resource import MigrationTasksStoppedProvider
from pulumi_dcs_migration.settings import Layer, explicit, positive_seconds, resolve

from .conftest import ServerFactory
from .harness import GUARD, base_env, leaks, run_python
from .server import (
    ACCESS_KEY,
    AUTH_TOKEN,
    ESCAPES,
    IDS,
    PID,
    SECRET_KEY,
    SECURITY_TOKEN,
)

A, B, C = IDS
FAST = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0)
CONTROL = {chr(c) for c in [*range(0x20), 0x7F]} - {"\n", "\t"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The credentials of the hostile server in the real environment, nothing else of ours."""
    for name in (
        "HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_SECURITY_TOKEN", "HW_AUTH_TOKEN", "HW_PROJECT_ID",
        "HW_REGION_NAME", "HW_DCS_ENDPOINT", "HW_DCS_CA_BUNDLE", "HW_DCS_INSECURE_SKIP_VERIFY",
        "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        "HUAWEICLOUD_SDK_PROJECT_ID", "HUAWEICLOUD_SDK_REGION",
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
        "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HW_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("HW_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("HW_SECURITY_TOKEN", SECURITY_TOKEN)
    monkeypatch.setenv("HW_PROJECT_ID", PID)
    yield


def client_for(url: str, **kw: object) -> DcsClient:
    """A client of ``url`` with the environment's credentials (secrets scrubbed, as in use)."""
    settings = resolve(explicit(endpoint=url))
    kw.setdefault("retry", FAST)
    return DcsClient.from_settings(settings, **kw)


def every_part(exc: BaseException) -> str:
    """Everything an error carries that could be shown: message, repr, structured fields."""
    parts = [str(exc), repr(exc)]
    if isinstance(exc, DcsApiError):
        parts += [exc.describe(verbose=True), exc.error_code or "", exc.error_msg or ""]
        parts += [exc.request_id or "", exc.note or ""]
    for name in ("detail", "request_id", "reason"):
        parts.append(str(getattr(exc, name, "") or ""))
    return "\n".join(parts)


# --- an error echoing the credentials -------------------------------------------------------------


def test_every_part_of_an_error_echoing_credentials_is_scrubbed(hostile: ServerFactory) -> None:
    server = hostile("echo_json")
    with client_for(server.url) as client, pytest.raises(AuthenticationError) as info:
        client.list_tasks()
    assert leaks(every_part(info.value)) == []
    assert info.value.request_id == MASK and MASK in (info.value.error_code or "")


# --- a long plain-text error echoing the headers across the cut-off points ------------------------


def test_a_long_error_text_is_scrubbed_before_any_cut(hostile: ServerFactory) -> None:
    server = hostile("echo_text")
    with client_for(server.url) as client, pytest.raises(DcsApiError) as info:
        client.get_task(A)
    assert leaks(every_part(info.value)) == []
    assert (info.value.error_msg or "").count(MASK) >= 2  # both echoes, each masked whole


# --- a credential with a stray CR or LF -----------------------------------------------------------


@pytest.mark.parametrize("variable", ["HW_SECURITY_TOKEN", "HW_SECRET_KEY", "HW_AUTH_TOKEN"])
def test_control_characters_in_a_credential_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    value = {"HW_SECURITY_TOKEN": SECURITY_TOKEN, "HW_SECRET_KEY": SECRET_KEY}.get(
        variable, AUTH_TOKEN
    )
    monkeypatch.setenv(variable, value + "\r\n")
    with pytest.raises(ConfigurationError) as info:
        resolve(explicit(endpoint="http://127.0.0.1:9"))
    assert variable in str(info.value) and leaks(every_part(info.value)) == []


def test_a_library_caller_passing_a_crlf_token_gets_a_scrubbed_error(
    hostile: ServerFactory,
) -> None:
    # Past the settings (a caller building the auth itself): httpx's "Illegal header value"
    # quotes the token escaped; the scrubber knows that form.
    server = hostile("ok")
    token = SECURITY_TOKEN[:20] + "\r\n" + SECURITY_TOKEN[20:]  # a trailing one is stripped
    auth = AkSkAuth(ACCESS_KEY, SECRET_KEY, security_token=token, project_id=PID)
    client = DcsClient(server.url, PID, auth, secrets=[ACCESS_KEY, SECRET_KEY, token], retry=FAST)
    with client, pytest.raises(DcsTransportError) as info:
        client.list_tasks()
    assert leaks(every_part(info.value)) == [] and server.seen == []


# --- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_protocol_error_naming_status_and_host(
    hostile: ServerFactory, status: int
) -> None:
    server = hostile(f"redirect_{status}")
    with client_for(server.url) as client:
        with pytest.raises(DcsProtocolError, match=f"HTTP {status} redirect to evil.example"):
            list(client.iter_tasks())
        with pytest.raises(DcsProtocolError) as info:
            client.batch_stop([A])
    assert leaks(every_part(info.value)) == [] and len(server.seen) == 2


# --- a count of a billion -------------------------------------------------------------------------


def test_the_engine_pages_a_few_at_a_time_whatever_count_claims(
    hostile: ServerFactory,
) -> None:
    server = hostile("huge_count")
    with client_for(server.url) as client:
        started = time.monotonic()
        report = StopEngine(client, StopOptions(timeout=2.0)).run([A, B, C])
        seconds = time.monotonic() - started
    assert seconds < 2.0 + GUARD
    assert [o.outcome for o in report.outcomes] == [Outcome.TIMED_OUT] * 3
    offsets = [s.query("offset") for s in server.seen if s.path.endswith("/migration-tasks")]
    assert max(offsets) <= 4000  # the first wave of pages at most, never one per claimed page
    looks = offsets.count(0)
    assert len(offsets) <= 5 * looks  # each look: the first page, then one wave of 4 at most


# --- pages that never end -------------------------------------------------------------------------


def test_a_listing_that_never_ends_stops_at_the_page_limit(
    hostile: ServerFactory,
) -> None:
    server = hostile("endless_pages")
    with client_for(server.url) as client, pytest.raises(DcsProtocolError, match="did not end"):
        for _ in client.iter_tasks():
            pass
    assert len(server.seen) == MAX_LIST_PAGES


def test_the_engine_stops_paging_and_asks_for_the_missing_tasks(
    hostile: ServerFactory,
) -> None:
    server = hostile("endless_pages")  # never lists A, B or C; their details answer
    with client_for(server.url) as client:
        looks = StopEngine(client, StopOptions(timeout=20)).read([A, B, C])
    assert [o.status for o in looks] == ["INCRMIGEATING"] * 3
    pages = [s for s in server.seen if s.path.endswith("/migration-tasks")]
    assert len(pages) == MAX_LIST_PAGES


def test_an_endless_listing_stops_at_its_deadline(hostile: ServerFactory) -> None:
    server = hostile("endless_pages")
    with client_for(server.url) as client:
        started = time.monotonic()
        with client.deadline(started + 0.3), pytest.raises(DeadlineExceeded):
            for _ in client.iter_tasks():
                pass
    assert time.monotonic() - started < 0.3 + GUARD


# --- a trickling server; 429 with Retry-After: 60 -------------------------------------------------


@pytest.mark.parametrize("mode", ["trickle", "trickle_fast"])
@pytest.mark.parametrize("call", ["list", "show", "stop"])
def test_a_trickling_answer_ends_at_the_deadline(
    hostile: ServerFactory, call: str, mode: str
) -> None:
    # trickle_fast: every read gets its byte long before any per-read timeout; only a bound on
    # the whole answer (the deadline of every socket operation) ends it.
    server = hostile(mode)
    with client_for(server.url) as client:
        started = time.monotonic()
        with client.deadline(started + 1.5), pytest.raises(DeadlineExceeded, match="deadline"):
            if call == "list":
                client.list_tasks()
            elif call == "show":
                client.get_task(A)
            else:
                client.batch_stop([A])
        seconds = time.monotonic() - started
    assert seconds < 1.5 + GUARD


def test_a_retry_after_beyond_the_deadline_ends_the_call_at_once(
    hostile: ServerFactory,
) -> None:
    server = hostile("throttle")
    with client_for(server.url) as client:
        started = time.monotonic()
        with client.deadline(started + 3), pytest.raises(DeadlineExceeded) as info:
            client.list_tasks()
        assert time.monotonic() - started < 3  # no wait at all: 60 s could never fit
        # Without a deadline: the usual retries, then 429. (A rate limit of its own: the shared
        # one now holds every request for the 60 s the server asked for.)
        alone = RateLimiter(store=MemoryStore())
        with pytest.raises(ThrottledError):
            quick = RetryPolicy(attempts=2, max_retry_after=0.01)
            client_for(server.url, retry=quick, limiter=alone).get_task(A)
    assert "retry after 60s" in str(info.value) and len(server.seen) == 3


def test_the_engine_reports_what_it_knows_when_the_api_stalls(hostile: ServerFactory) -> None:
    server = hostile("trickle")
    with client_for(server.url) as client:
        started = time.monotonic()
        report = StopEngine(client, StopOptions(timeout=1.0)).run([A])
        seconds = time.monotonic() - started
    [outcome] = report.outcomes
    assert outcome.outcome is Outcome.TIMED_OUT and "deadline" in (outcome.detail or "")
    assert seconds < 1.0 + GUARD


# --- big answers ----------------------------------------------------------------------------------


PEAK_SNIPPET = """
import sys
from pulumi_dcs_migration.client import DcsClient
from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.errors import DcsProtocolError
client = DcsClient(sys.argv[1], "{pid}", AkSkAuth("AK", "SK"))
try:
    page = client.list_tasks()
    print("accepted", len(page.migration_tasks))
except DcsProtocolError as exc:
    print("refused", exc)
"""


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("huge_body", "refused"),
        ("huge_body_unsized", "refused"),
        ("gzip_bomb", "refused"),
        ("long_string", "accepted"),
        ("many_values", "accepted"),
    ],
)
def test_any_answer_costs_bounded_memory(hostile: ServerFactory, mode: str, outcome: str) -> None:
    server = hostile(mode)
    code = PEAK_SNIPPET.format(pid=PID).replace("sys.argv[1]", repr(server.url))
    run = run_python(code, base_env())
    assert run.code == 0 and run.out.decode().startswith(outcome), run.text()
    assert run.peak_mb < 300, f"{run.peak_mb:.0f} MB"


def test_the_byte_cap_is_checked_before_reading(hostile: ServerFactory) -> None:
    server = hostile("huge_body")
    with client_for(server.url) as client, pytest.raises(DcsProtocolError, match="larger than"):
        client.list_tasks()


# --- malformed answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("deep_json", "nested too deeply"),
        ("deep_json_500", "nested more than 32 deep"),
        ("bad_utf8", "not UTF-8"),
        ("wrong_types", "unexpected shape"),
    ],
)
def test_malformed_answers_are_protocol_errors(
    hostile: ServerFactory, mode: str, says: str
) -> None:
    server = hostile(mode)
    with client_for(server.url) as client, pytest.raises(DcsProtocolError, match=says):
        client.list_tasks()


def test_a_deeply_nested_error_answer_is_still_a_typed_error(
    hostile: ServerFactory,
) -> None:
    server = hostile("deep_error")
    with client_for(server.url) as client, pytest.raises(DcsApiError) as info:
        client.get_task(A)
    assert info.value.status_code == 400 and len(str(info.value)) < 1000


# --- bad settings, named --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "env", "named"),
    [
        ({"endpoint": "https://a..b"}, {}, "endpoint"),
        ({}, {"HW_DCS_ENDPOINT": "https://a..b"}, "HW_DCS_ENDPOINT"),
        ({}, {"HW_DCS_INSECURE_SKIP_VERIFY": "banana"}, "HW_DCS_INSECURE_SKIP_VERIFY"),
        ({"ca_bundle": "/etc/passwd"}, {}, "ca_bundle"),
        ({}, {"HW_DCS_CA_BUNDLE": "/etc/passwd"}, "HW_DCS_CA_BUNDLE"),
    ],
)
def test_bad_settings_are_configuration_errors_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, layer: dict[str, str], env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    values = {} if "HW_DCS_ENDPOINT" in env else {"endpoint": "http://127.0.0.1:9"}
    values.update(layer)
    with pytest.raises(ConfigurationError, match=named):
        resolve(explicit(**values))


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1, "3", True])
def test_a_timeout_is_finite_positive_seconds(value: object) -> None:
    with pytest.raises(ConfigurationError, match="--timeout"):
        positive_seconds(value, "--timeout")


# --- TLS settings from the environment, an explicit verify winning --------------------------------


def test_tls_settings_come_from_the_environment_and_an_explicit_verify_wins(
    hostile: ServerFactory, monkeypatch: pytest.MonkeyPatch, tls_files: tuple[Path, Path]
) -> None:
    server = hostile("ok", tls=True, tls_files=tls_files)
    monkeypatch.setenv("HW_DCS_CA_BUNDLE", str(tls_files[0]))
    with client_for(server.url) as client:
        assert client.list_tasks().count == 3
    monkeypatch.delenv("HW_DCS_CA_BUNDLE")
    monkeypatch.setenv("HW_DCS_INSECURE_SKIP_VERIFY", "true")
    assert resolve(explicit(endpoint=server.url)).verify is False
    option = Layer({"endpoint": server.url, "insecure_skip_verify": False}, lambda s: s, "option")
    settings = resolve(option)
    assert settings.verify is True
    started = time.monotonic()
    with DcsClient.from_settings(settings) as client, pytest.raises(DcsTransportError):
        client.list_tasks()
    assert time.monotonic() - started < GUARD  # a refused certificate is not retried


# --- proxies --------------------------------------------------------------------------------------


def test_proxies_never_see_a_plain_http_request(
    hostile: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, proxy = hostile("ok"), hostile("sink")
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    with client_for(server.url) as client:
        assert client.list_tasks().count == 3
    assert proxy.seen == [] and len(server.seen) == 1


def test_proxies_still_carry_https(
    hostile: ServerFactory, monkeypatch: pytest.MonkeyPatch, tls_files: tuple[Path, Path]
) -> None:
    server, proxy = hostile("ok", tls=True, tls_files=tls_files), hostile("sink")
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("HW_DCS_CA_BUNDLE", str(tls_files[0]))
    with client_for(server.url) as client, pytest.raises(DcsTransportError):
        client.list_tasks()
    assert proxy.seen and proxy.seen[0].method == "CONNECT" and server.seen == []


# --- terminal escape codes from the server --------------------------------------------------------


def test_server_text_is_made_safe_where_it_enters_errors_and_data_alike(
    hostile: ServerFactory,
) -> None:
    server = hostile("escapes")
    with client_for(server.url) as client:
        with pytest.raises(DcsApiError) as info:
            client.get_task(B)
        assert not CONTROL & set(str(info.value))
        assert not CONTROL & set(info.value.describe(verbose=True))
        assert "\\x1b[2J" in str(info.value)
        # The data is made safe too, once, as it enters: one line, every escape visible.
        assert info.value.error_msg == one_line("refused" + ESCAPES)
        page = client.list_tasks()
        assert page.migration_tasks[0].task_name == one_line("name" + ESCAPES)
        [result, *_] = client.batch_stop([A])
        assert result.error_msg == one_line(ESCAPES)


# --- a 10 MB bad id -------------------------------------------------------------------------------


def test_a_huge_bad_id_is_shown_bounded_with_its_length() -> None:
    huge = "x" * (10 * 1024 * 1024)
    message = str(InvalidTaskIdError(huge))
    assert len(message) < 300 and "(10485760 characters)" in message


# --- the Pulumi path: check and the resource's errors are scrubbed the same way ----------------


def test_pulumi_check_and_create_never_show_a_secret(hostile: ServerFactory) -> None:
    server = hostile("echo_json")
    provider = MigrationTasksStoppedProvider()
    news = {"task_ids": [A], "project_id": PID, "endpoint": server.url}
    result = provider.check({}, news)
    reasons = " ".join(f.reason for f in result.failures)
    assert "HTTP 401" in reasons and leaks(reasons) == []
    with pytest.raises(OperationFailed) as info:
        provider.create({**news, "timeout_seconds": 5})
    assert leaks(every_part(info.value)) == []


def test_pulumi_create_ends_at_timeout_seconds_against_a_stalled_api(
    hostile: ServerFactory,
) -> None:
    server = hostile("trickle")
    provider = MigrationTasksStoppedProvider()
    inputs = {"task_ids": [A], "project_id": PID, "endpoint": server.url, "timeout_seconds": 1}
    started = time.monotonic()
    with pytest.raises(OperationFailed, match=r"timed_out|deadline"):
        provider.create(inputs)
    assert time.monotonic() - started < 1 + GUARD
