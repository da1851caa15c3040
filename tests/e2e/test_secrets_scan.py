"""Run the whole lifecycle with known fake credentials, then scan everything it produced."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import SimulatorFactory
from .pulumi_project import PulumiProject

pytestmark = pytest.mark.e2e

ACCESS_KEY = "SCANAKFAKE0123456789"
SECRET_KEY = "scan-secret-key-FAKE-0123456789abcdef"
SECURITY_TOKEN = "scan-security-token-FAKE-gQpjbi1ub3J0aC00"
SECRETS = (ACCESS_KEY, SECRET_KEY, SECURITY_TOKEN)


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in SECRETS if s.encode() in data]


def test_no_credential_anywhere_after_preview_up_refresh_destroy(
    tmp_path: Path, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory(
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, security_token=SECURITY_TOKEN, stop_delay=0.2
    )
    ids = sim.admin.create_tasks(3)
    project = PulumiProject(tmp_path / "project")
    project.init(
        endpoint=sim.url,
        project_id=sim.config.project_id,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        task_ids=ids,
    )
    project.extra_env["HW_SECURITY_TOKEN"] = SECURITY_TOKEN
    verbose = (
        "--logtostderr",
        "--logflow",
        "-v=9",
    )  # the engine's own logs, gRPC payloads included
    outputs = [
        project.pulumi("preview", *verbose),
        project.pulumi("up", "--yes", "--skip-preview", *verbose),
        project.pulumi("refresh", "--yes", "--skip-preview", *verbose),
    ]
    exported = project.export()
    assert ids[0] in exported
    sim.admin.set_status(ids[0], "INCRMIGEATING")
    outputs.append(project.pulumi("up", "--yes", "--refresh", "--skip-preview", *verbose))
    outputs.append(project.pulumi("destroy", "--yes", "--skip-preview", *verbose))
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3  # the runs were real

    # an error path too: a wrong secret key produces a 401 whose text must not carry the keys
    project.extra_env["HW_SECRET_KEY"] = SECRET_KEY[::-1]
    failed = project.pulumi("preview", *verbose, check=False)
    assert failed.returncode != 0 and "APIGW.0301" in failed.stdout
    outputs.append(failed)

    assert len(outputs[1].stderr) > 10_000  # the verbose engine logs really were captured
    assert "Configure" in outputs[1].stderr or "configure" in outputs[1].stderr
    for proc in outputs:
        assert leaks(proc.stdout) == [] and leaks(proc.stderr) == [], proc.args
    assert leaks(exported) == []
    for root in (project.root / "state", project.root / "home", project.root / "stacks"):
        for path in root.rglob("*"):
            if path.is_file():
                assert leaks(path.read_bytes()) == [], path
    assert sum(1 for p in (project.root / "state").rglob("*") if p.is_file()) > 0
