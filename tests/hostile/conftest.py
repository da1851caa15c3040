"""Fixtures of the hostile-server tests: servers that stop at teardown, TLS files, a recorder of
the measured figures (``HOSTILE_REPORT=path`` appends one JSON line per measured run)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import Run
from .server import HostileServer, tls_context

ServerFactory = Callable[..., HostileServer]


@pytest.fixture
def hostile() -> Iterator[ServerFactory]:
    """Start hostile servers by mode (``hostile("trickle")``); all stop at teardown."""
    started: list[HostileServer] = []

    def start(
        mode: str, *, tls: bool = False, tls_files: tuple[Path, Path] | None = None
    ) -> HostileServer:
        context = tls_context(str(tls_files[0]), str(tls_files[1])) if tls and tls_files else None
        server = HostileServer(mode, tls=context).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[str, Run], None]:
    """``record(label, run)``: keep a run's figures (HOSTILE_REPORT names the file)."""

    def keep(label: str, run: Run) -> None:
        path = os.environ.get("HOSTILE_REPORT")
        if not path:
            return
        line = {
            "test": request.node.name,
            "run": label,
            "code": run.code,
            "seconds": round(run.seconds, 2),
            "peak_mb": round(run.peak_mb, 1),
            "killed": run.killed,
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    return keep
