"""The rate limit (issue 14) on a fake clock: no sleeps, no wall-clock bounds.

The limiter reads time and waits through its clock: :class:`FakeClock` moves only when the
limiter sleeps (or the test says so), so every rate below is exact.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dcs_simulator import DEMO_PROJECT_ID
from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import DcsClient
from pulumi_dcs_migration.engine import Outcome, StopEngine, StopOptions
from pulumi_dcs_migration.errors import ConfigurationError, DeadlineExceeded, ThrottledError
from pulumi_dcs_migration.models import (
    BatchItemResult,
    MigrationTask,
    MigrationTaskStats,
    TaskStatusPage,
)
from pulumi_dcs_migration.plugin.schema import CONFIG_NAMES, schema
from pulumi_dcs_migration.policy import RetryPolicy
from pulumi_dcs_migration.ratelimit import (
    Adaptation,
    FileStore,
    Grant,
    MemoryStore,
    Priority,
    RateLimiter,
    shared_limiter,
    state_directory,
)
from pulumi_dcs_migration.resource import MigrationTasksStoppedProvider
from pulumi_dcs_migration.settings import (
    DEFAULT_MAX_REQUESTS_PER_SECOND,
    MAX_REQUESTS_PER_SECOND,
    SETTING_NAMES,
    ConnectionSettings,
    Credentials,
    Layer,
    resolve,
)

PID = DEMO_PROJECT_ID
TID = "b21989ec-2889-4b8e-99db-19c073425ec2"
ENDPOINT = "https://dcs.cn-north-4.myhuaweicloud.com"


class FakeClock:
    """A product ``Clock`` whose time ``t`` moves when someone sleeps (or :meth:`advance`)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.t

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        self.t += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make_limiter(
    clock: FakeClock, ceiling: float = 10.0, store: Any = None, **adaptation: Any
) -> RateLimiter:
    return RateLimiter(ceiling, Adaptation(**adaptation), store=store or MemoryStore(), clock=clock)


def take(limiter: RateLimiter, priority: Priority = Priority.READ) -> Grant:
    grant = limiter.acquire(priority)
    assert grant is not None
    return grant


# --- the bucket -------------------------------------------------------------------------------


def test_a_burst_of_one_second_then_the_ceiling() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=4.0)
    times = [take(limiter).at - 1000.0 for _ in range(8)]
    assert times == [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0]
    assert limiter.stats()["granted"] == 8


def test_a_turn_after_the_deadline_is_refused_without_waiting() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=1.0)
    take(limiter)  # the one token
    assert limiter.acquire(within=0.5) is None
    assert clock.t == 1000.0  # nothing was waited for
    assert take(limiter).at == 1001.0  # and the refused turn left no trace


def test_limited_is_said_only_of_requests_that_waited() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=2.0)
    assert [take(limiter).waited for _ in range(4)] == [False, False, True, True]


# --- AIMD -----------------------------------------------------------------------------------


def send(limiter: RateLimiter, count: int) -> list[Grant]:
    """``count`` requests that succeed, one after the other."""
    grants = []
    for _ in range(count):
        grant = take(limiter)
        limiter.succeeded(grant)
        grants.append(grant)
    return grants


def test_a_429_halves_the_rate_actually_sent_and_holds_every_request() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0)
    grants = send(limiter, 30)  # 10 at once, then 10/s: 20 in the last 2 s (the window)
    limiter.throttled(grants[-1], retry_after=3.0)
    assert limiter.rate == pytest.approx(5.0)  # half of the 10/s sent
    assert limiter.paused_for == pytest.approx(3.0)
    throttled_at = clock.t
    assert take(limiter, Priority.WRITE).at == pytest.approx(throttled_at + 3.0)


def test_the_cut_is_from_what_was_sent_not_from_an_unused_ceiling() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0)
    grants = []
    for _ in range(5):  # one request a second: 1/s sent
        clock.advance(1.0)
        grants += send(limiter, 1)
    limiter.throttled(grants[-1], retry_after=None)
    assert limiter.rate == pytest.approx(0.5)


def test_a_high_rate_is_measured_from_the_last_grants() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=500.0)
    grants = send(limiter, 1500)  # 500 at once, then 500/s: more grants than are kept
    limiter.throttled(grants[-1], None)
    assert limiter.stats()["peak"] == pytest.approx(500.0)
    assert limiter.rate == pytest.approx(250.0)


def test_429s_to_requests_sent_before_a_cut_do_not_cut_again() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0)
    in_flight = send(limiter, 20)[-4:]  # say these four were in flight together
    limiter.throttled(in_flight[0], None)
    after_first = limiter.rate
    for grant in in_flight[1:]:
        limiter.throttled(grant, None)
    assert limiter.rate == after_first
    assert limiter.stats()["cuts"] == 1 and limiter.stats()["throttles"] == 4
    limiter.throttled(take(limiter), None)  # sent after the cut: news
    assert limiter.rate < after_first and limiter.stats()["cuts"] == 2


def test_the_rate_never_falls_under_the_floor() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0, floor=0.5)
    for _ in range(20):
        limiter.throttled(take(limiter), None)
    assert limiter.rate == 0.5


def test_the_rate_grows_back_additively_only_while_demand_exceeds_it() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0)
    limiter.throttled(send(limiter, 30)[-1], None)  # at 10/s
    assert limiter.rate == pytest.approx(5.0)
    increase = Adaptation().increase(peak=10.0, ceiling=10.0)
    assert increase == pytest.approx(0.02 * 0.75 / 2 * 100)  # 0.75/s per second
    started = clock.t
    send(limiter, 20)  # back to back: every one waits for its turn
    held_back = clock.t - started
    assert limiter.rate == pytest.approx(5.0 + increase * held_back, rel=0.05)
    rate = limiter.rate
    for _ in range(5):  # one request every 2 s: the limiter is not the limit
        clock.advance(2.0)
        grant = take(limiter)
        assert not grant.waited
        limiter.succeeded(grant)
    assert limiter.rate == rate


def test_the_rate_stays_under_the_ceiling() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=3.0, target_share=1.0)
    send(limiter, 50)
    assert limiter.rate == 3.0


def test_what_was_learned_is_forgotten_after_an_idle_spell() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0, idle_reset=30.0)
    limiter.throttled(send(limiter, 30)[-1], retry_after=5.0)
    clock.advance(29.0)
    assert limiter.rate == pytest.approx(5.0)  # a look at the state counts as use
    clock.advance(31.0)
    assert limiter.rate == 10.0 and limiter.paused_for == 0.0
    assert [take(limiter).at for _ in range(10)] == [clock.t] * 10  # a full bucket again


class Gateway:
    """A token bucket like the simulator's (and the API gateway's): ``rate`` a second, a burst
    of ``ceil(rate)``; a refused request learns the whole seconds until a token is back."""

    def __init__(self, clock: FakeClock, rate: float) -> None:
        self.clock, self.rate = clock, rate
        self.burst = float(max(1, math.ceil(rate)))
        self.tokens, self.at = self.burst, clock.t

    def admit(self) -> int | None:
        now = self.clock.t
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1 - 1e-9:
            self.tokens -= 1
            return None
        return math.ceil((1 - self.tokens) / self.rate - 1e-9)


@pytest.mark.parametrize(("ceiling", "quota"), [(10, 2), (10, 5), (10, 8), (20, 5), (50, 20)])
def test_against_a_steady_quota_429s_stay_near_the_target_share(
    ceiling: float, quota: float
) -> None:
    """One client sending back to back through a gateway slower than the ceiling."""
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=ceiling)
    gateway = Gateway(clock, quota)
    answered = throttled = 0
    started = clock.t
    while answered < 1000:
        grant = take(limiter)
        retry_after = gateway.admit()
        if retry_after is None:
            answered += 1
            limiter.succeeded(grant)
        else:
            throttled += 1
            limiter.throttled(grant, retry_after)
    share = throttled / (answered + throttled)
    throughput = answered / (clock.t - started)
    assert share <= 0.05  # the target is 2 %: room for the whole-second Retry-After
    assert throughput >= 0.75 * quota  # and most of the quota is used


# --- priorities -------------------------------------------------------------------------------


class GateClock(FakeClock):
    """A clock whose sleeps block until the test opens the gate, which moves time."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Semaphore(0)
        self._gate = threading.Condition()
        self._round = 0

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        with self._gate:
            start = self._round
            self.waiting.release()
            self._gate.wait_for(lambda: self._round > start, timeout=30)  # a hang guard only

    def open(self, seconds: float) -> None:
        with self._gate:
            self.t += seconds
            self._round += 1
            self._gate.notify_all()


def test_a_waiting_stop_goes_before_a_waiting_look() -> None:
    clock = GateClock()
    limiter = RateLimiter(1.0, store=MemoryStore(), clock=clock)
    take(limiter)  # the bucket is empty now
    order: list[str] = []

    def request(name: str, priority: Priority) -> None:
        take(limiter, priority)
        order.append(name)

    look = threading.Thread(target=request, args=("look", Priority.READ))
    look.start()
    assert clock.waiting.acquire(timeout=30)  # the look waits first...
    stop = threading.Thread(target=request, args=("stop", Priority.WRITE))
    stop.start()
    assert clock.waiting.acquire(timeout=30)  # ...then the stop
    clock.open(1.0)  # one more token, and both wake up to look again
    stop.join(timeout=30)
    assert clock.waiting.acquire(timeout=30)  # the look sleeps again...
    assert order == ["stop"] and look.is_alive()  # ...: the one token went to the stop
    clock.open(1.0)
    look.join(timeout=30)
    assert order == ["stop", "look"]


def test_the_client_sends_stops_as_acts_and_looks_as_looks() -> None:
    seen: list[Priority] = []

    class Recording(RateLimiter):
        def acquire(
            self, priority: Priority = Priority.READ, within: float | None = None
        ) -> Grant | None:
            seen.append(priority)
            return super().acquire(priority, within)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                200, json={"migration_tasks": [{"task_id": TID, "result": "success"}]}
            )
        return httpx.Response(200, json={"count": 0, "migration_tasks": []})

    client = make_client(answer, limiter=Recording(store=MemoryStore()))
    client.list_tasks()
    client.batch_stop([TID])
    assert seen == [Priority.READ, Priority.WRITE]


# --- elastic polling ----------------------------------------------------------------------------


def test_pace_defers_a_poll_the_limiter_cannot_serve_and_counts_it_as_demand() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=2.0)
    assert limiter.pace(2, 0.1) == 0.1  # two tokens there
    take(limiter)
    take(limiter)
    assert limiter.pace(2, 0.1) == pytest.approx(1.0)  # two tokens at 2/s
    assert limiter.pace(2, 5.0) == 5.0  # a longer interval is kept
    clock.advance(1.0)
    assert all(take(limiter).waited for _ in range(2))  # the deferred look was held back
    clock.advance(1.0)
    assert not take(limiter).waited  # and only that look


def test_a_poll_larger_than_the_bucket_starts_once_the_bucket_is_full() -> None:
    # Ten list pages (a 10,000-task project) behind the shared two-token bucket: the poll goes
    # out now, its pages paced one by one; waiting for ten tokens the bucket cannot hold held
    # every poll back 0.8 s (the engine's overhead at 10,000 tasks doubled).
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0, burst=0.2)
    assert limiter.pace(10, 0.1) == 0.1
    take(limiter)
    take(limiter)
    assert limiter.pace(10, 0.1) == pytest.approx(0.2)  # the bucket refills in 0.2 s


def test_pace_waits_out_a_retry_after() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock, ceiling=10.0)
    limiter.throttled(take(limiter), retry_after=4.0)
    assert limiter.pace(1, 0.1) == pytest.approx(4.0)


class LimitedFake:
    """The engine's three calls over a fake project, every call through a limiter. ``queued``
    is how long each look waited for its turn (a stale look, had it been a real one)."""

    def __init__(self, limiter: RateLimiter, clock: FakeClock, ids: Sequence[str]) -> None:
        self.limiter, self.clock = limiter, clock
        self.status = dict.fromkeys(ids, "RUNNING")
        self.stopped_at: dict[str, float] = {}
        self.looks: list[float] = []
        self.queued: list[float] = []

    def _turn(self, priority: Priority) -> None:
        asked = self.clock.t
        grant = self.limiter.acquire(priority)
        assert grant is not None
        self.limiter.succeeded(grant)
        if priority is Priority.READ:
            self.queued.append(grant.at - asked)
        for tid, at in self.stopped_at.items():
            if self.clock.t >= at + 20.0:
                self.status[tid] = "TERMINATED"

    def list_task_statuses(self, *, offset: int = 0, limit: int = 1000) -> TaskStatusPage:
        self._turn(Priority.READ)
        self.looks.append(self.clock.t)
        tasks = [
            {"task_id": t, "status": s}
            for t, s in list(self.status.items())[offset : offset + limit]
        ]
        return TaskStatusPage.model_validate({"count": len(self.status), "migration_tasks": tasks})

    def get_task(self, task_id: str) -> MigrationTask:
        self._turn(Priority.READ)
        self.looks.append(self.clock.t)
        return MigrationTask.model_validate({"task_id": task_id, "status": self.status[task_id]})

    def batch_stop(self, task_ids: Sequence[str]) -> list[BatchItemResult]:
        self._turn(Priority.WRITE)
        for tid in task_ids:
            self.status[tid] = "TERMINATING"
            self.stopped_at[tid] = self.clock.t
        return [BatchItemResult(task_id=t, result="success") for t in task_ids]

    def get_stats(self, task_id: str) -> MigrationTaskStats:
        raise AssertionError("the cutover guard is off: no stats are read")

    @contextlib.contextmanager
    def deadline(self, at: float | None) -> Iterator[None]:
        yield

    def pace(self, requests: int, interval: float) -> float:
        return interval  # blind to the rate limit: polls are queued behind it


class PacedFake(LimitedFake):
    """The same, telling the engine when the limiter could serve a poll (as DcsClient does)."""

    def pace(self, requests: int, interval: float) -> float:
        return self.limiter.pace(requests, interval)


@pytest.mark.parametrize("fake", [LimitedFake, PacedFake])
def test_the_engine_looks_less_often_instead_of_queueing_looks(
    fake: type[LimitedFake],
) -> None:
    ids = [f"{i:08x}-2889-4b8e-99db-19c073425ec2" for i in range(5)]
    options = StopOptions(timeout=120, concurrency=1, poll_jitter=0.0)
    clock = FakeClock()
    api = fake(make_limiter(clock, ceiling=0.5), clock, ids)
    report = StopEngine(api, options, clock=clock).run(ids)
    assert {o.outcome for o in report.outcomes} == {Outcome.STOPPED}
    gaps = [b - a for a, b in zip(api.looks, api.looks[1:], strict=False)]
    assert min(gaps) >= 2.0 - 1e-6  # one page a look, 0.5/s: never two looks within 2 s
    if fake is PacedFake:
        assert max(api.queued) < 1e-6  # every look went out the moment it was asked for
    else:
        assert max(api.queued) > 1.0  # a look asked for too soon waited, and was stale


# --- the state shared between processes ---------------------------------------------------------


def test_two_processes_on_one_file_share_one_bucket(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "limiter.json"
    first = make_limiter(clock, ceiling=4.0, store=FileStore(path))
    second = make_limiter(clock, ceiling=4.0, store=FileStore(path))
    times = [take(first if i % 2 else second).at - 1000.0 for i in range(8)]
    assert times == [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0]  # 4/s between the two of them
    second.throttled(take(first), retry_after=2.0)  # one of them meets a 429...
    assert first.rate == pytest.approx(2.0) and first.paused_for == pytest.approx(2.0)  # both slow


def test_an_unreadable_state_file_starts_afresh(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "limiter.json"
    for junk in (b"", b"{not json", b'{"rate": "x"}', json.dumps({"rate": -1}).encode()):
        path.write_bytes(junk)
        limiter = make_limiter(clock, ceiling=4.0, store=FileStore(path))
        assert limiter.rate == 4.0
        assert json.loads(path.read_text())["rate"] == 4.0


def test_a_state_file_that_goes_away_leaves_the_limiter_in_memory(tmp_path: Path) -> None:
    clock = FakeClock()
    folder = tmp_path / "shared"
    folder.mkdir()
    limiter = make_limiter(clock, ceiling=4.0, store=FileStore(folder / "limiter.json"))
    take(limiter)
    (folder / "limiter.json").unlink()
    folder.rmdir()  # a tmp cleaner, say
    assert take(limiter).at == clock.t  # no error: the rest of the run paces alone
    assert isinstance(limiter.store, MemoryStore)


def test_the_state_directory_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    folder = state_directory()
    assert folder == tmp_path / "dcs-migration"
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o755)  # open to others: not used
    assert state_directory() is None


def test_one_limiter_per_endpoint_project_and_ceiling(tmp_path: Path) -> None:
    a = shared_limiter("https://x.example", PID, 7.0, directory=tmp_path)
    assert shared_limiter("https://x.example/", PID, 7.0, directory=tmp_path) is a
    assert shared_limiter("https://x.example", PID, 8.0, directory=tmp_path) is not a
    assert shared_limiter("https://y.example", PID, 7.0, directory=tmp_path) is not a
    assert isinstance(a.store, FileStore) and a.store.path.parent == tmp_path


def test_state_files_unused_for_a_day_are_removed(tmp_path: Path) -> None:
    import os
    import time

    old, recent = tmp_path / "ratelimit-old.json", tmp_path / "ratelimit-recent.json"
    for path in (old, recent):
        path.write_text("{}")
    two_days_ago = time.time() - 2 * 86_400
    os.utime(old, (two_days_ago, two_days_ago))
    shared_limiter("https://w.example", PID, 7.0, directory=tmp_path)
    assert not old.exists() and recent.exists()


def test_no_usable_directory_keeps_the_state_in_memory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    limiter = shared_limiter("https://z.example", PID, 9.0, directory=missing)
    assert isinstance(limiter.store, MemoryStore)


# --- settings: stack config, provider config, environment, CLI option ----------------------------


def with_location(**values: Any) -> Layer:
    return Layer({"project_id": PID, "region": "cn-north-4", **values}, lambda s: f"<{s}>", "test")


def test_the_default_ceiling() -> None:
    assert "max_requests_per_second" in SETTING_NAMES
    assert resolve(with_location()).max_requests_per_second == DEFAULT_MAX_REQUESTS_PER_SECOND


def test_the_ceiling_from_the_environment_and_a_layer_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HW_DCS_MAX_REQUESTS_PER_SECOND", "2.5")
    assert resolve(with_location()).max_requests_per_second == 2.5
    assert resolve(with_location(max_requests_per_second="4")).max_requests_per_second == 4.0
    assert resolve(with_location(max_requests_per_second=6)).max_requests_per_second == 6.0


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "fast", "1001", True])
def test_a_bad_ceiling_is_refused_naming_where_it_was_set(
    bad: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match="<max_requests_per_second> must be a number"):
        resolve(with_location(max_requests_per_second=bad))
    if isinstance(bad, str):
        monkeypatch.setenv("HW_DCS_MAX_REQUESTS_PER_SECOND", bad)
        with pytest.raises(ConfigurationError, match="HW_DCS_MAX_REQUESTS_PER_SECOND must be"):
            resolve(with_location())


def test_from_settings_takes_the_shared_limiter_of_its_ceiling() -> None:
    settings = ConnectionSettings(
        "http://127.0.0.1:9", PID, Credentials("ak", SecretStr("sk")), True, None, 3.0
    )
    client = DcsClient.from_settings(settings)
    assert client.policy.limiter is not None and client.policy.limiter.ceiling == 3.0
    assert client.policy.limiter is shared_limiter("http://127.0.0.1:9", PID, 3.0)
    assert DcsClient.from_settings(settings).policy.limiter is client.policy.limiter


def test_stack_config_dcs_max_requests_per_second() -> None:
    class Config:
        def get(self, key: str) -> str | None:
            return {"dcs:maxRequestsPerSecond": "1.5"}.get(key)

    provider = MigrationTasksStoppedProvider()
    request: Any = type("Request", (), {"config": Config()})()
    provider.configure(request)
    inputs = {"project_id": PID, "region": "cn-north-4"}
    assert provider.ops.settings(inputs).max_requests_per_second == 1.5


def test_provider_config_max_requests_per_second_is_in_the_schema() -> None:
    assert "max_requests_per_second" in CONFIG_NAMES
    variable = schema()["config"]["variables"]["maxRequestsPerSecond"]
    assert (
        variable["type"] == "number" and "HW_DCS_MAX_REQUESTS_PER_SECOND" in variable["description"]
    )


# --- the client: a 429 is retried until the deadline ---------------------------------------------


def make_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> DcsClient:
    quick = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)
    kwargs.setdefault("retry", quick)
    return DcsClient(
        ENDPOINT, PID, AkSkAuth("MYAK", "MYSK"), transport=httpx.MockTransport(handler), **kwargs
    )


def storm(count: int) -> Callable[[httpx.Request], httpx.Response]:
    """``count`` 429s (Retry-After: 0), then answers."""
    calls = {"n": 0}

    def handler(_request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= count:
            body = {"error_code": "APIGW.0308", "error_msg": "The throttling threshold..."}
            return httpx.Response(429, json=body, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"count": 0, "migration_tasks": []})

    return handler


def test_a_429_storm_is_retried_until_the_deadline_not_for_n_attempts() -> None:
    import time

    client = make_client(storm(12))
    with client.deadline(time.monotonic() + 120):
        assert client.list_tasks().count == 0  # 12 429s, 3 attempts allowed: still answered
    with pytest.raises(ThrottledError):  # without a deadline, the attempts bound it
        make_client(storm(12)).list_tasks()


def test_a_429_storm_past_the_deadline_says_why() -> None:
    import time

    def always(_request: httpx.Request) -> httpx.Response:
        body = {"error_code": "APIGW.0308", "error_msg": "The throttling threshold..."}
        return httpx.Response(429, json=body, headers={"Retry-After": "30"})

    client = make_client(always, limiter=RateLimiter(store=MemoryStore()))
    with client.deadline(time.monotonic() + 5), pytest.raises(DeadlineExceeded) as info:
        client.list_tasks()
    assert "retry after 30s" in str(info.value)
    assert (
        client.policy.limiter is not None and client.policy.limiter.paused_for > 5
    )  # held for everyone


def test_without_a_limiter_a_client_is_not_paced() -> None:
    client = make_client(storm(0))
    assert client.policy.limiter is None and client.pace(50, 0.1) == 0.1


def test_infinite_values_are_not_ceilings() -> None:
    for bad in (math.inf, 0.0, -2.0):
        with pytest.raises(ValueError, match="ceiling"):
            RateLimiter(bad)
    assert MAX_REQUESTS_PER_SECOND == 1000.0
