"""Helpers shared by test packages (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx

from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import DcsClient, RetryPolicy
from pulumi_dcs_migration.simulator import RunningSimulator

FAST_RETRY = RetryPolicy(attempts=6, timeout=20, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)
"""Retries as in production, minus the long waits."""

UNKNOWN_TASK_ID = "00000000-0000-4000-8000-000000000000"
"""Well formed, and unknown to every simulator."""


def client_for(
    sim: RunningSimulator,
    *,
    auth: httpx.Auth | None = None,
    retry: RetryPolicy | None = None,
    **kw: Any,
) -> DcsClient:
    """A DcsClient signed with the simulator's keys (or ``auth``), its secrets scrubbed from errors."""
    cfg = sim.config
    auth = auth or AkSkAuth(cfg.access_key, cfg.secret_key, project_id=cfg.project_id)
    return DcsClient(
        sim.url,
        cfg.project_id,
        auth,
        retry=retry or FAST_RETRY,
        secrets=[cfg.access_key, cfg.secret_key],
        **kw,
    )
