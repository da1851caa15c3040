"""Injected faults: throttling, server errors, latency and dropped connections.

A fault plan is set through ``POST /_simulator/faults``::

    {"seed": 7, "operations": ["batch_stop"] | null,
     "throttle": {"probability": 0.3 | "count": 2, "retry_after": 1 | null},
     "server_error": {"probability" | "count", "status": 500 | 503},
     "latency": {"seconds": 0.2, "probability" | "count"},
     "drop": {"probability" | "count"}}

``count: n`` fires on the next ``n`` matching requests; ``probability: p`` draws from a RNG
seeded with ``seed``, one draw per probabilistic fault per matching request in a fixed order,
so the same seed and the same request sequence give the same faults. ``operations: null``
means every DCS operation; admin routes never see faults.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass
from typing import Any

from .config import OPERATIONS

FAULT_KINDS = ("latency", "drop", "throttle", "server_error")


@dataclass
class Trigger:
    """When a fault fires: on the next ``count`` requests, or with ``probability``."""

    probability: float = 0.0
    count: int | None = None

    def fires(self, rng: random.Random) -> bool:
        """Decide for one matching request (consumes a count or one RNG draw)."""
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
            return True
        return rng.random() < self.probability


@dataclass
class Decision:
    """What to do with one request: sleep first, then maybe answer with a fault."""

    latency: float = 0.0
    drop: bool = False
    throttle_retry_after: float | None = None
    throttle: bool = False
    server_error: int | None = None

    @property
    def answers(self) -> bool:
        """True when the fault replaces the normal answer."""
        return self.drop or self.throttle or self.server_error is not None


class FaultPlan:
    """The active faults; :meth:`decide` is called once per DCS request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spec: dict[str, Any] = {}
        self._operations: frozenset[str] | None = None
        self._triggers: dict[str, Trigger] = {}
        self._params: dict[str, dict[str, Any]] = {}
        self._rng = random.Random(0)

    def set(self, spec: dict[str, Any]) -> None:
        """Replace the plan; raises ``ValueError`` on a malformed spec (plan left unchanged)."""
        operations, triggers, params = _parse(spec)
        with self._lock:
            self._spec = spec
            self._operations = operations
            self._triggers = triggers
            self._params = params
            self._rng = random.Random(spec.get("seed", 0))

    def clear(self) -> None:
        """Remove every fault."""
        self.set({})

    def describe(self) -> dict[str, Any]:
        """The spec as last set, with counts remaining."""
        with self._lock:
            remaining = {k: t.count for k, t in self._triggers.items() if t.count is not None}
            return {"spec": self._spec, "remaining_counts": remaining}

    def decide(self, operation: str) -> Decision:
        """Roll the faults for one request to ``operation``."""
        decision = Decision()
        with self._lock:
            if not self._triggers:
                return decision
            if self._operations is not None and operation not in self._operations:
                return decision
            fired = {kind for kind in FAULT_KINDS if kind in self._triggers and self._roll(kind)}
        if "latency" in fired:
            decision.latency = float(self._params["latency"]["seconds"])
        # One answer per request, the most disruptive first.
        if "drop" in fired:
            decision.drop = True
        elif "throttle" in fired:
            decision.throttle = True
            decision.throttle_retry_after = self._params["throttle"].get("retry_after")
        elif "server_error" in fired:
            decision.server_error = int(self._params["server_error"].get("status", 500))
        return decision

    def _roll(self, kind: str) -> bool:
        return self._triggers[kind].fires(self._rng)


def _parse(
    spec: dict[str, Any],
) -> tuple[frozenset[str] | None, dict[str, Trigger], dict[str, dict[str, Any]]]:
    if not isinstance(spec, dict):
        raise ValueError("the fault spec must be a JSON object")
    unknown = set(spec) - {"seed", "operations", *FAULT_KINDS}
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    seed = spec.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an integer")
    operations = _parse_operations(spec.get("operations"))
    triggers: dict[str, Trigger] = {}
    params: dict[str, dict[str, Any]] = {}
    for kind in FAULT_KINDS:
        body = spec.get(kind)
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ValueError(f"{kind} must be an object")
        _check_params(kind, body)
        triggers[kind] = _parse_trigger(kind, body)
        params[kind] = body
    return operations, triggers, params


def _parse_operations(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("operations must be a list of operation names or null")
    unknown = sorted(set(value) - set(OPERATIONS))
    if unknown:  # a typo would otherwise silently disable the fault
        raise ValueError(f"unknown operation(s) {unknown}; known: {list(OPERATIONS)}")
    return frozenset(value)


def _parse_trigger(kind: str, body: dict[str, Any]) -> Trigger:
    count, probability = body.get("count"), body.get("probability")
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{kind}.count must be a non-negative integer")
        return Trigger(count=count)
    if probability is None:
        raise ValueError(f"{kind} needs probability or count")
    if not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise ValueError(f"{kind}.probability must be in [0, 1]")
    return Trigger(probability=float(probability))


def _check_params(kind: str, body: dict[str, Any]) -> None:
    if kind == "latency":
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
            raise ValueError("latency.seconds must be a non-negative number")
    if kind == "server_error" and body.get("status", 500) not in (500, 503):
        raise ValueError("server_error.status must be 500 or 503")
    if kind == "throttle":
        retry_after = body.get("retry_after")
        if retry_after is not None and (
            not isinstance(retry_after, int | float) or retry_after < 0
        ):
            raise ValueError("throttle.retry_after must be a non-negative number or null")
