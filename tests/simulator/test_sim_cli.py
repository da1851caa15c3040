"""The ``dcs-simulator`` console script and ``python -m dcs_simulator``:
first stdout line carries the URL, the server answers, SIGINT/SIGTERM exit 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dcs_simulator import (
    DEMO_ACCESS_KEY,
    DEMO_PROJECT_ID,
    DEMO_SECRET_KEY,
    SimulatorAdmin,
)
from pulumi_dcs_migration.auth import AkSkAuth, TokenAuth

from .sim_helpers import P

SCRIPT = Path(sys.executable).with_name("dcs-simulator")
COMMANDS = {
    "module": [sys.executable, "-m", "dcs_simulator"],
    "script": [str(SCRIPT)],
}


def start(command: list[str], *args: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start the simulator; return the process, its URL and the first line."""
    proc = subprocess.Popen(
        [*command, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "0"},  # the script must flush by itself
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"http://\S+", first)
    assert match, (
        f"no URL on the first line: {first!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
    )
    return proc, match.group(0), first


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:  # only the processes this test started
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("kind", ["module", "script"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_console_script_serves_and_exits_cleanly(
    processes: list[subprocess.Popen[str]], kind: str, sig: signal.Signals
) -> None:
    assert SCRIPT.exists(), "the dcs-simulator console script is not installed in the venv"
    proc, url, first = start(COMMANDS[kind], "--seed", "3", "--stop-delay", "0.05")
    processes.append(proc)
    assert first.startswith("dcs-simulator listening on http://127.0.0.1:")
    assert f"project={DEMO_PROJECT_ID}" in first
    assert DEMO_SECRET_KEY not in first
    auth = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, project_id=DEMO_PROJECT_ID)
    with httpx.Client(base_url=url, auth=auth, timeout=10) as client:
        body = client.get(f"{P}/migration-tasks").json()
    assert body["count"] == 3
    with SimulatorAdmin(url) as admin:
        assert admin.counters() == {"list": 1}
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert DEMO_SECRET_KEY not in out + err


def test_options_reach_the_server(processes: list[subprocess.Popen[str]]) -> None:
    project = "f" * 32
    proc, url, _ = start(
        COMMANDS["module"],
        "--project-id",
        project,
        "--token",
        "tok-a",
        "--token",
        "tok-b",
        "--stop-finished",
        "noop_success",
        "--unknown-in-batch",
        "reject_400",
        "--deleted-details",
        "deleted_status",
        "--delete-running",
        "allow",
        "--batch-limit",
        "7",
        "--stop-jitter",
        "0.5",
        "--rng-seed",
        "3",
    )
    processes.append(proc)
    with httpx.Client(base_url=url, auth=TokenAuth("tok-b"), timeout=10) as client:
        assert client.get(f"/v2/{project}/migration-tasks").status_code == 200
    with SimulatorAdmin(url) as admin:
        assert admin.behaviour() == {
            "stop_finished": "noop_success",
            "unknown_in_batch": "reject_400",
            "deleted_details": "deleted_status",
            "delete_running": "allow",
            "batch_limit": 7,
        }
        delays = [admin.task(i)["stop_delay"] for i in admin.create_tasks(20)]
    assert all(1.0 <= d <= 3.0 for d in delays) and len(set(delays)) == 20
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_bad_option_fails_fast() -> None:
    result = subprocess.run(
        [*COMMANDS["module"], "--stop-jitter", "2"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "stop-jitter" in result.stderr
