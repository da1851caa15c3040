"""Fixtures for the simulator tests: httpx clients signing with AK/SK over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dcs_simulator import (
    DEMO_ACCESS_KEY,
    DEMO_PROJECT_ID,
    DEMO_SECRET_KEY,
    RunningSimulator,
)
from pulumi_dcs_migration.auth import AkSkAuth

from .sim_helpers import ClientFactory


@pytest.fixture
def client_for() -> Iterator[ClientFactory]:
    """Make a plain httpx client for a simulator, signed with AK/SK unless ``auth`` is given."""
    clients: list[httpx.Client] = []

    def make(sim: RunningSimulator, auth: httpx.Auth | None = None, **kwargs: Any) -> httpx.Client:
        auth = auth or AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, project_id=DEMO_PROJECT_ID)
        client = httpx.Client(base_url=sim.url, auth=auth, timeout=30, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def dcs(simulator: RunningSimulator, client_for: ClientFactory) -> httpx.Client:
    """A signed client for the default ``simulator``."""
    client: httpx.Client = client_for(simulator)
    return client
