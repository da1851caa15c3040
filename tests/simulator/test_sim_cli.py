"""The ``dcs-simulator`` console script and ``python -m dcs_simulator``:
first stdout line carries the URL, the server answers, SIGINT/SIGTERM exit 0."""

from __future__ import annotations

import os
import re
import signal
import socket
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
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "HTTP/1.1" not in err  # no access log unless asked


def test_throttle_and_lag_options_reach_the_server(
    processes: list[subprocess.Popen[str]],
) -> None:
    proc, url, _ = start(
        COMMANDS["module"],
        "--throttle-rate",
        "0.01",
        "--throttle-burst",
        "2",
        "--write-rate",
        "300",
        "--drain-rate",
        "70",
    )
    processes.append(proc)
    auth = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, project_id=DEMO_PROJECT_ID)
    with SimulatorAdmin(url) as admin, httpx.Client(base_url=url, auth=auth, timeout=10) as c:
        throttle = admin.throttle()
        assert (throttle["enabled"], throttle["rate"], throttle["burst"]) == (True, 0.01, 2)
        view = admin.task(admin.create_tasks(1)[0])
        assert (view["write_rate"], view["drain_rate"]) == (300.0, 70.0)
        codes = [c.get(f"{P}/migration-tasks").status_code for _ in range(3)]
        assert codes == [200, 200, 429]  # 100 s per token: no refill within the test
        assert admin.counters()["throttled"] == 1
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_access_log_logs_each_request(processes: list[subprocess.Popen[str]]) -> None:
    proc, url, _ = start(COMMANDS["script"], "--access-log")
    processes.append(proc)
    auth = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, project_id=DEMO_PROJECT_ID)
    with httpx.Client(base_url=url, auth=auth, timeout=10) as client:
        assert client.get(f"{P}/migration-tasks", params={"limit": 5}).status_code == 200
        assert client.get(f"{P}/nowhere").status_code == 404
    with SimulatorAdmin(url) as admin:
        admin.counters()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f'"GET {P}/migration-tasks?limit=5 HTTP/1.1" 200' in err
    assert f'"GET {P}/nowhere HTTP/1.1" 404' in err
    assert '"GET /_simulator/counters HTTP/1.1" 200' in err
    assert "127.0.0.1:" in err  # the client address
    assert "HTTP/1.1" not in out  # stdout stays the banner and the goodbye
    assert DEMO_SECRET_KEY not in out + err


def test_non_loopback_host_warns_and_shows_the_bind_address(
    processes: list[subprocess.Popen[str]],
) -> None:
    # Binds all interfaces on a free port, but only ever connects to 127.0.0.1.
    proc, bind_url, first = start(COMMANDS["script"], "--host", "0.0.0.0", "--seed", "2")
    processes.append(proc)
    assert first.startswith("dcs-simulator listening on http://0.0.0.0:")
    port = int(bind_url.rsplit(":", 1)[1])
    local = f"http://127.0.0.1:{port}"
    assert f"(local {local})" in first
    auth = AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, project_id=DEMO_PROJECT_ID)
    with httpx.Client(base_url=local, auth=auth, timeout=10) as client:
        assert client.get(f"{P}/migration-tasks").json()["count"] == 2
    with SimulatorAdmin(local) as admin:  # a loopback client: the admin API answers
        assert admin.health()["tasks"] == 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "warning" in err and "0.0.0.0 is not a loopback address" in err
    assert "admin API still answers loopback clients only" in err


def test_loopback_host_prints_no_warning(processes: list[subprocess.Popen[str]]) -> None:
    proc, _, first = start(COMMANDS["module"], "--host", "127.0.0.1")
    processes.append(proc)
    assert "(local" not in first
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "warning" not in err


def test_busy_port_is_one_clear_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(SCRIPT), "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"dcs-simulator: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in lines[0].lower()
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--throttle-rate", "0"),
        ("--throttle-burst", "0"),
        ("--write-rate", "-1"),
        ("--drain-rate", "inf"),
    ],
)
def test_bad_throttle_and_lag_options_fail_fast(option: str, value: str) -> None:
    result = subprocess.run(
        [*COMMANDS["module"], option, value], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_fails_fast() -> None:
    result = subprocess.run(
        [*COMMANDS["module"], "--stop-jitter", "2"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "stop-jitter" in result.stderr
