"""The stacks/ program and the fleet with their state in S3 (Pulumi's DIY S3 backend), and locking.

The server is a real S3 API server on loopback (moto's, see ``conftest.s3``), reached by the
real ``pulumi`` with ``s3://bucket?endpoint=http://127.0.0.1:PORT&s3ForcePathStyle=true&...``:
the URL form for an S3-compatible store such as Huawei OBS. Objects are read back with boto3, an
independent client. Locking (pulumi v3.274.1, pkg/backend/diy/lock.go): a lock is an object
``.pulumi/locks/<org>/<project>/<stack>/<uuid>.json``; ``up`` lists locks, writes its own, lists
again and gives up if any other exists. That is safe as far as the store lists what was just
written (moto does, S3 has since 2020); two runs that write at the same instant may both give up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator

from ..conftest import SimulatorFactory
from ..e2e.pulumi_project import PulumiProject
from .conftest import S3Server
from .fleet_cli import FleetMachine, stack_names, write_fleet_file
from .locking import (
    LOCKED,
    assert_exactly_one_won,
    assert_state_intact,
    finish,
    finish_stops,
    never_stopping_tasks,
    race_two_ups,
    start_up,
    wait_for_stops,
)
from .test_fleet import OTHER_AK, OTHER_SK, make_regions

pytestmark = pytest.mark.e2e

STACK_KEY = ".pulumi/stacks/dcs-migration/e2e.json"
LOCKS = ".pulumi/locks/organization/dcs-migration/e2e/"


def s3_project(
    tmp_path: Path, s3: S3Server, sim: RunningSimulator, bucket: str, ids: list[str]
) -> PulumiProject:
    """The repo's project in a throwaway dir whose backend is a new ``bucket`` in ``s3``."""
    s3.create_bucket(bucket)
    project = PulumiProject(
        tmp_path / "project", extra_env={"PULUMI_BACKEND_URL": s3.backend_url(bucket), **s3.env}
    )
    project.init_for(sim, ids)
    return project


def checkpoint(s3: S3Server, bucket: str, key: str = STACK_KEY) -> dict[str, object]:
    """The stack's checkpoint object, as stored (plain JSON: no PULUMI_DIY_BACKEND_GZIP)."""
    data: dict[str, object] = json.loads(s3.read(bucket, key))
    return data


def latest_resources(s3: S3Server, bucket: str, key: str = STACK_KEY) -> list[dict[str, object]]:
    latest = checkpoint(s3, bucket, key)["checkpoint"]
    assert isinstance(latest, dict)
    resources: list[dict[str, object]] = latest["latest"].get("resources") or []
    return resources


def assert_no_secret_in_bucket(s3: S3Server, bucket: str, secrets: set[str]) -> int:
    """List and read every object of ``bucket``; none holds any of ``secrets``. Returns the count."""
    objects = s3.objects(bucket)
    assert objects, f"{bucket} is empty: nothing was checked"
    for key, body in objects.items():
        leaked = [s for s in secrets if s.encode() in body]
        assert not leaked, f"{key} holds a credential"
    return len(objects)


def test_lifecycle_with_state_in_s3(
    tmp_path: Path, s3: S3Server, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory(stop_delay=0.2)
    ids = sim.admin.create_tasks(3)
    project = s3_project(tmp_path, s3, sim, "lifecycle-state", ids)

    preview = project.pulumi("preview")
    assert "create" in preview.stdout and sim.admin.statuses(ids) == ["INCRMIGEATING"] * 3

    up = project.pulumi("up", "--yes", "--skip-preview")
    assert "3/3 terminated" in up.stdout
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3

    # The state lives in the bucket, not on disk: a checkpoint object holding our resource.
    keys = s3.keys("lifecycle-state")
    assert STACK_KEY in keys and ".pulumi/meta.yaml" in keys
    assert any(k.startswith(".pulumi/history/dcs-migration/e2e/") for k in keys)
    types = [str(r["type"]) for r in latest_resources(s3, "lifecycle-state")]
    assert any(t.endswith("MigrationTasksStopped") for t in types)
    assert not any((project.root / "state").iterdir())  # the file backend dir stayed empty
    assert not s3.keys("lifecycle-state", ".pulumi/locks/")  # up released its lock

    project.pulumi("refresh", "--yes", "--skip-preview")  # fails the test unless it succeeds
    terminated = project.outputs()["terminated_ids"]
    assert isinstance(terminated, list) and sorted(terminated) == sorted(ids)

    destroy = project.pulumi("destroy", "--yes", "--skip-preview")
    assert "leaving 3 task(s)" in destroy.stdout
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3
    assert not latest_resources(s3, "lifecycle-state")

    # Every object ever written (checkpoints, their .bak, each update's history) is still there
    # to read: none holds the simulator's keys, nor the keys pulumi used for the bucket itself.
    cfg = sim.config
    secrets = {cfg.access_key, cfg.secret_key, s3.SECRET_KEY}
    assert assert_no_secret_in_bucket(s3, "lifecycle-state", secrets) >= 5


def test_second_up_while_first_holds_the_lock_fails_and_state_stays_intact(
    tmp_path: Path, s3: S3Server, simulator_factory: SimulatorFactory
) -> None:
    sim, ids = never_stopping_tasks(simulator_factory)
    project = s3_project(tmp_path, s3, sim, "lock-state", ids)

    first = start_up(project)
    assert wait_for_stops(sim, ids, [first]), finish(first)[1]  # first holds the lock now
    [lock_key] = s3.keys("lock-state", LOCKS)
    second_code, second_out = finish(start_up(project))
    finish_stops(sim, ids, [first])
    first_code, first_out = finish(first)

    assert first_code == 0, first_out
    assert second_code != 0 and LOCKED in second_out, second_out
    assert lock_key.rsplit("/", 1)[-1] in second_out  # it names the holder's lock object
    assert s3.SECRET_KEY not in second_out and s3.ACCESS_KEY not in second_out
    assert sim.admin.counters()["batch_stop"] == 1  # only the first one reached the API
    assert not s3.keys("lock-state", ".pulumi/locks/")  # released
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 2
    assert_state_intact(project, sim, ids)


def test_two_ups_started_together_never_both_run(
    tmp_path: Path, s3: S3Server, simulator_factory: SimulatorFactory
) -> None:
    sim, ids = never_stopping_tasks(simulator_factory)
    project = s3_project(tmp_path, s3, sim, "race-state", ids)
    results = race_two_ups(project, sim, ids, lambda: s3.keys("race-state", ".pulumi/locks/"))
    assert_exactly_one_won(results, sim, ids)
    assert not s3.keys("race-state", ".pulumi/locks/")
    assert_state_intact(project, sim, ids)


def test_fleet_on_the_s3_backend(
    tmp_path: Path, s3: S3Server, simulator_factory: SimulatorFactory
) -> None:
    regions = make_regions(simulator_factory, count=3, tasks=2)
    fleet_file = write_fleet_file(tmp_path / "fleet.yaml", regions)
    backend = s3.backend_url(s3.create_bucket("fleet-state"))
    names = stack_names(regions)

    first = FleetMachine(tmp_path / "first", fleet_file, backend, regions, s3.env).run()

    assert first.code == 0, first.stdout + first.stderr
    assert list(first.by_stack()) == names
    assert all(row["ok"] and row["terminated"] == 2 for row in first.summary["stacks"])
    for region in regions:
        assert region.statuses() == ["TERMINATED"] * 2
        assert region.sim.admin.counters().get("batch_stop", 0) == 1
    keys = s3.keys("fleet-state")
    for name in names:  # one checkpoint per stack, in the bucket
        key = f".pulumi/stacks/dcs-migration-fleet/{name}.json"
        assert key in keys, keys
        assert any(
            str(r["type"]).endswith("MigrationTasksStopped")
            for r in latest_resources(s3, "fleet-state", key)
        )
    assert not s3.keys("fleet-state", ".pulumi/locks/")

    # Another machine (a fresh PULUMI_HOME: nothing local) reads every stack back from S3.
    for region in regions:
        region.sim.admin.reset_counters()
    again = FleetMachine(tmp_path / "second", fleet_file, backend, regions, s3.env).run()
    assert again.code == 0, again.stdout + again.stderr
    assert [row["outcome"] for row in again.summary["stacks"]] == ["no change"] * 3
    assert sum(r.sim.admin.counters().get("batch_stop", 0) for r in regions) == 0

    demo = regions[0].sim.config
    secrets = {demo.access_key, demo.secret_key, OTHER_AK, OTHER_SK, s3.SECRET_KEY}
    assert assert_no_secret_in_bucket(s3, "fleet-state", secrets) >= 3 * 3
