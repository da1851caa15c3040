"""``dcs-migration fleet --shard I/N``: one fleet file split across machines sharing a backend.

The rule (``fleet.shard_of``): SHA-256 of the stack name modulo N. Unit tests check that every
stack is in exactly one shard and that a stack's shard ignores the other entries; the end-to-end
tests run two fleet processes at once on one backend, as two CI machines would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dcs_simulator import RunningSimulator
from pulumi_dcs_migration import fleet
from pulumi_dcs_migration.cli.fleet import fleet_command

from ..conftest import SimulatorFactory
from .conftest import PostgresServer, S3Server
from .fleet_cli import FleetMachine, stack_names, wait_until_stopping, write_fleet_file
from .test_fleet import Region, make_regions

PROJECT = "0123456789abcdef0123456789abcdef"


def entry(name: str) -> fleet.FleetEntry:
    return fleet.FleetEntry(name=name, project_id=PROJECT, task_ids=("t",), region="cn-north-4")


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_every_stack_is_in_exactly_one_shard(count: int) -> None:
    entries = [entry(f"region-{i}") for i in range(40)]
    shards = [fleet.select_shard(entries, index, count) for index in range(1, count + 1)]

    placed = [e.stack_name for shard in shards for e in shard]
    assert sorted(placed) == sorted(e.stack_name for e in entries)  # all, and none twice
    for index, shard in enumerate(shards, start=1):
        assert all(fleet.shard_of(e.stack_name, count) == index for e in shard)
        assert shard == [e for e in entries if e in shard]  # the file's order is kept
    if count > 1:
        assert all(shards), [len(s) for s in shards]  # 40 names do spread over 5 shards


def test_a_stacks_shard_depends_on_its_own_name_only() -> None:
    entries = [entry(f"region-{i}") for i in range(20)]
    before = {e.stack_name: fleet.shard_of(e.stack_name, 3) for e in entries}

    grown = [entry("added-later"), *reversed(entries), entry("another-one")]
    after = {
        e.stack_name: index
        for index in (1, 2, 3)
        for e in fleet.select_shard(grown, index, 3)
        if e.stack_name in before
    }
    assert after == before  # adding and reordering entries moved no stack
    # The same on every machine and Python (no salted hash()). Pinned: changing the rule would
    # move stacks between the shards of CI matrices already in use.
    names = [f"fleet-region-{i}-01234567" for i in range(8)]
    assert [fleet.shard_of(n, 4) for n in names] == [3, 3, 1, 4, 1, 3, 1, 1]
    assert [fleet.shard_of(n, 3) for n in names] == [3, 2, 2, 3, 3, 1, 1, 1]
    assert {fleet.shard_of(n, 1) for n in names} == {1}


@pytest.mark.parametrize(
    ("text", "parsed"), [("1/1", (1, 1)), ("2/3", (2, 3)), (" 3 / 3 ", (3, 3)), ("10/12", (10, 12))]
)
def test_shard_argument_parses(text: str, parsed: tuple[int, int]) -> None:
    assert fleet.parse_shard(text) == parsed


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0/2", "need 1 <= I <= N"),
        ("3/2", "need 1 <= I <= N"),
        ("1/0", "need 1 <= I <= N"),
        ("-1/2", "expected I/N"),
        ("1", "expected I/N"),
        ("1/2/3", "expected I/N"),
        ("a/b", "expected I/N"),
        ("", "expected I/N"),
    ],
)
def test_a_bad_shard_is_a_usage_error(tmp_path: Path, text: str, why: str) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        f"stacks:\n  - {{region: cn-north-4, project_id: {PROJECT}, task_ids: [a]}}\n"
    )
    result = CliRunner().invoke(
        fleet_command,
        [str(fleet_file), "--shard", text],
        env={"PULUMI_CONFIG_PASSPHRASE": "x", "PULUMI_BACKEND_URL": "file:///nonexistent"},
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--shard'" in result.output and why in result.output


def test_a_locked_stack_is_reported_as_locked_with_its_holder() -> None:
    # Pulumi v3.274.1's own message (captured from the S3 backend), as the CommandError holds it.
    stderr = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es)"
        " to end or delete the lock file with `pulumi cancel`.\n"
        "  s3://b/.pulumi/locks/organization/p/s/1111.json?endpoint=http%3A%2F%2F127.0.0.1%3A9"
        "&region=us-east-1: created by ci@machine-b (pid 4242) at 2026-11-29T21:00:00Z\n"
    )
    assert fleet._lock_outcome(f"code: 255\n stdout: \n stderr: {stderr}") == (
        "failed: locked by another run (ci@machine-b (pid 4242) at 2026-11-29T21:00:00Z);"
        " not run here"
    )
    assert fleet._lock_outcome("error: update failed") is None


# --- two machines -----------------------------------------------------------------------------


def split_evenly(regions: list[Region], count: int) -> None:
    """Name the entries so that each of ``count`` shards gets the same number of stacks.

    The hash decides where a name goes; picking names (not changing the rule) makes the test a
    real split whatever the simulators' project id is.
    """
    per_shard = len(regions) // count
    taken = {index: 0 for index in range(1, count + 1)}
    candidates = (f"region-{k}" for k in range(10_000))
    for region in regions:
        while True:
            region.entry["name"] = next(candidates)
            shard = fleet.shard_of(stack_names([region])[0], count)
            if taken[shard] < per_shard:
                taken[shard] += 1
                break


@pytest.mark.e2e
def test_two_shards_at_once_run_every_stack_exactly_once(
    tmp_path: Path,
    postgres: PostgresServer,
    simulator_factory: SimulatorFactory,
) -> None:
    regions = make_regions(simulator_factory, count=4, tasks=2)
    split_evenly(regions, 2)
    fleet_file = write_fleet_file(tmp_path / "fleet.yaml", regions)
    backend = postgres.backend_url("fleet_shards")
    machines = [
        FleetMachine(
            tmp_path / f"machine-{i}",
            fleet_file,
            backend,
            regions,
            {},
            ("--shard", f"{i}/2", "--parallel", "2"),
        )
        for i in (1, 2)
    ]
    for machine in machines:  # both running before either is waited for
        machine.start()
    runs = [machine.finish() for machine in machines]

    for index, run in enumerate(runs, start=1):
        assert run.code == 0, run.stdout + run.stderr
        assert run.summary["shard"] == f"{index}/2" and run.summary["fleet_stacks"] == 4
        assert all(row["ok"] and row["terminated"] == 2 for row in run.summary["stacks"])
        assert f"shard {index}/2: 2 of 4 stack(s)" in run.stderr
    one, two = (set(run.by_stack()) for run in runs)
    assert one and two and one.isdisjoint(two)
    assert one | two == set(stack_names(regions))
    for region in regions:  # each stack ran once: one batch-stop in its region, all stopped
        assert region.sim.admin.counters().get("batch_stop", 0) == 1, region.entry["name"]
        assert region.statuses() == ["TERMINATED"] * 2

    # Both machines wrote to the one backend: a third, unsharded, finds every stack done.
    for region in regions:
        region.sim.admin.reset_counters()
    whole = FleetMachine(tmp_path / "machine-all", fleet_file, backend, regions, {}).run()
    assert whole.code == 0, whole.stdout + whole.stderr
    assert [row["outcome"] for row in whole.summary["stacks"]] == ["no change"] * 4
    assert whole.summary["shard"] is None
    assert sum(r.sim.admin.counters().get("batch_stop", 0) for r in regions) == 0


def held_region(factory: SimulatorFactory) -> Region:
    """A region whose two tasks stay TERMINATING until the test completes them: an ``up`` of
    its stack holds the lock for as long as the test needs, however slow the machine."""
    sim: RunningSimulator = factory()
    ids = sim.admin.create_tasks(2, stop_delay="never")
    return Region(
        sim,
        {"name": "held", "endpoint": sim.url, "project_id": sim.config.project_id, "task_ids": ids},
    )


@pytest.mark.e2e
def test_a_stack_two_machines_reach_runs_once_the_other_reports_it_locked(
    tmp_path: Path, s3: S3Server, simulator_factory: SimulatorFactory
) -> None:
    region = held_region(simulator_factory)
    fleet_file = write_fleet_file(tmp_path / "fleet.yaml", [region])
    backend = s3.backend_url(s3.create_bucket("fleet-overlap"))
    [stack] = stack_names([region])

    # Overlapping shards (a one-shard run and an unsharded run both include the stack).
    first = FleetMachine(
        tmp_path / "machine-a", fleet_file, backend, [region], s3.env, ("--shard", "1/1")
    ).start()
    wait_until_stopping(region, [first])  # first's `up` is underway: it holds the stack's lock
    second = FleetMachine(tmp_path / "machine-b", fleet_file, backend, [region], s3.env)
    late = second.run()
    for task_id in region.entry["task_ids"]:
        region.sim.admin.set_status(task_id, "TERMINATED")
    early = first.finish()

    assert early.code == 0, early.stdout + early.stderr
    assert early.by_stack()[stack]["ok"] and early.by_stack()[stack]["terminated"] == 2
    assert late.code == 4, late.stdout + late.stderr  # a failed stack, as for any other failure
    row = late.by_stack()[stack]
    assert not row["ok"] and row["terminated"] is None
    assert (
        row["outcome"].startswith("failed: locked by another run (") and "(pid " in row["outcome"]
    )
    assert row["outcome"].endswith("; not run here")
    assert "locked by another run" in late.stdout  # the table says it too
    assert fleet.LOCKED in second.log_of(stack)  # pulumi's own words are in the stack's log
    assert s3.ACCESS_KEY not in row["outcome"] and s3.endpoint not in row["outcome"]
    assert region.sim.admin.counters()["batch_stop"] == 1  # only the lock holder reached the API
    assert region.statuses() == ["TERMINATED"] * 2
    assert not s3.keys("fleet-overlap", ".pulumi/locks/")  # the holder released its lock
