"""A throwaway Pulumi project in another language (YAML, TypeScript), run with the real CLI and
the ``dcs-migration`` plugin installed the way ``make setup`` installs it."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcs_simulator import RunningSimulator

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PULUMI = VENV_BIN / "pulumi"
PASSPHRASE = "plugin-e2e-passphrase"


@dataclass
class LanguageProject:
    """``root`` holds the program (``program/``), its backend (``state/``) and ``home/``."""

    root: Path
    files: dict[str, str]
    stack: str = "e2e"
    extra_env: dict[str, str] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not PULUMI.exists():
            raise RuntimeError(f"{PULUMI} is missing: run `make setup`")
        self.program = self.root / "program"
        for name, text in self.files.items():
            path = self.program / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (self.root / "state").mkdir()
        (self.root / "home").mkdir()
        # What `make setup` does for ~/.pulumi, here for this project's own PULUMI_HOME.
        subprocess.run(
            [str(VENV_BIN / "dcs-migration"), "plugin", "install", "--pulumi", str(PULUMI)],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HW_", "HUAWEICLOUD_SDK_", "PULUMI_"))
        }
        env.update(
            PULUMI_HOME=str(self.root / "home"),
            PULUMI_BACKEND_URL=f"file://{self.root / 'state'}",
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            NO_COLOR="1",
        )
        env.update(self.extra_env)
        return env

    def pulumi(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI in the program's directory; fail loudly unless ``check=False``."""
        flags = ["--non-interactive"] + (
            [] if args[0] in ("stack", "config") else ["--color", "never"]
        )
        proc = subprocess.run(
            [str(PULUMI), *args, *flags],
            cwd=self.program,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.transcript.append(f"$ pulumi {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")
        if check and proc.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def init_for(self, sim: RunningSimulator, task_ids: list[str]) -> None:
        """A stack for ``sim``: provider config for location, credentials in the environment."""
        cfg = sim.config
        self.pulumi("stack", "init", self.stack)
        self.pulumi("config", "set", "dcs-migration:endpoint", sim.url)
        self.pulumi("config", "set", "dcs-migration:projectId", cfg.project_id)
        self.extra_env.update(HW_ACCESS_KEY=cfg.access_key, HW_SECRET_KEY=cfg.secret_key)
        self.set_task_ids(task_ids)

    def set_task_ids(self, task_ids: list[str]) -> None:
        self.pulumi("config", "rm", "taskIds", check=False)
        pairs = [f"--plaintext=taskIds[{i}]={tid}" for i, tid in enumerate(task_ids)]
        self.pulumi("config", "set-all", "--path", *pairs)

    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(
            self.pulumi("stack", "output", "--json", "--show-secrets").stdout
        )
        return out

    def export(self) -> str:
        return self.pulumi("stack", "export", "--show-secrets").stdout

    def written_files(self) -> list[Path]:
        """Every file the runs wrote: program dir, backend and Pulumi home."""
        return [p for p in self.root.rglob("*") if p.is_file() and "node_modules" not in p.parts]


def yaml_program(timeout: str = "30m") -> str:
    """The test program; ``timeout`` is its customTimeouts for create and update."""
    return f"""\
name: yaml-cutover
runtime: yaml
description: Stops DCS migration tasks (a test program)
config:
  taskIds:
    type: array
    items:
      type: string
resources:
  cutover:
    type: dcs-migration:index:MigrationTasksStopped
    properties:
      taskIds: ${{taskIds}}
    options:
      customTimeouts:
        create: {timeout}
        update: {timeout}
outputs:
  terminatedIds: ${{cutover.terminatedIds}}
  tasks: ${{cutover.tasks}}
"""
