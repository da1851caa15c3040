"""The clock: one object for reading time and waiting, passed to everything that does either.

Production uses :data:`SYSTEM_CLOCK`; a test passes its own (``dcs_simulator.testing.
VirtualClock`` moves only when someone sleeps). Code never asks which clock it has: the same
lines run under both, deadlines and cancellation included.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for deadlines and intervals, epoch seconds for timestamps, and a wait."""

    def now(self) -> float:
        """Monotonic seconds (only differences mean anything)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch, for timestamps shown to people."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        """Wait ``seconds``, or less when ``cancel`` is set meanwhile."""
        ...


@dataclass
class SystemClock:
    """The real clock: ``time.monotonic``, ``time.time``, and a wait that wakes on cancel."""

    now = staticmethod(time.monotonic)
    wall = staticmethod(time.time)

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        """Sleep, waking early when ``cancel`` is set."""
        if cancel is not None:
            cancel.wait(seconds)  # returns at once for seconds <= 0
        elif seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
"""The clock of every production object."""
