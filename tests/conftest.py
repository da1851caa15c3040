"""Shared fixtures: in-process DCS simulators, stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dcs_simulator import RunningSimulator, SimulatorConfig, start_simulator

SimulatorFactory = Callable[..., RunningSimulator]


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    """Start simulators from ``SimulatorConfig`` keyword arguments; all stop at teardown.

    ``stop_delay`` defaults to 0.05 s so lifecycle tests stay fast.
    """
    started: list[RunningSimulator] = []

    def start(**kwargs: Any) -> RunningSimulator:
        kwargs.setdefault("stop_delay", 0.05)
        sim = start_simulator(SimulatorConfig(**kwargs))
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(simulator_factory: SimulatorFactory) -> RunningSimulator:
    """A simulator with default settings and a 0.05 s stop delay."""
    return simulator_factory()
