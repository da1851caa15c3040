"""The rate limit: how fast this machine may call one project's DCS API, learned from 429s.

The API gateway throttles per project (HTTP 429 ``APIGW.0308``, ``Retry-After``) and publishes
no figure for these calls. Every request of a client made from settings (the command line, both
Pulumi providers, each stack of a fleet) takes its turn from the :class:`RateLimiter` of its
endpoint and project (:func:`shared_limiter`), through the client's
:class:`~.policy.RequestPolicy`:

* a token bucket at the ceiling (``max_requests_per_second``) whose rate adapts below it, AIMD:
  halved (:attr:`Adaptation.decrease`) on a 429, from the rate actually sent, at most once per
  round trip (429s to requests sent before the last cut are the same news), never under
  :attr:`Adaptation.floor`; then grown back, additively, for every second during which the
  demand exceeded the rate. The increase is set by the rate at which the last 429 came (the
  quota, as far as anyone knows): ``target_share * (1 - decrease**2) / 2 * peak**2`` per second
  makes 429s about :attr:`Adaptation.target_share` of the requests against a steady quota. What
  it learned is forgotten after :attr:`Adaptation.idle_reset` seconds without a request;
* a ``Retry-After`` holds every request, not just the one refused: the gateway counts the
  project, so another request would be refused too;
* one limiter per endpoint, project and ceiling in a process, its state (rate, tokens, pause)
  shared by every process of the same user on the machine through a small locked file
  (:class:`FileStore`; in memory where that is not possible). Eight operators' ``dcs-migration
  stop`` on one project, or sixteen stacks of a fleet, draw from one bucket: together they stay
  under the ceiling, and a 429 one of them meets slows them all. Independent per-process
  limiters start a burst of 429s each time several processes start together (measured side by
  side in docs/performance.md);
* in a process, a change (:attr:`Priority.WRITE`: a stop) waiting for its turn goes before a
  read (:attr:`Priority.READ`: a poll) waiting for its turn;
* :meth:`RateLimiter.pace` tells a poller when its next poll could be served, so that it polls
  less often instead of queueing polls that would be stale by the time they are sent.

The limiter reads time and waits through a :class:`~.clock.Clock`: a test passes a fake one and
the code is the same. Processes share the state, so the clock must be one they share
(``time.monotonic`` is system-wide on Linux and macOS).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

from .clock import SYSTEM_CLOCK, Clock
from .settings import DEFAULT_MAX_REQUESTS_PER_SECOND, requests_per_second

_log = logging.getLogger("pulumi_dcs_migration")
_T = TypeVar("_T")

MAX_SENT = 256
"""Grant times kept to measure the rate sent (the state file stays small at any ceiling)."""

EPSILON = 1e-6
"""Seconds of wait that are rounding, not time: a turn under a microsecond away is now (waiting
that long would not move a clock that reads 1.7e9, like an epoch-based test clock)."""


class Priority(enum.IntEnum):
    """Who goes first when several requests of a process wait for their turn (lower first)."""

    WRITE = 0  # stop, restart, delete: what the run is for
    READ = 1  # polls and listings


@dataclass(frozen=True)
class Adaptation:
    """The numbers of the AIMD (see the module docstring); rates in requests per second."""

    target_share: float = 0.02  # of requests answered 429 at steady state: sets the increase
    min_increase: float = 0.001  # of the ceiling per second: the slowest recovery
    decrease: float = 0.5  # the factor a 429 applies to the rate actually sent
    floor: float = 0.25  # the lowest rate 429s can bring the limiter to (or the ceiling)
    window: float = 2.0  # seconds over which the rate actually sent is measured
    burst: float = 1.0  # the bucket holds this many seconds of requests (at least one)
    idle_reset: float = 30.0  # seconds without a request after which the state starts afresh

    def __post_init__(self) -> None:
        if not 0 < self.decrease < 1:
            raise ValueError("decrease must be a factor in (0, 1)")
        values = (self.target_share, self.floor, self.window, self.burst, self.idle_reset)
        if self.min_increase < 0 or min(values) <= 0:
            raise ValueError("min_increase must be >= 0, the others > 0")

    def increase(self, peak: float, ceiling: float) -> float:
        """Requests per second added per second held back, after a 429 that came at ``peak``."""
        aimed = self.target_share * (1 - self.decrease**2) / 2 * peak**2
        return max(self.min_increase * ceiling, aimed)


@dataclass(frozen=True)
class Grant:
    """One request's turn: when it was given, and whether the limiter held it back."""

    at: float
    waited: bool  # it waited for its turn (or a poll was deferred for it): demand exceeds


@dataclass
class State:
    """What the processes sharing a limiter share (times from the shared clock)."""

    rate: float
    tokens: float
    refilled_at: float
    used_at: float
    since: float = 0.0  # when this episode began (the state was fresh)
    peak: float = 0.0  # the rate actually sent when the last 429 came (0: none yet)
    paused_until: float = -math.inf
    cut_at: float = -math.inf
    sent: list[float] = field(default_factory=list)  # grant times within the window
    granted: int = 0
    throttles: int = 0
    cuts: int = 0


class Store(Protocol):
    """Where a limiter's :class:`State` lives; ``update`` runs ``change`` on it, exclusively
    (across processes too, for a store that is shared)."""

    def update(self, fresh: Callable[[], State], change: Callable[[State], _T]) -> _T:
        """Run ``change`` on the state (``fresh()`` when there is none yet), atomically."""
        ...


class MemoryStore:
    """The state in this process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: State | None = None

    def update(self, fresh: Callable[[], State], change: Callable[[State], _T]) -> _T:
        with self._lock:
            if self._state is None:
                self._state = fresh()
            return change(self._state)


class FileStore:
    """The state in a JSON file, under an exclusive ``flock`` for each update: shared by every
    process that opens the same path. An unreadable file starts afresh."""

    MAX_BYTES = 256 * 1024

    def __init__(self, path: Path) -> None:
        self.path = path

    def check(self) -> None:
        """Raise :class:`OSError` unless the file can be opened and locked."""
        with self._locked():
            pass

    def update(self, fresh: Callable[[], State], change: Callable[[State], _T]) -> _T:
        with self._locked() as fd:
            state = _parse(os.read(fd, self.MAX_BYTES)) or fresh()
            result = change(state)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(asdict(state)).encode())
            return result

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        import fcntl  # POSIX only; shared_limiter() falls back to memory elsewhere

        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close()
            yield fd
        finally:
            os.close(fd)


def _parse(data: bytes) -> State | None:
    """The state a file holds, or ``None`` when it holds none (empty, cut short, tampered)."""
    try:
        state = State(**json.loads(data))
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(state.sent, list):
        return None
    finite = (state.rate, state.tokens, state.refilled_at, state.used_at, state.since, state.peak)
    times = (*finite, state.paused_until, state.cut_at, *state.sent)  # these may be infinite
    ok = (
        all(isinstance(n, int | float) and not math.isnan(n) for n in times)
        and all(math.isfinite(n) for n in finite)
        and all(isinstance(n, int) for n in (state.granted, state.throttles, state.cuts))
        and state.rate > 0
    )
    return state if ok else None


class RateLimiter:
    """An adaptive token bucket over a :class:`Store`; thread-safe; see the module docstring."""

    def __init__(
        self,
        ceiling: float = DEFAULT_MAX_REQUESTS_PER_SECOND,
        adaptation: Adaptation | None = None,
        *,
        store: Store | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.ceiling = requests_per_second(ceiling, "the ceiling")
        self.adaptation = adaptation or Adaptation()
        self.store: Store = store or MemoryStore()
        self.clock = clock
        self._lock = threading.Lock()  # this process's queue of waiters
        self._order = itertools.count()
        self._queue: set[tuple[int, int]] = set()  # (priority, arrival) of this process's waiters
        self._deferred = 0  # requests of polls deferred by pace(): their grants "waited"

    def __repr__(self) -> str:
        return f"RateLimiter(ceiling={self.ceiling:g}/s, store={type(self.store).__name__})"

    # --- taking turns -----------------------------------------------------------------------

    def acquire(
        self, priority: Priority = Priority.READ, within: float | None = None
    ) -> Grant | None:
        """Wait for this request's turn and take it; ``None`` when it would not come within
        ``within`` seconds (the time left before the call's deadline; ``None``: no limit).

        Turns go by priority, then arrival (within this process). Nothing is waited for when
        the turn could not come in time: the caller says so at once. A waiter sleeps until the
        turn it computed, then looks again (a pause or a newcomer ahead may move it back).
        """
        with self._lock:
            ticket = (int(priority), next(self._order))
            self._queue.add(ticket)
        waited = False
        until = None if within is None else self.clock.now() + within
        try:
            while True:
                with self._lock:
                    ahead = sum(1 for other in self._queue if other < ticket)
                    now, delay = self._update(functools.partial(self._take, ahead=ahead))
                    if delay <= 0:
                        if self._deferred > 0:
                            self._deferred -= 1
                            waited = True
                        return Grant(now, waited)
                if until is not None and now + delay > until:
                    return None
                waited = True
                self.clock.sleep(delay)
        finally:  # served, given up or failed: the turns behind this one move up
            with self._lock:
                self._queue.discard(ticket)

    def pace(self, requests: int, interval: float) -> float:
        """Seconds from now to the next poll of ``requests`` requests: ``interval``, or longer
        when the limiter could not serve that poll sooner (a pause, a backlog, a low rate).

        A longer answer counts as demand beyond the rate: the poll's requests then count as
        held back, and the rate grows when they succeed. A poll larger than the bucket starts
        once the bucket is full, its requests then paced one by one: waiting for tokens the
        bucket cannot hold would only delay it (ten list pages behind a two-token bucket).
        """
        with self._lock:
            backlog = len(self._queue)

            def delay(s: State, now: float) -> float:
                first = min(max(requests, 1), max(1.0, s.rate * self.adaptation.burst))
                return _wait(s, now, first + backlog)

            _, wanted = self._update(delay)
            if wanted <= interval:
                return interval
            self._deferred = max(self._deferred, requests)
            return wanted

    # --- what the answers say ---------------------------------------------------------------

    def succeeded(self, grant: Grant) -> None:
        """An answer that was not a 429: a request held back grows the rate (additively)."""
        if not grant.waited:
            return

        def grow(s: State, _now: float) -> None:
            # increase/rate per answer: ``increase`` per second while the limiter is the limit.
            increase = self.adaptation.increase(s.peak or self.ceiling, self.ceiling)
            s.rate = min(self.ceiling, s.rate + increase / s.rate)

        self._update(grow)

    def throttled(self, grant: Grant, retry_after: float | None) -> None:
        """A 429: hold every request for ``retry_after``; cut the rate once per round trip."""
        a = self.adaptation

        def cut(s: State, now: float) -> None:
            s.throttles += 1
            if retry_after is not None and retry_after > 0:
                s.paused_until = max(s.paused_until, now + retry_after)
            if grant.at > s.cut_at:  # sent after the last cut: new news
                s.peak = max(a.floor, min(s.rate, self._sent_rate(s, now)))
                s.rate = min(self.ceiling, max(a.floor, a.decrease * s.peak))
                s.tokens = min(s.tokens, 0.0)  # the next request waits a full turn
                s.cut_at = now
                s.cuts += 1

        self._update(cut)

    # --- state ------------------------------------------------------------------------------

    @property
    def rate(self) -> float:
        """The rate the limiter allows now (requests per second)."""
        return self._update(lambda s, _now: s.rate)[1]

    @property
    def paused_for(self) -> float:
        """Seconds every request still waits because of a ``Retry-After`` (0 when none)."""
        return self._update(lambda s, now: max(0.0, s.paused_until - now))[1]

    def stats(self) -> dict[str, float]:
        """Rate, ceiling and counters (diagnostics, benchmarks)."""
        s = self._update(lambda s, _now: replace(s))[1]  # a copy, read outside the lock
        return {
            "rate": round(s.rate, 3),
            "ceiling": self.ceiling,
            "granted": s.granted,
            "throttles": s.throttles,
            "cuts": s.cuts,
            "peak": round(s.peak, 3),
        }

    # --- inside an update (the store's lock held) --------------------------------------------

    def _fresh(self) -> State:
        now = self.clock.now()
        capacity = max(1.0, self.ceiling * self.adaptation.burst)
        return State(rate=self.ceiling, tokens=capacity, refilled_at=now, used_at=now, since=now)

    def _update(self, change: Callable[[State, float], _T]) -> tuple[float, _T]:
        """The time now, and ``change(state, now)`` on the state brought up to now (refilled,
        or started afresh after ``idle_reset`` seconds without use)."""

        def run(s: State) -> tuple[float, _T]:
            now = self.clock.now()
            if now - s.used_at > self.adaptation.idle_reset:
                vars(s).update(vars(self._fresh()))  # a new episode: what was learned is old
            rate = s.rate
            capacity = max(1.0, rate * self.adaptation.burst)
            s.tokens = min(capacity, s.tokens + max(0.0, now - s.refilled_at) * rate)
            s.refilled_at = max(s.refilled_at, now)
            s.used_at = max(s.used_at, now)
            horizon = now - self.adaptation.window
            s.sent = [t for t in s.sent if t > horizon][-MAX_SENT:]
            return now, change(s, now)

        try:
            return self.store.update(self._fresh, run)
        except OSError as exc:  # the shared file went away (a tmp cleaner...): go on alone
            _log.debug("rate limit kept in memory from now on: %s", exc)
            self.store = MemoryStore()
            return self.store.update(self._fresh, run)

    def _sent_rate(self, s: State, now: float) -> float:
        """Requests per second actually sent lately: over the window, or the episode's age when
        younger, or the span of the last :data:`MAX_SENT` grants when they are more."""
        if len(s.sent) >= MAX_SENT:
            span = now - s.sent[0]
        else:
            span = min(self.adaptation.window, now - s.since)
        return len(s.sent) / max(span, EPSILON)

    def _take(self, s: State, now: float, *, ahead: int) -> float:
        """Take a token when it is this request's turn (0.0), else the seconds until it is."""
        delay = _wait(s, now, ahead + 1)
        if delay > EPSILON:  # a rounding residue is no wait (a fake clock would not move)
            return delay
        s.tokens -= 1.0
        s.granted += 1
        s.sent.append(now)
        return 0.0


def _wait(s: State, now: float, tokens: float) -> float:
    """Seconds until the bucket holds ``tokens`` tokens and no ``Retry-After`` holds requests."""
    need = tokens - s.tokens
    return max(s.paused_until - now, need / s.rate if need > 0 else 0.0)


# --- one limiter per endpoint, project and ceiling -----------------------------------------------

_SHARED: dict[tuple[str, str, float], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


SHARED_ADAPTATION = Adaptation(burst=0.2, target_share=0.01)
"""The limiter every client made from settings uses: a bucket of a fifth of a second (two
requests at the default ceiling), because several processes often start together (eight
operators' stops, a fleet's stacks) against a gateway whose quota nobody knows; a second's
worth of requests at once is what made a start's 429s (bench/policy.py)."""


def shared_limiter(
    endpoint: str,
    project_id: str,
    ceiling: float = DEFAULT_MAX_REQUESTS_PER_SECOND,
    *,
    directory: Path | None = None,
) -> RateLimiter:
    """The limiter of ``endpoint``, ``project_id`` and ``ceiling``: one per process, its state
    shared with this user's other processes on the machine (a file in ``directory``, default
    :func:`state_directory`), or kept in memory when no such directory can be used."""
    ceiling = requests_per_second(ceiling, "the ceiling")
    key = (endpoint.rstrip("/"), project_id, ceiling)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            store = _store_for(key, directory)
            limiter = _SHARED[key] = RateLimiter(ceiling, SHARED_ADAPTATION, store=store)
        return limiter


def _store_for(key: tuple[str, str, float], directory: Path | None) -> Store:
    folder = directory or state_directory()
    if folder is None or sys.platform == "win32":
        return MemoryStore()
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    store = FileStore(folder / f"ratelimit-{digest}.json")
    try:
        store.check()
    except OSError as exc:
        _log.debug("rate limit kept in memory (%s): %s", store.path, exc)
        return MemoryStore()
    _forget_old(folder, keep=store.path)
    return store


STALE_AFTER = 86_400.0
"""Seconds after which a state file nobody touched is removed (its state is long forgotten)."""


def _forget_old(folder: Path, keep: Path) -> None:
    """Remove the state files of endpoints not used for a day (best effort)."""
    now = time.time()
    for path in folder.glob("ratelimit-*.json"):
        with contextlib.suppress(OSError):
            if path != keep and now - path.lstat().st_mtime > STALE_AFTER:
                path.unlink()


def state_directory() -> Path | None:
    """This user's private directory for shared rate limits: ``$XDG_RUNTIME_DIR/dcs-migration``,
    else ``<tmp>/dcs-migration-<uid>``; ``None`` when it cannot be made private (owned by
    someone else, a symlink, open to others) or is not POSIX."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return None
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and os.path.isabs(runtime) else Path(tempfile.gettempdir())
    folder = base / ("dcs-migration" if runtime else f"dcs-migration-{getuid()}")
    with contextlib.suppress(FileExistsError, OSError):
        folder.mkdir(mode=0o700)
    try:
        info = os.lstat(folder)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077
    return folder if private and info.st_uid == getuid() else None
