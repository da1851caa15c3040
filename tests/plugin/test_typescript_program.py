"""A TypeScript program using the generated SDK (sdk/nodejs), run by the real CLI with the Node.js
language host; and the SDK itself compiled strictly (tests/plugin/test_sdk_drift.py checks it
against the schema)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator

from ..conftest import SimulatorFactory
from .project import REPO, LanguageProject

pytestmark = pytest.mark.e2e

NODE_MODULES = REPO / "tools" / "node" / "node_modules"
TSC = NODE_MODULES / ".bin" / "tsc"
SDK = REPO / "sdk" / "nodejs"

INDEX_TS = """\
import * as pulumi from "@pulumi/pulumi";
import * as dcs from "./dcs";

const config = new pulumi.Config();
const taskIds = config.requireObject<string[]>("taskIds");

const cutover = new dcs.MigrationTasksStopped(
    "cutover",
    { taskIds, onFinished: "warn" },
    { customTimeouts: { create: "10m", update: "10m" } },
);

export const terminatedIds: pulumi.Output<string[]> = cutover.terminatedIds;
export const outcomes = cutover.tasks.apply((tasks) => tasks.map((t) => `${t.taskId}:${t.outcome}`));
"""

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "target": "es2020",
        "module": "commonjs",
        "moduleResolution": "node",
        "esModuleInterop": True,
        "skipLibCheck": True,
        "noEmit": True,
    },
    "files": ["index.ts"],
}


def typescript_project(root: Path) -> LanguageProject:
    project = LanguageProject(
        root,
        files={
            "Pulumi.yaml": "name: ts-cutover\nruntime: nodejs\n",
            "package.json": json.dumps({"name": "ts-cutover", "private": True}),
            "tsconfig.json": json.dumps(TSCONFIG, indent=2),
            "index.ts": INDEX_TS,
        },
    )
    # What a user's program has: @pulumi/pulumi (from the repo's Node lock) and the SDK.
    (project.program_dir / "node_modules").symlink_to(NODE_MODULES)
    (project.program_dir / "dcs").symlink_to(SDK)
    return project


def test_the_typescript_program_compiles_strictly(tmp_path: Path) -> None:
    project = typescript_project(tmp_path)
    done = subprocess.run(
        [str(TSC), "-p", str(project.program_dir)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_preview_up_destroy_with_the_generated_sdk(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    sim: RunningSimulator = simulator_factory(stop_delay=0.3)
    ids = sim.admin.create_tasks(3)
    project = typescript_project(tmp_path)
    project.init_for(sim, ids)

    preview = project.pulumi("preview")
    assert "+ 2 to create" in preview.stdout and "3 of 3 task(s) running now" in preview.stdout
    assert "warning" not in preview.stdout.lower()
    assert sim.admin.statuses(ids) == ["INCRMIGEATING"] * 3

    project.pulumi("up", "--yes", "--skip-preview")
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3
    outputs = project.stack_outputs()
    assert sorted(outputs["terminatedIds"]) == sorted(ids)
    assert sorted(outputs["outcomes"]) == sorted(f"{t}:stopped" for t in ids)

    destroy = project.pulumi("destroy", "--yes", "--skip-preview")
    assert "leaving 3 task(s) as they are" in destroy.stdout
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3


def test_the_generated_sdk_compiles_strictly() -> None:
    done = subprocess.run(
        [str(TSC), "--strict", "--noEmit", "-p", str(SDK)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
