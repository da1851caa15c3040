"""Configuration of the simulator: credentials, timing, and the switchable readings of the
API behaviours the reference marks UNCONFIRMED."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

DEMO_ACCESS_KEY = "DCSSIMULATORDEMOAK01"
"""Access key the simulator accepts by default (fake; for local use only)."""
DEMO_SECRET_KEY = "dcs-simulator-demo-secret-key-0000000001"
"""Secret key matching :data:`DEMO_ACCESS_KEY` (fake; for local use only)."""
DEMO_PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
"""Project id the simulator serves by default."""
DEFAULT_DRAIN_RATE = 1_000_000.0
"""Bytes per second a task's incremental lag drains at once its source stops being written."""

OPERATIONS = (
    "list",
    "show",
    "batch_stop",
    "stop",
    "sync_stop",
    "delete",
    "batch_restart",
    "create_online",
    "configure_online",
    "create",
    "stats",
    "logs",
)
"""Operation names of the DCS routes, as used by counters and fault plans."""

StopFinished = Literal["failed", "noop_success", "reject_400"]
UnknownInBatch = Literal["failed", "reject_400"]
DeletedDetails = Literal["not_found", "deleted_status"]
DeleteRunning = Literal["refuse", "allow"]


@dataclass
class Behaviour:
    """Readings of API behaviour the reference could not confirm; each one is switchable.

    - ``stop_finished``: stopping a task that ended on its own (SUCCESS, FAILED, ...) gives a
      per-item ``failed`` with ``DCS.4026`` (``"failed"``), a ``success`` that changes nothing
      (``"noop_success"``), or fails the whole batch with 400 ``DCS.4855`` (``"reject_400"``).
    - ``unknown_in_batch``: a well-formed but unknown id in batch-stop gives a per-item
      ``failed`` with ``DCS.4133`` or fails the whole batch with 400 ``DCS.4855``.
    - ``deleted_details``: details of a deleted task answer 400 ``DCS.4133`` or 200 with
      status ``DELETED``.
    - ``delete_running``: deleting a task that is running (or still terminating) is refused
      with 400 ``DCS.4026`` or allowed.
    - ``batch_limit``: when set, a batch-stop with more ids gets 400 ``DCS.4100``.
    """

    stop_finished: StopFinished = "failed"
    unknown_in_batch: UnknownInBatch = "failed"
    deleted_details: DeletedDetails = "not_found"
    delete_running: DeleteRunning = "refuse"
    batch_limit: int | None = None

    def updated(self, **fields: Any) -> Behaviour:
        """A copy with ``fields`` replaced, validated; raises ``ValueError`` on a bad field."""
        candidate = dataclasses.replace(self, **_known_fields(fields))
        candidate.validate()
        return candidate

    def validate(self) -> None:
        """Raise ``ValueError`` when a field holds a value outside its choices."""
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(f"{name} must be one of {list(choices)}, not {value!r}")
        limit = self.batch_limit
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError(f"batch_limit must be a positive integer or null, not {limit!r}")

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return dataclasses.asdict(self)


_CHOICES: dict[str, tuple[str, ...]] = {
    "stop_finished": get_args(StopFinished),
    "unknown_in_batch": get_args(UnknownInBatch),
    "deleted_details": get_args(DeletedDetails),
    "delete_running": get_args(DeleteRunning),
}


def _known_fields(fields: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(Behaviour)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"unknown behaviour field(s): {', '.join(unknown)}")
    return fields


@dataclass
class SimulatorConfig:
    """Everything a simulator instance is started with.

    ``port=0`` picks a free port. ``seed`` is the number of ``INCRMIGEATING`` online tasks that
    exist at start. A stopped task reads ``TERMINATING`` for ``stop_delay`` seconds (``inf``:
    forever), varied per task by up to ``±stop_jitter`` (a fraction) drawn from a RNG seeded
    with ``rng_seed``. ``create_delay`` is how long a task made by the online-create call reads
    ``CREATING`` before ``RUNNING``. ``tokens`` are accepted as ``X-Auth-Token`` values; when
    ``security_token`` is set, AK/SK requests must carry it (signed) in ``X-Security-Token``.

    ``throttle_rate`` (requests per second) switches on the gateway-like per-project token
    bucket, holding ``throttle_burst`` tokens (default: the rate rounded up, at least 1); see
    :mod:`.throttle`. ``write_rate`` and ``drain_rate`` (bytes per second) are the defaults of
    every new task's incremental-lag model (``offset`` of the stats call); see
    :meth:`.state.Task.lag_at`. ``host`` may be non-loopback; the admin API then still only
    answers loopback clients.
    """

    host: str = "127.0.0.1"
    port: int = 0
    access_key: str = DEMO_ACCESS_KEY
    secret_key: str = field(default=DEMO_SECRET_KEY, repr=False)
    project_id: str = DEMO_PROJECT_ID
    tokens: tuple[str, ...] = field(default=(), repr=False)
    security_token: str | None = field(default=None, repr=False)
    seed: int = 0
    stop_delay: float = 2.0
    stop_jitter: float = 0.0
    rng_seed: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    create_delay: float = 0.2
    access_log: bool = False
    tls_certfile: str | None = None  # serve https with this certificate (PEM) ...
    tls_keyfile: str | None = None  # ... and its private key; for TLS tests of the client
    throttle_rate: float | None = None  # requests/second per project; None = no throttling
    throttle_burst: int | None = None  # bucket size; None = ceil(throttle_rate), at least 1
    write_rate: float = 0.0  # bytes/second a new task's lag grows by while written to
    drain_rate: float = DEFAULT_DRAIN_RATE  # bytes/second the lag drains by once writes stop

    def validate(self) -> None:
        """Raise ``ValueError`` on a configuration the simulator cannot run with."""
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        check_delay(self.stop_delay, "stop_delay")
        check_jitter(self.stop_jitter)
        check_delay(self.create_delay, "create_delay")
        self.behaviour.validate()
        check_throttle(self.throttle_rate, self.throttle_burst)
        check_rate(self.write_rate, "write_rate")
        check_rate(self.drain_rate, "drain_rate")


def check_delay(value: float, name: str) -> None:
    """A delay is a non-negative number or infinity (never)."""
    if math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be >= 0 (inf = never), not {value!r}")


def check_jitter(value: float) -> None:
    """Jitter is a fraction in [0, 1]: more than 100% would make delays negative."""
    if math.isnan(value) or not 0 <= value <= 1:
        raise ValueError(f"stop_jitter must be a fraction in [0, 1], not {value!r}")


def check_rate(value: float, name: str) -> None:
    """A lag rate is a finite, non-negative number of bytes per second."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")


def check_throttle(rate: float | None, burst: int | None) -> None:
    """Throttling: a positive finite rate and a burst of at least one request (or both off)."""
    if rate is None:
        if burst is not None:
            raise ValueError("throttle_burst needs throttle_rate")
        return
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise ValueError(f"throttle_rate must be a number, not {rate!r}")
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"throttle_rate must be a finite number > 0, not {rate!r}")
    if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or burst < 1):
        raise ValueError(f"throttle_burst must be an integer >= 1, not {burst!r}")
