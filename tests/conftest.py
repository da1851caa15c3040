"""Shared fixtures: in-process DCS simulators (on real or virtual time), stopped at teardown;
a self-signed TLS certificate."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from dcs_simulator import RunningSimulator, SimulatorConfig, start_simulator
from dcs_simulator.testing import VirtualClock

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist's workers get COLUMNS=80 and LINES=24, which the command lines these tests
    # run would honour as a user's terminal size: a worker runs them as a plain run does.
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


class SimulatorFactory(Protocol):
    """The ``simulator_factory`` fixture: ``simulator_factory(clock=None, **config)``, ``config``
    being :class:`~dcs_simulator.SimulatorConfig`'s keyword arguments."""

    def __call__(self, *, clock: VirtualClock | None = None, **config: Any) -> RunningSimulator: ...


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    """Start simulators from ``SimulatorConfig`` keyword arguments; all stop at teardown.

    On real time, ``stop_delay`` defaults to 0.05 s so that lifecycle tests stay fast. With
    ``clock=virtual_clock`` a simulator runs on that :class:`VirtualClock` and the config's own
    defaults: anything time-dependent (stop delays, throttle refill, lag) is deterministic, as
    time moves only when someone sleeps on the clock.
    """
    started: list[RunningSimulator] = []

    def start(*, clock: VirtualClock | None = None, **config: Any) -> RunningSimulator:
        if clock is None:
            sim = start_simulator(SimulatorConfig(**{"stop_delay": 0.05, **config}))
        else:
            sim = start_simulator(SimulatorConfig(**config), clock=clock.now)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(simulator_factory: SimulatorFactory) -> RunningSimulator:
    """A simulator with default settings and a 0.05 s stop delay."""
    return simulator_factory()


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A clock that moves only by ``sleep``: ``simulator_factory(clock=virtual_clock)``."""
    return VirtualClock()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made once with the openssl CLI."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
