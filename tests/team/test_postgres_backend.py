"""The stacks/ program with its state in PostgreSQL (Pulumi's DIY postgres backend), and locking.

The server is real (``scripts/postgres.sh``); the CLI is the real ``pulumi``. What the tests rely
on about locking was read from pulumi v3.274.1 (pkg/backend/diy/lock.go): a lock is a row
``<db>/.pulumi/locks/<org>/<project>/<stack>/<uuid>.json``; ``up`` lists locks, writes its own,
lists again and gives up if any other exists. PostgreSQL is consistent, so two runs can never both
proceed; two that write at the same instant may both give up (no compare-and-swap).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from dcs_simulator import RunningSimulator
from dcs_simulator.testing import poll_until

from ..conftest import SimulatorFactory
from ..e2e.pulumi_project import PulumiProject
from .conftest import PostgresServer
from .locking import (
    LOCKED,
    assert_exactly_one_won,
    assert_state_intact,
    finish,
    finish_stops,
    never_stopping_tasks,
    race_two_ups,
    start_up,
)

pytestmark = pytest.mark.e2e


def postgres_project(
    tmp_path: Path, postgres: PostgresServer, sim: RunningSimulator, table: str, ids: list[str]
) -> PulumiProject:
    """The repo's project in a throwaway dir whose backend is ``table`` in ``postgres``."""
    project = PulumiProject(
        tmp_path / "project", extra_env={"PULUMI_BACKEND_URL": postgres.backend_url(table)}
    )
    project.init_for(sim, ids)
    return project


def state_keys(postgres: PostgresServer, table: str) -> list[str]:
    """Every key in the state table (pulumi's blob paths)."""
    return [row[0] for row in postgres.query(f"SELECT key FROM {table} ORDER BY key")]


def stack_checkpoint(postgres: PostgresServer, table: str, stack: str) -> str:
    """The stack's checkpoint as stored in PostgreSQL (a JSON row holding base64 blob data)."""
    rows = postgres.query(
        f"SELECT data->>'data' FROM {table} "
        f"WHERE key = 'pulumi/.pulumi/stacks/dcs-migration/{stack}.json'"
    )
    assert len(rows) == 1, f"no checkpoint row for {stack}: {state_keys(postgres, table)}"
    return base64.b64decode(rows[0][0]).decode()


def test_lifecycle_with_state_in_postgres(
    tmp_path: Path, postgres: PostgresServer, simulator_factory: SimulatorFactory
) -> None:
    sim = simulator_factory(stop_delay=0.2)
    ids = sim.admin.create_tasks(3)
    project = postgres_project(tmp_path, postgres, sim, "lifecycle_state", ids)

    preview = project.pulumi("preview")
    assert "create" in preview.stdout and sim.admin.statuses(ids) == ["INCRMIGEATING"] * 3

    up = project.pulumi("up", "--yes", "--skip-preview")
    assert "3/3 terminated" in up.stdout
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3

    # The state lives in PostgreSQL, not on disk: a checkpoint row holding our resource.
    keys = state_keys(postgres, "lifecycle_state")
    assert "pulumi/.pulumi/stacks/dcs-migration/e2e.json" in keys
    assert any("/history/dcs-migration/e2e/" in k for k in keys)
    checkpoint = json.loads(stack_checkpoint(postgres, "lifecycle_state", "e2e"))
    types = [r["type"] for r in checkpoint["checkpoint"]["latest"]["resources"]]
    assert any(t.endswith("MigrationTasksStopped") for t in types)
    assert not any((project.root / "state").iterdir())  # the file backend dir stayed empty
    cfg = sim.config
    dump = "\n".join(r[0] for r in postgres.query("SELECT data::text FROM lifecycle_state"))
    assert cfg.secret_key not in dump and cfg.access_key not in dump

    project.pulumi("refresh", "--yes", "--skip-preview")  # fails the test unless it succeeds
    terminated = project.outputs()["terminated_ids"]
    assert isinstance(terminated, list) and sorted(terminated) == sorted(ids)

    destroy = project.pulumi("destroy", "--yes", "--skip-preview")
    assert "leaving 3 task(s)" in destroy.stdout
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 3
    latest = json.loads(stack_checkpoint(postgres, "lifecycle_state", "e2e"))
    assert not latest["checkpoint"]["latest"].get("resources")


def _wait_for_lock_row(postgres: PostgresServer, table: str, stack: str) -> str:
    """The lock key once the running ``up`` has written it."""
    prefix = f"pulumi/.pulumi/locks/organization/dcs-migration/{stack}/"
    locks = poll_until(
        lambda: [k for k in state_keys_or_none(postgres, table) if k.startswith(prefix)],
        bool,
        timeout=120,
        interval=0.05,
        what=f"a lock row under {prefix}",
    )
    return locks[0]


def state_keys_or_none(postgres: PostgresServer, table: str) -> list[str]:
    """Like :func:`state_keys`, but empty while pulumi has not created the table yet."""
    try:
        return state_keys(postgres, table)
    except subprocess.CalledProcessError:
        return []


def test_second_up_while_first_holds_the_lock_fails_and_state_stays_intact(
    tmp_path: Path, postgres: PostgresServer, simulator_factory: SimulatorFactory
) -> None:
    sim, ids = never_stopping_tasks(simulator_factory)
    project = postgres_project(tmp_path, postgres, sim, "lock_state", ids)

    first = start_up(project)
    lock_key = _wait_for_lock_row(postgres, "lock_state", "e2e")
    second_code, second_out = finish(start_up(project))
    finish_stops(sim, ids, [first])
    first_code, first_out = finish(first)

    assert first_code == 0, first_out
    assert second_code != 0 and LOCKED in second_out, second_out
    assert lock_key.rsplit("/", 1)[-1] in second_out  # it names the holder's lock
    assert postgres.url.split("@")[0].split(":")[-1] not in second_out  # password redacted
    assert sim.admin.counters()["batch_stop"] == 1  # only the first one reached the API
    assert not [k for k in state_keys(postgres, "lock_state") if "/locks/" in k]  # released
    assert sim.admin.statuses(ids) == ["TERMINATED"] * 2
    assert_state_intact(project, sim, ids)


def test_two_ups_started_together_never_both_run(
    tmp_path: Path, postgres: PostgresServer, simulator_factory: SimulatorFactory
) -> None:
    sim, ids = never_stopping_tasks(simulator_factory)
    project = postgres_project(tmp_path, postgres, sim, "race_state", ids)
    results = race_two_ups(
        project,
        sim,
        ids,
        lambda: [k for k in state_keys_or_none(postgres, "race_state") if "/locks/" in k],
    )
    assert_exactly_one_won(results, sim, ids)
    assert_state_intact(project, sim, ids)
