"""Helpers for the simulator tests (imported as ``sim_helpers``; not a conftest so that the
import is unambiguous)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from dcs_simulator import DEMO_PROJECT_ID, RunningSimulator
from dcs_simulator.testing import poll_until

P = f"/v2/{DEMO_PROJECT_ID}"
"""Path prefix of every DCS route for the demo project."""


class HttpClientFactory(Protocol):
    """The ``http_client_for`` fixture: ``http_client_for(sim, auth=None, **httpx_kwargs)``."""

    def __call__(
        self, sim: RunningSimulator, auth: httpx.Auth | None = None, **kwargs: Any
    ) -> httpx.Client: ...


def details(client: httpx.Client, task_id: str) -> dict[str, Any]:
    """The details call's body for ``task_id``."""
    body: dict[str, Any] = client.get(f"{P}/migration-task/{task_id}").json()
    return body


def stats(client: httpx.Client, task_id: str) -> dict[str, Any]:
    """The stats call's body for ``task_id`` (asserting a 200)."""
    response = client.get(f"{P}/migration-task/{task_id}/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_status(
    client: httpx.Client, task_id: str, wanted: str, timeout: float = 5.0
) -> dict[str, Any]:
    """Poll the details call until ``status == wanted``; fail after ``timeout`` (a guard
    against hanging, not a speed assertion)."""
    return poll_until(
        lambda: details(client, task_id),
        lambda body: body.get("status") == wanted,
        timeout=timeout,
        what=f"{task_id} reading {wanted}",
    )
