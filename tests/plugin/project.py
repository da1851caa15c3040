"""A throwaway Pulumi project in another language (YAML, TypeScript), run with the real CLI and
the ``dcs-migration`` plugin installed the way ``make setup`` installs it."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..e2e.pulumi_project import PULUMI, REPO, VENV_BIN, PulumiProject

__all__ = ["PULUMI", "REPO", "LanguageProject", "yaml_program"]


@dataclass
class LanguageProject(PulumiProject):
    """``files`` (Pulumi.yaml and the program) in ``root/program``; provider config under
    ``dcs-migration:``; the plugin installed into this project's own PULUMI_HOME."""

    files: dict[str, str] = field(default_factory=dict)
    config_namespace = "dcs-migration"

    @property
    def program_dir(self) -> Path:
        return self.root / "program"

    def write_program(self) -> None:
        for name, text in self.files.items():
            path = self.program_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        # What `make setup` does for ~/.pulumi, here for this project's own PULUMI_HOME.
        subprocess.run(
            [str(VENV_BIN / "dcs-migration"), "plugin", "install", "--pulumi", str(PULUMI)],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stack_outputs(self) -> dict[str, Any]:
        """The stack's outputs, as the program names them."""
        outputs: dict[str, Any] = json.loads(self.stack_output_json())
        return outputs

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
