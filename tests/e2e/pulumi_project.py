"""A throwaway copy of this repo's Pulumi project, driven with the real pulumi CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from dcs_simulator import RunningSimulator

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PULUMI = VENV_BIN / "pulumi"
PASSPHRASE = "e2e-passphrase"


class StackOutputs(TypedDict):
    """What stacks/__main__.py exports (``pulumi stack output --json``)."""

    terminated_ids: list[str]
    tasks: list[dict[str, str | None]]  # one per task: task_id, outcome, status, name, ...


def require_pulumi() -> None:
    """The CLI is part of `make setup`; its absence is a set-up failure, not a reason to skip."""
    if not PULUMI.exists():
        raise RuntimeError(f"{PULUMI} is missing: run `make setup` (it builds the pulumi CLI)")


@dataclass
class PulumiProject:
    """The repo's Pulumi.yaml and stacks/ program in ``root``, with its own backend and home.

    Subclasses put another program in :attr:`program_dir` (see tests/plugin/project.py) and
    name their provider's config namespace in :attr:`config_namespace`.
    """

    root: Path
    stack: str = "e2e"
    extra_env: dict[str, str] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    config_namespace = "dcs"

    def __post_init__(self) -> None:
        require_pulumi()
        (self.root / "state").mkdir(parents=True)
        (self.root / "home").mkdir()
        self.write_program()

    @property
    def program_dir(self) -> Path:
        """Where Pulumi.yaml lives (the CLI runs there)."""
        return self.root

    def write_program(self) -> None:
        """The repo's own Python program, run with the repo's virtualenv."""
        (self.root / "stacks").mkdir()
        shutil.copy(REPO / "Pulumi.yaml", self.root / "Pulumi.yaml")
        shutil.copy(REPO / "stacks" / "__main__.py", self.root / "stacks" / "__main__.py")
        (self.root / ".venv").symlink_to(REPO / ".venv")

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HW_", "HUAWEICLOUD_SDK_", "PULUMI_"))
        }
        env.update(
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
            PULUMI_HOME=str(self.root / "home"),
            PULUMI_BACKEND_URL=f"file://{self.root / 'state'}",
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            NO_COLOR="1",
        )
        env.update(self.extra_env)
        return env

    def pulumi(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(PULUMI), *args, "--non-interactive", "--color", "never"]
            if args[0] not in ("stack", "config")
            else [str(PULUMI), *args, "--non-interactive"],
            cwd=self.program_dir,
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

    def init(
        self,
        *,
        endpoint: str,
        project_id: str,
        access_key: str,
        secret_key: str,
        task_ids: list[str],
        timeout_seconds: float | None = None,
        credentials_in: str = "env",
    ) -> None:
        """A stack for ``task_ids``; credentials in the environment (default) or secret config."""
        self.pulumi("stack", "init", self.stack)
        namespace = self.config_namespace
        self.pulumi("config", "set", f"{namespace}:endpoint", endpoint)
        self.pulumi("config", "set", f"{namespace}:projectId", project_id)
        if credentials_in == "config":
            self.pulumi("config", "set", "--secret", f"{namespace}:accessKey", access_key)
            self.pulumi("config", "set", "--secret", f"{namespace}:secretKey", secret_key)
        else:
            self.extra_env.update(HW_ACCESS_KEY=access_key, HW_SECRET_KEY=secret_key)
        if timeout_seconds is not None:
            self.pulumi("config", "set", "timeoutSeconds", str(timeout_seconds))
        self.set_task_ids(task_ids)

    def init_for(
        self,
        sim: RunningSimulator,
        task_ids: list[str],
        *,
        secret_key: str | None = None,
        timeout_seconds: float | None = None,
        credentials_in: str = "env",
    ) -> None:
        """:meth:`init` for a simulator, with its keys (or a deliberately wrong ``secret_key``)."""
        cfg = sim.config
        self.init(
            endpoint=sim.url,
            project_id=cfg.project_id,
            access_key=cfg.access_key,
            secret_key=secret_key or cfg.secret_key,
            task_ids=task_ids,
            timeout_seconds=timeout_seconds,
            credentials_in=credentials_in,
        )

    def set_task_ids(self, task_ids: list[str]) -> None:
        self.pulumi("config", "rm", "taskIds", check=False)
        pairs = [f"--plaintext=taskIds[{i}]={tid}" for i, tid in enumerate(task_ids)]
        self.pulumi("config", "set-all", "--path", *pairs)

    def outputs(self) -> StackOutputs:
        outputs: StackOutputs = json.loads(self.stack_output_json())
        return outputs

    def stack_output_json(self) -> str:
        """``pulumi stack output --json --show-secrets``."""
        return self.pulumi("stack", "output", "--json", "--show-secrets").stdout

    def export(self) -> str:
        return self.pulumi("stack", "export", "--show-secrets").stdout
