"""Fixtures for the simulator tests: httpx clients signing with AK/SK over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import VirtualClock, signed_http_client

from ..conftest import SimulatorFactory
from .sim_helpers import HttpClientFactory


@pytest.fixture
def http_client_for() -> Iterator[HttpClientFactory]:
    """Make a plain httpx client for a simulator (:func:`dcs_simulator.testing.signed_http_client`:
    signed with its AK/SK unless ``auth`` is given); every client is closed at teardown.

    Not the harness's ``client_for``, which makes the product's ``DcsClient``.
    """
    clients: list[httpx.Client] = []

    def make(sim: RunningSimulator, auth: httpx.Auth | None = None, **kwargs: Any) -> httpx.Client:
        client = signed_http_client(sim, auth, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def dcs(simulator: RunningSimulator, http_client_for: HttpClientFactory) -> httpx.Client:
    """A signed client for the default ``simulator``."""
    return http_client_for(simulator)


@pytest.fixture
def virtual_simulator(
    simulator_factory: SimulatorFactory, virtual_clock: VirtualClock
) -> RunningSimulator:
    """A simulator with default settings on ``virtual_clock`` (both fixtures from
    ``tests/conftest.py``)."""
    return simulator_factory(clock=virtual_clock)


@pytest.fixture
def vdcs(virtual_simulator: RunningSimulator, http_client_for: HttpClientFactory) -> httpx.Client:
    """A signed client for ``virtual_simulator``."""
    return http_client_for(virtual_simulator)
