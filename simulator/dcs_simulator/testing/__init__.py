"""The harness that tests and benchmarks share: clients for a simulator, a virtual clock, polling.

* :func:`client_for`: a product :class:`~pulumi_dcs_migration.client.DcsClient` signed with a
  simulator's keys (its secrets scrubbed from errors), with quick retries.
* :func:`signed_http_client`: a plain httpx client signed the same way (route-level tests).
* :mod:`.api`: the calls only tests make (creating tasks, the single-task stop) and their models,
  which the product does not have.
* :class:`VirtualClock`: one clock for the simulator and the engine, moved only by ``sleep``,
  with events scheduled at virtual moments: runs that used to race real time become
  deterministic.
* :func:`poll_until`: the one polling loop of the test suite.
* :mod:`.soak` / :mod:`.truth`: the seeded soak and the check of a report against the simulator.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import DcsClient
from pulumi_dcs_migration.policy import RetryPolicy

from ..config import DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY
from ..server import RunningSimulator

T = TypeVar("T")

FAST_RETRY = RetryPolicy(attempts=6, timeout=20, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)
"""Retries as in production, minus the long waits."""

UNKNOWN_TASK_ID = "00000000-0000-4000-8000-000000000000"
"""Well formed, and unknown to every simulator."""


def client_for(
    sim: RunningSimulator,
    *,
    auth: httpx.Auth | None = None,
    retry: RetryPolicy | None = None,
    **kw: Any,
) -> DcsClient:
    """A DcsClient signed with the simulator's keys (or ``auth``), its secrets scrubbed from errors."""
    cfg = sim.config
    return client_for_url(
        sim.url,
        access_key=cfg.access_key,
        secret_key=cfg.secret_key,
        project_id=cfg.project_id,
        auth=auth,
        retry=retry,
        **kw,
    )


def client_for_url(
    url: str,
    *,
    access_key: str = DEMO_ACCESS_KEY,
    secret_key: str = DEMO_SECRET_KEY,
    project_id: str = DEMO_PROJECT_ID,
    auth: httpx.Auth | None = None,
    retry: RetryPolicy | None = None,
    **kw: Any,
) -> DcsClient:
    """:func:`client_for` a simulator known by its URL (a ``dcs-simulator`` subprocess; demo keys
    unless told otherwise)."""
    auth = auth or AkSkAuth(access_key, secret_key, project_id=project_id)
    return DcsClient(
        url, project_id, auth, retry=retry or FAST_RETRY, secrets=[access_key, secret_key], **kw
    )


def signed_http_client(
    sim: RunningSimulator, auth: httpx.Auth | None = None, **kwargs: Any
) -> httpx.Client:
    """A plain httpx client for ``sim``'s routes, signed with its keys unless ``auth`` is given."""
    cfg = sim.config
    auth = auth or AkSkAuth(cfg.access_key, cfg.secret_key, project_id=cfg.project_id)
    kwargs.setdefault("timeout", 30)
    return httpx.Client(base_url=sim.url, auth=auth, **kwargs)


def poll_until(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    what: str = "condition",
) -> T:
    """Call ``probe`` until ``done(result)``; return that result, or fail after ``timeout``.

    For waiting on *another process* (a CLI, a server) only; in-process waits use a
    :class:`VirtualClock`. The timeout is a guard against hanging, never an assertion about speed.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout:g}s; last: {result!r}")
        time.sleep(interval)


class VirtualClock:
    """Epoch-like seconds that move only when someone sleeps (a product ``Clock``).

    ``now()`` is the current virtual time; ``sleep(s)`` moves it ``s`` forward at once, first
    running (in the sleeping thread, in time order) every event scheduled in between.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.RLock()
        self._events: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        """The current virtual time."""
        with self._lock:
            return self._now

    def wall(self) -> float:
        """The same virtual time (it reads like epoch seconds)."""
        return self.now()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        """Move time ``seconds`` forward, running the events due on the way (at once when
        ``cancel`` is set: a cancelled wait ends)."""
        if cancel is not None and cancel.is_set():
            return
        with self._lock:
            target = self._now + max(seconds, 0.0)
        while True:
            with self._lock:
                if not self._events or self._events[0][0] > target:
                    self._now = max(self._now, target)
                    return
                moment, _, action = heapq.heappop(self._events)
                self._now = max(self._now, moment)
            # Outside the lock: the action may call a server whose handlers read this clock.
            action()

    def at(self, moment: float, action: Callable[[], object]) -> None:
        """Run ``action`` when virtual time reaches ``moment`` (by someone's sleep)."""
        with self._lock:
            heapq.heappush(self._events, (moment, next(self._order), action))

    def clear(self) -> None:
        """Drop the events that have not happened."""
        with self._lock:
            self._events.clear()
