"""Terminal escapes in what the server sends never reach a Pulumi user's terminal raw.

A task whose name carries escape codes (it stops), and one whose status does (the API refuses to
stop it): ``preview`` lists both, ``up`` stops one and fails naming the other. Through the real
CLI, for both Pulumi front ends: the dynamic resource (a Python program) and the provider plugin
(a YAML program). Every escape shows as ``\\x1b``-style text; no control character is raw.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator

from ..conftest import SimulatorFactory
from ..plugin.project import LanguageProject, yaml_program
from .pulumi_project import PulumiProject

pytestmark = pytest.mark.e2e

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[H\r\x1b[32mstopped OK\x1b[0m"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but newline and tab


def dynamic(root: Path) -> PulumiProject:
    return PulumiProject(root)


def plugin(root: Path) -> PulumiProject:
    return LanguageProject(root, files={"Pulumi.yaml": yaml_program()})


@pytest.mark.parametrize("front_end", [dynamic, plugin], ids=["dynamic", "plugin"])
def test_escapes_in_names_and_statuses_are_shown_escaped(
    tmp_path: Path, simulator_factory: SimulatorFactory, front_end: object
) -> None:
    assert callable(front_end)
    sim: RunningSimulator = simulator_factory(stop_delay=0.3)
    [named] = sim.admin.create_tasks(1, name_prefix="name" + ESCAPES)
    [odd] = sim.admin.create_tasks(1, status="RUN" + ESCAPES)
    project: PulumiProject = front_end(tmp_path / "project")
    project.init_for(sim, [named, odd])

    preview = project.pulumi("preview")
    shown = preview.stdout + preview.stderr
    assert RAW_CONTROL.findall(shown) == []
    assert f"{odd} (RUN\\x1b]0;pwned\\x07" in shown  # the status, escaped, on its task's line

    up = project.pulumi("up", "--yes", "--skip-preview", check=False)
    shown = up.stdout + up.stderr
    assert up.returncode != 0  # the odd task cannot be stopped
    assert RAW_CONTROL.findall(shown) == []
    assert "stop_rejected" in shown and "\\x1b[2J" in shown
    assert sim.admin.statuses([named]) == ["TERMINATED"]
