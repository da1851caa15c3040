"""`pulumi up` killed while it waits (SIGINT, then SIGKILL), and the documented recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .pulumi_project import PULUMI, PulumiProject

pytestmark = pytest.mark.e2e


def wait_until(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_killed_up_recovers_to_every_task_stopped(tmp_path: Path, simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(stop_delay=6.0)
    ids = sim.admin.create_tasks(3)
    fast = sim.admin.create_tasks(1, stop_delay=0.1)
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, ids + fast)

    up = subprocess.Popen(
        [str(PULUMI), "up", "--yes", "--skip-preview", "--non-interactive"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        wait_until(lambda: sim.admin.counters().get("batch_stop", 0) >= 1)
        wait_until(lambda: sim.admin.task(fast[0])["status"] == "TERMINATED")
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the CLI asks the provider to cancel (a no-op)
        time.sleep(1.0)
        assert up.poll() is None, "the CLI keeps waiting for the in-flight create after Ctrl-C"
        os.killpg(up.pid, signal.SIGKILL)  # then killed for good, provider included
        up.communicate(timeout=30)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    assert [sim.admin.task(t)["status"] for t in ids] == ["TERMINATING"] * 3

    # Without recovery, the stale lock blocks the next run, and says what to do.
    blocked = project.pulumi("up", "--yes", "--skip-preview", check=False)
    assert blocked.returncode != 0 and "pulumi cancel" in blocked.stdout + blocked.stderr

    # The README's recovery steps.
    project.pulumi("cancel", "--yes")
    project.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
    project.pulumi("up", "--yes", "--skip-preview")

    assert [sim.admin.task(t)["status"] for t in ids + fast] == ["TERMINATED"] * 4
    outputs = project.outputs()
    assert sorted(outputs["terminated_ids"]) == sorted(ids + fast)  # type: ignore[arg-type]
    deployment = json.loads(project.export())["deployment"]
    assert not deployment.get("pending_operations")
    after = project.pulumi("preview").stdout
    assert "to create" not in after and "to update" not in after and "unchanged" in after
