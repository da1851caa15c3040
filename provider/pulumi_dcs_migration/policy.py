"""The request policy: when a request is sent, when it is sent again, and until when.

One component owns every rule about the timing of requests; the client asks it to run each call
(:meth:`RequestPolicy.call`) and the engine asks it when to poll (:meth:`RequestPolicy.pace`):

* **deadline**: every call ends by one instant on the policy's :class:`~.clock.Clock`, the one
  its caller set (``DcsClient.deadline``: a stop's whole run, a command's ``--timeout``) or, when
  none is set, :attr:`RetryPolicy.timeout` from the call's start. Retries, waits, the rate
  limit's turns and every socket operation (:mod:`.transport`) end by it;
* **retry**: 429, 5xx and failures to connect are retried; a request that may have been
  processed is resent only when it is idempotent; other 4xx, a refused TLS certificate and the
  deadline never are (:func:`retry_decision`). A 429 says "later", not "no": inside a caller's
  deadline it is retried for as long as the deadline allows, and :attr:`RetryPolicy.attempts`
  bounds the other failures; without one, the attempts bound them all;
* **backoff**: ``min(wait_max, wait_initial * 2 ** (retry - 1) + uniform(0, wait_jitter))``
  seconds, or the 429's ``Retry-After`` (capped at :attr:`RetryPolicy.max_retry_after`, never a
  tight loop); a retry whose wait would reach the deadline is not made, and the error says why;
* **rate limit**: each attempt first takes its turn from the :class:`~.ratelimit.RateLimiter`
  (when the client has one), and tells it how the answer went.

tenacity runs the loop (attempts, the waits through our clock, the hook that logs each retry);
the decisions above are ours, as pure functions where they can be.
"""

from __future__ import annotations

import logging
import math
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import tenacity

from .clock import SYSTEM_CLOCK, Clock
from .errors import DcsApiError, DcsError, DeadlineExceeded, ServerError, ThrottledError
from .ratelimit import Priority, RateLimiter

_T = TypeVar("_T")
retry_log = logging.getLogger("pulumi_dcs_migration.retry")
"""One readable line per scheduled retry (front ends show it; see :func:`show_retries`)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry a failed request (see the module docstring for what is retried)."""

    attempts: int = 6
    timeout: float = 120.0  # seconds a call may take in all when its caller set no deadline
    wait_initial: float = 0.25
    wait_max: float = 15.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0  # a larger Retry-After is capped

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1, 2, ...): exponential, with jitter."""
        jitter = rng.uniform(0, self.wait_jitter) if self.wait_jitter else 0.0
        try:
            return min(self.wait_max, self.wait_initial * 2.0 ** (retry - 1) + jitter)
        except OverflowError:
            return self.wait_max


def retry_decision(exc: BaseException, policy: RetryPolicy, *, idempotent: bool) -> bool | float:
    """Whether to retry after ``exc``: ``False``, ``True`` (after the backoff) or the seconds a
    ``Retry-After`` asked for (capped)."""
    if isinstance(exc, ThrottledError):
        if exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), policy.max_retry_after)
        return True
    if isinstance(exc, ServerError):
        return idempotent
    if _certificate_refused(exc):
        return False  # a certificate that fails verification fails again: say so now
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True  # the request never left: always safe to send again
    if isinstance(exc, httpx.TransportError):
        return idempotent  # it may have been processed; only resend what is safe to repeat
    return False


def _certificate_refused(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a failed TLS certificate verification."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _reason(exc: BaseException) -> str:
    return f"HTTP {exc.status_code}" if isinstance(exc, DcsApiError) else type(exc).__name__


def describe_retry(exc: BaseException, wait: float, attempt: int) -> str:
    """``retrying a DCS call in 0.3s (attempt 2) after HTTP 503``."""
    return f"retrying a DCS call in {wait:.1f}s (attempt {attempt}) after {_reason(exc)}"


def show_retries(write: Callable[[str], object]) -> None:
    """Make every retry of this process one line through ``write`` (front ends call this)."""

    class _Line(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            write(record.getMessage())

    retry_log.handlers[:] = [_Line()]
    retry_log.setLevel(logging.INFO)
    retry_log.propagate = False


@dataclass
class Deadline:
    """When one call, started at ``started``, must be done, on ``clock``: ``at``."""

    at: float
    started: float
    clock: Clock
    cut: str | None = None  # why a retry was not made (it could not end in time)

    def left(self) -> float:
        """Seconds until the deadline (zero or less once it passed)."""
        return self.at - self.clock.now()

    def exceeded(self, operation: str, reason: str | None = None) -> DeadlineExceeded:
        """The error of a call that ran out of time."""
        return DeadlineExceeded(operation, self.at - self.started, reason)


class RequestPolicy:
    """Retries, deadline and rate limit of one client's calls; see the module docstring."""

    def __init__(
        self,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self.clock = clock
        self.rng = rng or random.Random()

    def pace(self, requests: int, interval: float) -> float:
        """Seconds to a poller's next poll of ``requests`` requests: ``interval``, or longer when
        the rate limit could not serve it sooner (see :meth:`~.ratelimit.RateLimiter.pace`)."""
        return interval if self.limiter is None else self.limiter.pace(requests, interval)

    def call(
        self,
        operation: str,
        send: Callable[[Deadline], _T],
        *,
        deadline: float | None,
        idempotent: bool = True,
        priority: Priority = Priority.READ,
    ) -> _T:
        """``send(deadline)`` until it succeeds, as the policy allows; the last failure is
        raised (a :class:`~.errors.DeadlineExceeded` saying why when time ran out)."""
        retry = self.retry
        bounded = deadline is not None  # a 429 is retried until the caller's deadline
        now = self.clock.now()
        limit = Deadline(now + retry.timeout if deadline is None else deadline, now, self.clock)
        if limit.left() <= 0:
            raise limit.exceeded(operation)
        others = 0  # failures other than 429 so far

        def wait(state: tenacity.RetryCallState) -> float:
            exc = _failure(state)
            decision = retry_decision(exc, retry, idempotent=idempotent)
            backoff = retry.backoff(state.attempt_number, self.rng)
            if decision is True:
                return backoff
            # A Retry-After shorter than the backoff (0 from a hostile server) must not turn
            # into a tight loop: the backoff, as far as it fits.
            return max(float(decision), min(backoff, limit.left() / 2))

        def stop(state: tenacity.RetryCallState) -> bool:
            nonlocal others
            exc = _failure(state)
            others += not isinstance(exc, ThrottledError)
            counted = others if bounded else state.attempt_number
            if counted >= retry.attempts:
                return True
            left = limit.left()
            if state.upcoming_sleep >= left:
                limit.cut = _why_cut(exc, state.upcoming_sleep, left)
                return True
            return False

        def log(state: tenacity.RetryCallState) -> None:
            retry_log.info(
                describe_retry(_failure(state), state.upcoming_sleep, state.attempt_number + 1)
            )

        retrying = tenacity.Retrying(
            sleep=self.clock.sleep,
            retry=tenacity.retry_if_exception(
                lambda exc: retry_decision(exc, retry, idempotent=idempotent) is not False
            ),
            wait=wait,
            stop=stop,
            before_sleep=log,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(operation, send, limit, priority)
        except DeadlineExceeded:
            raise
        except (DcsError, httpx.TransportError) as exc:
            if limit.cut is not None:
                raise limit.exceeded(operation, limit.cut) from None
            if limit.left() <= 0:
                raise limit.exceeded(operation, "the answer did not arrive in time") from None
            raise exc from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, operation: str, send: Callable[[Deadline], _T], limit: Deadline, priority: Priority
    ) -> _T:
        """One attempt: its turn from the rate limit, the request, and what its answer says."""
        limiter = self.limiter
        if limiter is None:
            return send(limit)
        left = limit.left()
        grant = limiter.acquire(priority, None if math.isinf(left) else left)
        if grant is None:
            raise limit.exceeded(
                operation,
                "its turn under the rate limit (the requests-per-second ceiling, lower while "
                "the API throttles) would come after the deadline",
            )
        try:
            result = send(limit)
        except ThrottledError as exc:
            after = exc.retry_after
            limiter.throttled(
                grant, None if after is None else min(after, self.retry.max_retry_after)
            )
            raise
        limiter.succeeded(grant)
        return result


def _failure(state: tenacity.RetryCallState) -> BaseException:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    assert exc is not None  # tenacity asks only after a failed attempt
    return exc


def _why_cut(exc: BaseException, wait: float, left: float) -> str:
    """Why a failed attempt was not retried: the retry could not end before the deadline."""
    if left <= 0 and isinstance(exc, httpx.TimeoutException):
        return "the answer did not arrive in time"
    if isinstance(exc, ThrottledError) and exc.retry_after is not None:
        return (
            f"the API answered HTTP 429 and asked to retry after {exc.retry_after:g}s, "
            f"more than the {max(left, 0.0):.1f}s left"
        )
    return f"{_reason(exc)}, and a retry in {wait:.1f}s would not end before the deadline"
