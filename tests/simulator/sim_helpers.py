"""Helpers for the simulator tests (imported as ``sim_helpers``; not a conftest so that the
import is unambiguous)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from dcs_simulator import DEMO_PROJECT_ID, RunningSimulator

P = f"/v2/{DEMO_PROJECT_ID}"
"""Path prefix of every DCS route for the demo project."""

ClientFactory = Callable[..., httpx.Client]
"""The ``client_for`` fixture: ``client_for(sim, auth=None, **httpx_kwargs)``."""
SimulatorFactory = Callable[..., RunningSimulator]
"""The ``simulator_factory`` fixture: ``simulator_factory(**SimulatorConfig_kwargs)``."""


def wait_for_status(
    client: httpx.Client, task_id: str, wanted: str, timeout: float = 5.0
) -> dict[str, Any]:
    """Poll the details call until ``status == wanted``; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"{P}/migration-task/{task_id}").json()
        if body.get("status") == wanted:
            return body
        assert time.monotonic() < deadline, f"{task_id} still {body.get('status')}, wanted {wanted}"
        time.sleep(0.01)
