"""Run the real ``dcs-migration`` console script against a simulator, in a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcs_simulator import RunningSimulator

SCRIPT = str(Path(sys.executable).with_name("dcs-migration"))
"""The installed console script next to this interpreter (``.venv/bin/dcs-migration``)."""


def clean_env(**extra: str) -> dict[str, str]:
    """The inherited environment without any Huawei Cloud setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HW_", "HUAWEICLOUD_SDK_")) and k not in ("COLUMNS", "LINES")
    }
    env.update(extra)
    return env


def sim_env(sim: RunningSimulator, **extra: str) -> dict[str, str]:
    """Credentials and project of ``sim`` in the environment (the endpoint goes as an option)."""
    values = {
        "HW_ACCESS_KEY": sim.config.access_key,
        "HW_SECRET_KEY": sim.config.secret_key,
        "HW_PROJECT_ID": sim.config.project_id,
    }
    values.update(extra)
    return clean_env(**values)


@dataclass
class Result:
    """A finished run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


def run(
    sim: RunningSimulator | None,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Result:
    """``dcs-migration --endpoint sim.url ARGS`` with the simulator's credentials."""
    prefix = ["--endpoint", sim.url] if sim is not None else []
    environ = env if env is not None else (sim_env(sim) if sim is not None else clean_env())
    proc = subprocess.run(
        [SCRIPT, *prefix, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def requests_made(sim: RunningSimulator) -> int:
    """DCS requests the simulator has seen since its counters were last reset."""
    return sum(v for k, v in sim.admin.counters().items() if k not in ("fault",))
