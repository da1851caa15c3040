"""`pulumi up` killed while it waits (SIGINT, then SIGKILL), and the documented recovery."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator

from .pulumi_project import PULUMI, PulumiProject

pytestmark = pytest.mark.e2e


def wait_until(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the engine starts plugins in process groups of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:  # it exited meanwhile
        return ""


def kill_up_while_waiting(project: PulumiProject, sim: RunningSimulator, fast_id: str) -> None:
    """Start `pulumi up`, and once its stops are out, Ctrl-C it and then SIGKILL it."""
    before = sim.admin.counters().get("batch_stop", 0)
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
        wait_until(lambda: sim.admin.counters().get("batch_stop", 0) > before)
        wait_until(lambda: sim.admin.task(fast_id)["status"] == "TERMINATED")
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the CLI asks the provider to cancel (a no-op)
        time.sleep(1.0)
        assert up.poll() is None, "the CLI keeps waiting for the in-flight operation after Ctrl-C"
        tree = descendants(up.pid)
        assert any("pulumi.dynamic" in _cmdline(p) for p in tree)
        os.killpg(up.pid, signal.SIGKILL)  # then killed for good, like a dying CI job:
        for pid in tree:  # the provider process included
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        up.communicate(timeout=30)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)


def assert_recovered(project: PulumiProject, sim: RunningSimulator, ids: list[str]) -> None:
    assert [sim.admin.task(t)["status"] for t in ids] == ["TERMINATED"] * len(ids)
    outputs = project.outputs()
    assert sorted(outputs["terminated_ids"]) == sorted(ids)  # type: ignore[arg-type]
    deployment = json.loads(project.export())["deployment"]
    assert not deployment.get("pending_operations")
    after = project.pulumi("preview").stdout
    assert "to create" not in after and "to update" not in after and "unchanged" in after


def test_killed_up_recovers_to_every_task_stopped(tmp_path: Path, simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(stop_delay=6.0)
    ids = sim.admin.create_tasks(3)
    fast = sim.admin.create_tasks(1, stop_delay=0.1)
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, ids + fast)

    kill_up_while_waiting(project, sim, fast[0])
    assert [sim.admin.task(t)["status"] for t in ids] == ["TERMINATING"] * 3

    # Without recovery, the stale lock blocks the next run, and says what to do.
    blocked = project.pulumi("up", "--yes", "--skip-preview", check=False)
    assert blocked.returncode != 0 and "pulumi cancel" in blocked.stdout + blocked.stderr

    # The README's recovery steps.
    project.pulumi("cancel", "--yes")
    project.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
    project.pulumi("up", "--yes", "--skip-preview")

    assert_recovered(project, sim, ids + fast)


def test_killed_update_recovers_too(tmp_path: Path, simulator_factory) -> None:  # type: ignore[no-untyped-def]
    """The resource exists; adding tasks makes an update, which is killed while it waits."""
    sim = simulator_factory(stop_delay=0.1)
    first = sim.admin.create_tasks(2)
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, first)
    project.pulumi("up", "--yes", "--skip-preview")
    slow = sim.admin.create_tasks(2, stop_delay=6.0)
    fast = sim.admin.create_tasks(1, stop_delay=0.1)
    project.set_task_ids(first + slow + fast)
    kill_up_while_waiting(project, sim, fast[0])
    assert [sim.admin.task(t)["status"] for t in slow] == ["TERMINATING"] * 2

    project.pulumi("cancel", "--yes")
    project.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
    project.pulumi("up", "--yes", "--skip-preview")
    assert_recovered(project, sim, first + slow + fast)
