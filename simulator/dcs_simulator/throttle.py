"""Gateway-like throttling: one token bucket per project, on the simulator's clock.

Off by default. When on (``--throttle-rate``/``--throttle-burst``, ``SimulatorConfig``, or
``POST /_simulator/throttle``), each project id seen in a DCS path has a bucket of ``burst``
tokens, refilled continuously at ``rate`` tokens per second. A request takes one token; with
less than one token left it is answered 429 ``APIGW.0308`` with ``Retry-After``: the seconds
until a token is back, rounded *up* to whole seconds, so a client that waits that long is
admitted (unless someone else took the token first). A refused request takes no token.

Buckets start full and are computed lazily from the clock (the level and the moment of the last
update, nothing running in the background), so a :class:`~dcs_simulator.testing.VirtualClock`
drives refills deterministically. One lock guards every bucket: the server's thread and test
code may call concurrently. Changing the policy refills every bucket.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from .config import check_throttle
from .state import Clock

EPSILON = 1e-9
"""Floating-point slack: a bucket refilled to 0.9999999999 tokens holds one."""


@dataclass(frozen=True)
class ThrottlePolicy:
    """Requests per second and the bucket size."""

    rate: float
    burst: int

    @classmethod
    def of(cls, rate: float | None, burst: int | None) -> ThrottlePolicy | None:
        """A validated policy (``burst`` defaults to ``ceil(rate)``, at least 1), or ``None``
        when ``rate`` is ``None`` (throttling off). Raises ``ValueError``."""
        check_throttle(rate, burst)
        if rate is None:
            return None
        return cls(float(rate), burst if burst is not None else max(1, math.ceil(rate)))


class Throttle:
    """Per-project token buckets; :meth:`admit` is called once per authenticated DCS request."""

    def __init__(self, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._policy = policy
        self._buckets: dict[str, tuple[float, float]] = {}  # project -> (tokens, at)

    @property
    def policy(self) -> ThrottlePolicy | None:
        """The active policy, ``None`` when throttling is off."""
        return self._policy

    def set(self, policy: ThrottlePolicy | None) -> None:
        """Replace the policy (``None``: off); every bucket starts full again."""
        with self._lock:
            self._policy = policy
            self._buckets.clear()

    def admit(self, project: str) -> float | None:
        """Take a token for ``project``: ``None`` when admitted, else the seconds until one is
        available (always > 0)."""
        with self._lock:
            policy = self._policy
            if policy is None:
                return None
            now = self._clock()
            tokens = self._level(policy, project, now)
            if tokens >= 1.0 - EPSILON:
                self._buckets[project] = (max(0.0, tokens - 1.0), now)
                return None
            self._buckets[project] = (tokens, now)
            return (1.0 - tokens) / policy.rate

    def _level(self, policy: ThrottlePolicy, project: str, now: float) -> float:
        tokens, at = self._buckets.get(project, (float(policy.burst), now))
        return min(float(policy.burst), tokens + max(0.0, now - at) * policy.rate)

    def describe(self) -> dict[str, Any]:
        """``{"enabled", "rate", "burst", "tokens": {project: level now}}``."""
        with self._lock:
            policy = self._policy
            if policy is None:
                return {"enabled": False, "rate": None, "burst": None, "tokens": {}}
            now = self._clock()
            tokens = {p: self._level(policy, p, now) for p in self._buckets}
            return {"enabled": True, "rate": policy.rate, "burst": policy.burst, "tokens": tokens}


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` takes whole seconds; round up so a client never retries early."""
    whole = int(seconds)
    return str(whole if whole == seconds else whole + 1)
