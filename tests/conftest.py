"""Shared fixtures: in-process DCS simulators (on real or virtual time), stopped at teardown."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dcs_simulator import RunningSimulator, SimulatorConfig, start_simulator
from dcs_simulator.testing import VirtualClock

SimulatorFactory = Callable[..., RunningSimulator]


def _simulators(clock: Callable[[], float], **defaults: Any) -> Iterator[SimulatorFactory]:
    """A factory of simulators on ``clock``, ``defaults`` under each call's keyword arguments;
    every simulator it started stops when the generator resumes."""
    started: list[RunningSimulator] = []

    def start(**kwargs: Any) -> RunningSimulator:
        sim = start_simulator(SimulatorConfig(**{**defaults, **kwargs}), clock=clock)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    """Start simulators from ``SimulatorConfig`` keyword arguments; all stop at teardown.

    ``stop_delay`` defaults to 0.05 s so lifecycle tests stay fast.
    """
    yield from _simulators(time.time, stop_delay=0.05)


@pytest.fixture
def simulator(simulator_factory: SimulatorFactory) -> RunningSimulator:
    """A simulator with default settings and a 0.05 s stop delay."""
    return simulator_factory()


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """The clock of :func:`virtual_simulator_factory`'s simulators: moves only by ``sleep``."""
    return VirtualClock()


@pytest.fixture
def virtual_simulator_factory(virtual_clock: VirtualClock) -> Iterator[SimulatorFactory]:
    """Like :func:`simulator_factory`, on ``virtual_clock``: anything time-dependent (stop
    delays, throttle refill) is deterministic, as time moves only when someone sleeps on it."""
    yield from _simulators(virtual_clock.now)


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
