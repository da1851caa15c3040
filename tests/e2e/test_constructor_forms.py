"""Both call forms of MigrationTasksStopped, through the real CLI: keyword inputs (what most
Pulumi Python code writes) and an args object, positionally or by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import SimulatorFactory
from .pulumi_project import PulumiProject

pytestmark = pytest.mark.e2e

PROGRAMS = {
    "keywords": 'MigrationTasksStopped("cutover", pulumi.ResourceOptions(), task_ids=ids)',
    "args positionally": 'MigrationTasksStopped("cutover", MigrationTasksStoppedArgs(task_ids=ids))',
    "args by name": (
        'MigrationTasksStopped("cutover", args=MigrationTasksStoppedArgs(task_ids=ids), '
        "opts=pulumi.ResourceOptions())"
    ),
}


@pytest.mark.parametrize("form", list(PROGRAMS))
def test_up_with_each_call_form(
    tmp_path: Path, simulator_factory: SimulatorFactory, form: str
) -> None:
    sim = simulator_factory(stop_delay=0.1)
    ids = sim.admin.create_tasks(2)
    project = PulumiProject(tmp_path / "project")
    (project.root / "stacks" / "__main__.py").write_text(
        "import pulumi\n"
        "from pulumi_dcs_migration import MigrationTasksStopped, MigrationTasksStoppedArgs\n"
        'ids = pulumi.Config().require_object("taskIds")\n'
        f"cutover = {PROGRAMS[form]}\n"
        'pulumi.export("terminated_ids", cutover.terminated_ids)\n'
        'pulumi.export("tasks", cutover.tasks)\n'
    )
    project.init_for(sim, ids)
    project.pulumi("up", "--yes", "--skip-preview")
    assert sorted(project.outputs()["terminated_ids"]) == sorted(ids)


def test_an_unknown_keyword_fails_the_program_naming_the_inputs(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory()
    project = PulumiProject(tmp_path / "project")
    (project.root / "stacks" / "__main__.py").write_text(
        "from pulumi_dcs_migration import MigrationTasksStopped\n"
        'MigrationTasksStopped("cutover", task_ids=["b21989ec-2889-4b8e-99db-19c073425ec2"], label="x")\n'
    )
    project.init_for(sim, sim.admin.create_tasks(1))
    failed = project.pulumi("preview", check=False)
    assert failed.returncode != 0
    assert (
        "unexpected keyword argument(s) label; known inputs: task_ids"
        in failed.stdout + failed.stderr
    )
