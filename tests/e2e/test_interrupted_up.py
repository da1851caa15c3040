"""`pulumi up` killed while it waits (SIGINT, then SIGKILL), and the documented recovery."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import poll_until

from ..conftest import SimulatorFactory
from .pulumi_project import PULUMI, PulumiProject

pytestmark = pytest.mark.e2e


# What the CLI prints once it has taken a Ctrl-C in (pulumi v3.274.1).
CTRL_C_TAKEN = "^C received; cancelling"


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
    """Start `pulumi up`, and once its stops are out, Ctrl-C it and then SIGKILL it.

    The other tasks never terminate on their own (``stop_delay="never"``), so the update is
    still in flight at the SIGKILL however slow the machine: :func:`finish_stops` ends them.
    """
    before = sim.admin.counters().get("batch_stop", 0)
    log = project.root / "killed-up.log"
    with log.open("w") as out:
        up = subprocess.Popen(
            [str(PULUMI), "up", "--yes", "--skip-preview", "--non-interactive"],
            cwd=project.root,
            env=project.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    try:
        poll_until(
            lambda: sim.admin.counters().get("batch_stop", 0),
            lambda count: count > before,
            timeout=120,
            what="the stops sent",
        )
        poll_until(
            lambda: sim.admin.task(fast_id)["status"],
            lambda status: status == "TERMINATED",
            timeout=60,
            what=f"{fast_id} TERMINATED",
        )
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the CLI asks the provider to cancel (a no-op)
        poll_until(
            log.read_text,
            lambda text: CTRL_C_TAKEN in text or up.poll() is not None,
            timeout=60,
            what="the CLI taking the Ctrl-C in",
        )
        # It took the Ctrl-C in, and still waits for the in-flight operation (which cannot end).
        assert up.poll() is None, log.read_text()
        tree = descendants(up.pid)
        assert any("pulumi.dynamic" in _cmdline(p) for p in tree)
        os.killpg(up.pid, signal.SIGKILL)  # then killed for good, like a dying CI job:
        for pid in tree:  # the provider process included
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        up.wait(timeout=30)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)


def finish_stops(sim: RunningSimulator, task_ids: list[str]) -> None:
    """The API completes the stops the killed run had sent (they were left ``TERMINATING``)."""
    assert [sim.admin.task(t)["status"] for t in task_ids] == ["TERMINATING"] * len(task_ids)
    for task_id in task_ids:
        sim.admin.set_status(task_id, "TERMINATED")


def assert_recovered(project: PulumiProject, sim: RunningSimulator, ids: list[str]) -> None:
    assert [sim.admin.task(t)["status"] for t in ids] == ["TERMINATED"] * len(ids)
    outputs = project.outputs()
    assert sorted(outputs["terminated_ids"]) == sorted(ids)
    deployment = json.loads(project.export())["deployment"]
    assert not deployment.get("pending_operations")
    after = project.pulumi("preview").stdout
    assert "to create" not in after and "to update" not in after and "unchanged" in after


def test_killed_up_recovers_to_every_task_stopped(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory()
    ids = sim.admin.create_tasks(3, stop_delay="never")
    fast = sim.admin.create_tasks(1, stop_delay=0.1)
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, ids + fast)

    kill_up_while_waiting(project, sim, fast[0])
    finish_stops(sim, ids)

    # Without recovery, the stale lock blocks the next run, and says what to do.
    blocked = project.pulumi("up", "--yes", "--skip-preview", check=False)
    assert blocked.returncode != 0 and "pulumi cancel" in blocked.stdout + blocked.stderr

    # The README's recovery steps.
    project.pulumi("cancel", "--yes")
    project.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
    project.pulumi("up", "--yes", "--skip-preview")

    assert_recovered(project, sim, ids + fast)


def test_killed_update_recovers_too(tmp_path: Path, simulator_factory: SimulatorFactory) -> None:
    """The resource exists; adding tasks makes an update, which is killed while it waits."""
    sim = simulator_factory(stop_delay=0.1)
    first = sim.admin.create_tasks(2)
    project = PulumiProject(tmp_path / "project")
    project.init_for(sim, first)
    project.pulumi("up", "--yes", "--skip-preview")
    slow = sim.admin.create_tasks(2, stop_delay="never")
    fast = sim.admin.create_tasks(1, stop_delay=0.1)
    project.set_task_ids(first + slow + fast)
    kill_up_while_waiting(project, sim, fast[0])
    finish_stops(sim, slow)

    project.pulumi("cancel", "--yes")
    project.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
    project.pulumi("up", "--yes", "--skip-preview")
    assert_recovered(project, sim, first + slow + fast)
