"""The README's Quick start and command-line snippets, run literally, in order, in a copy of the
repository: a snippet that no longer works fails CI.

The blocks are the ```sh blocks right after a ``<!-- readme-test: NAME -->`` marker. Each runs in
``bash -euo pipefail`` from a fresh copy of the tracked files (sharing this checkout's ``.venv``),
with a private Pulumi home and no Huawei Cloud variables. ``make setup`` is the one line left
out: the test runs inside a set-up checkout, and running it in the copy would reinstall the
shared virtualenv from the copy.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!-- readme-test: (?P<name>[\w-]+) -->\s*```sh\n(?P<body>.*?)```", re.S)


def snippets() -> dict[str, str]:
    """The marked blocks of README.md by name."""
    return {m["name"]: m["body"] for m in MARKER.finditer((REPO / "README.md").read_text())}


def runnable(block: str) -> str:
    """The block without `make setup` (see the module docstring)."""
    lines = [line for line in block.splitlines() if not line.strip().startswith("make setup")]
    return "\n".join(lines) + "\n"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the tracked files, sharing this checkout's virtualenv."""
    copy = tmp_path / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source, target = REPO / name.decode(), copy / name.decode()
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    (copy / ".venv").symlink_to(REPO / ".venv")
    return copy


def run_block(checkout: Path, name: str, home: Path) -> str:
    """Run one marked block; its whole output, or a failure showing it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HW_", "HUAWEICLOUD_SDK_", "PULUMI_", "VIRTUAL_ENV"))
    }
    env.update(PULUMI_HOME=str(home), NO_COLOR="1", TERM="dumb")
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", runnable(snippets()[name])],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the block's background simulator goes with it on a failure
    )
    try:
        output, _ = proc.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, f"README block {name!r} failed ({proc.returncode}):\n{output}"
    return output


def test_the_readme_marks_the_blocks_this_test_runs() -> None:
    assert set(snippets()) == {"quickstart", "cli"}


def test_quick_start_works_as_written_and_again(checkout: Path, tmp_path: Path) -> None:
    home = tmp_path / "pulumi-home"
    home.mkdir()
    first = run_block(checkout, "quickstart", home)
    assert "5 of 5 task(s) running now" in first
    assert "5/5 terminated" in first
    # Again, as a user would: a new simulator whose tasks run while the state says stopped.
    second = run_block(checkout, "quickstart", home)
    assert "5 of 5 task(s) running now" in second
    assert "5 task(s) running again since the last stop" in second
    assert "5/5 terminated" in second


def test_command_line_snippets_work_as_written(checkout: Path, tmp_path: Path) -> None:
    (checkout / ".state").mkdir()
    output = run_block(checkout, "cli", tmp_path)
    assert "c13c87c9-d57a-44db-8701-680e6a12e240" in output
    assert "stop_requested" in output and "deleted" in output
