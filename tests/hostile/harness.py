"""Run ``dcs-migration`` (or a Python snippet) in a subprocess and measure it: exit code, every
byte it printed, the seconds it took and its own peak memory (see :mod:`.measure`).

Standard library only. ``HOSTILE_PYTHONPATH`` (an older checkout's ``provider`` directory) makes
the same tests probe that code instead: ``python -m pulumi_dcs_migration.cli`` is then imported
from there (see tests/hostile/README.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .server import PID, SECRETS, iter_windows

MEASURE = Path(__file__).with_name("measure.py")

GUARD = 5.0
"""Seconds past a command's deadline after which a run counts as hung (a guard, not a speed
assertion: the measured figures are reported, not asserted)."""


@dataclass
class Run:
    """A finished (or killed) run of the command line."""

    code: int
    out: bytes
    err: bytes
    seconds: float
    peak_mb: float
    killed: bool

    @property
    def output(self) -> bytes:
        """Every byte the run printed."""
        return self.out + self.err

    def text(self) -> str:
        """stderr as text, for messages."""
        return self.err.decode("utf-8", "replace")


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment: no Huawei Cloud setting, no proxy, wide tables; plus ``extra``."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"COLUMNS": "200", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"})
    if os.environ.get("HOSTILE_PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["HOSTILE_PYTHONPATH"]
    env.update(extra)
    return env


def sts_env(**extra: str) -> dict[str, str]:
    """Temporary AK/SK credentials (with a security token) and the project id."""
    from .server import ACCESS_KEY, SECRET_KEY, SECURITY_TOKEN

    return base_env(
        HW_ACCESS_KEY=ACCESS_KEY,
        HW_SECRET_KEY=SECRET_KEY,
        HW_SECURITY_TOKEN=SECURITY_TOKEN,
        HW_PROJECT_ID=PID,
        **extra,
    )


def run_cli(
    args: Iterable[str],
    env: Mapping[str, str],
    *,
    stdin: bytes = b"",
    timeout: float = 30.0,
) -> Run:
    """``python -m pulumi_dcs_migration.cli ARGS``, measured; killed after ``timeout`` seconds.

    The command runs under :mod:`.measure`, which reports its exit code, its own peak memory
    and its duration (from the command's start, not the wrapper's).
    """
    return _measured([sys.executable, "-m", "pulumi_dcs_migration.cli", *args], env, stdin, timeout)


def run_python(code: str, env: Mapping[str, str], *, timeout: float = 30.0) -> Run:
    """``python -c CODE``, measured like :func:`run_cli` (a client-tier run in its own process)."""
    return _measured([sys.executable, "-c", code], env, b"", timeout)


def _measured(command: list[str], env: Mapping[str, str], stdin: bytes, timeout: float) -> Run:
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as given,
        tempfile.TemporaryDirectory() as scratch,
    ):
        given.write(stdin)
        given.seek(0)
        result = Path(scratch) / "result"
        subprocess.run(
            [sys.executable, str(MEASURE), str(result), str(timeout), *command],
            stdin=given,
            stdout=out,
            stderr=err,
            env=dict(env),
            timeout=timeout + 30,
            check=True,
        )
        code, peak_kb, seconds, killed = result.read_text().split()
        out.seek(0)
        err.seek(0)
        return Run(
            int(code), out.read(), err.read(), float(seconds), int(peak_kb) / 1024, killed == "1"
        )


def leaks(output: bytes | str, secrets: Iterable[str] = SECRETS) -> list[str]:
    """The 10-character windows of ``secrets`` found anywhere in ``output`` (empty: no leak)."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    return [w for s in secrets for w in iter_windows(s) if w in text]
