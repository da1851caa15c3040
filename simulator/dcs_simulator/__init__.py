"""A local simulator of the DCS migration-task API, served over real HTTP.

For loopback use: the ``/_simulator/`` admin API has no authentication and answers loopback
clients only (403 otherwise), even when bound to a non-loopback address. DCS routes check
AK/SK signatures (with :func:`dcs_simulator.verify.verify_request`) or IAM tokens, model
the task lifecycle and each task's incremental lag lazily from a clock, throttle like the API
gateway (optional per-project token bucket), and can inject faults. Readings of UNCONFIRMED API
behaviour are switchable through :class:`Behaviour`.

    from dcs_simulator import start_simulator, SimulatorConfig
    with start_simulator(SimulatorConfig(seed=10, stop_delay=0.5)) as sim:
        ...  # sim.url, sim.admin.create_tasks(...), sim.admin.counters()
"""

from __future__ import annotations

from .admin_client import SimulatorAdmin
from .app import SimulatorApp
from .config import (
    DEMO_ACCESS_KEY,
    DEMO_PROJECT_ID,
    DEMO_SECRET_KEY,
    OPERATIONS,
    Behaviour,
    SimulatorConfig,
)
from .faults import FaultPlan
from .server import RunningSimulator, start_simulator
from .state import SimulatorState, Task
from .throttle import Throttle, ThrottlePolicy

__all__ = [
    "DEMO_ACCESS_KEY",
    "DEMO_PROJECT_ID",
    "DEMO_SECRET_KEY",
    "OPERATIONS",
    "Behaviour",
    "FaultPlan",
    "RunningSimulator",
    "SimulatorAdmin",
    "SimulatorApp",
    "SimulatorConfig",
    "SimulatorState",
    "Task",
    "Throttle",
    "ThrottlePolicy",
    "start_simulator",
]
