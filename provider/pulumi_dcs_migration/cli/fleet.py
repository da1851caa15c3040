"""``dcs-migration fleet``: run one Pulumi stack per entry of a fleet file (see :mod:`..fleet`)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console

from .. import fleet
from .app import CliError, ExitCode


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """``--shard I/N`` as ``(I, N)``; a malformed or out-of-range value is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return fleet.parse_shard(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.command("fleet")
@click.argument(
    "fleet_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE"
)
@click.option("--action", type=click.Choice(fleet.ACTIONS), default="up", show_default=True)
@click.option(
    "--parallel", type=click.IntRange(min=1), default=4, show_default=True, help="Stacks at once."
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Per-stack logs (default: .state/fleet-logs/<time>).",
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JSON here.",
)
@click.option(
    "--shard",
    metavar="I/N",
    callback=_shard,
    help="Run only shard I of N (1 <= I <= N): the stacks whose stack name "
    "(fleet-<name>-<project[:8]>) hashes to I: SHA-256, first 8 bytes as an integer, modulo N, "
    "plus 1. Every stack is in exactly one shard, and a stack's shard depends on its "
    "own name only: adding, removing or reordering other entries never moves it (shards may be "
    "uneven, even empty: an empty shard exits 0). Run the N shards on N machines with one shared "
    "backend; should two ever reach the same stack, the backend's lock lets one run and the "
    "other reports that stack as failed (locked).",
)
@click.option(
    "-v", "--verbose", "stream", is_flag=True, help="Stream every stack's output, prefixed."
)
def fleet_command(
    fleet_file: Path,
    action: str,
    parallel: int,
    log_dir: Path | None,
    summary_json: Path | None,
    shard: tuple[int, int] | None,
    stream: bool,
) -> None:
    """Run one Pulumi stack per entry of a fleet FILE (YAML or JSON), in parallel.

    Each entry (name, region or endpoint, project_id, task_ids, timeout_seconds,
    access_key_env/secret_key_env) becomes a stack whose program declares one
    MigrationTasksStopped. Needs PULUMI_CONFIG_PASSPHRASE; the backend is PULUMI_BACKEND_URL
    (default: a file backend in ./.state/fleet-backend). With --shard I/N, only that shard's
    stacks run (split one file across N machines sharing the backend). Exit 0 when every stack
    (of the shard) succeeded, 4 when some failed (the others still ran), 2 for a bad fleet file,
    a bad --shard or environment.
    """
    # Not a terminal (CI, a pipe): a wide table rather than rich's 80-column default.
    console = Console(width=None if sys.stdout.isatty() else 200)
    try:
        fleet.check_environment()
        every_entry = fleet.load_fleet(fleet_file)  # the whole file is checked on every shard
        entries = fleet.select_shard(every_entry, *shard) if shard else every_entry
        logs = log_dir or fleet.default_log_dir()
        logs.mkdir(parents=True, exist_ok=True)
        settings = fleet.FleetSettings(
            fleet.backend_url(), action, logs, fleet.pulumi_command(), stream
        )
        if entries:
            fleet.open_backend(settings)
    except fleet.FleetError as exc:
        raise click.UsageError(str(exc)) from None
    shard_text = f"{shard[0]}/{shard[1]}" if shard else None
    if shard_text:
        click.echo(
            f"fleet: shard {shard_text}: {len(entries)} of {len(every_entry)} stack(s)"
            + (f": {', '.join(e.stack_name for e in entries)}" if entries else " (nothing to do)"),
            err=True,
        )
    started = time.monotonic()
    results = fleet.run_fleet(entries, settings, parallel) if entries else []
    elapsed = time.monotonic() - started
    console.print(fleet.summary_table(results, action, elapsed, shard=shard_text))
    console.print(f"logs: {logs}")
    if summary_json:
        payload = {
            "action": action,
            "shard": shard_text,
            "fleet_stacks": len(every_entry),
            "seconds": round(elapsed, 2),
            "stacks": [asdict(r) for r in results],
        }
        summary_json.write_text(json.dumps(payload, indent=2))
    failed = [r.stack for r in results if not r.ok]
    if failed:
        message = f"{len(failed)} of {len(results)} stack(s) failed: {', '.join(failed)}"
        raise CliError(message, ExitCode.INCOMPLETE)
