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
from .app import IncompleteError


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
    "-v", "--verbose", "stream", is_flag=True, help="Stream every stack's output, prefixed."
)
def fleet_command(
    fleet_file: Path,
    action: str,
    parallel: int,
    log_dir: Path | None,
    summary_json: Path | None,
    stream: bool,
) -> None:
    """Run one Pulumi stack per entry of a fleet FILE (YAML or JSON), in parallel.

    Each entry (name, region or endpoint, project_id, task_ids, timeout_seconds,
    access_key_env/secret_key_env) becomes a stack whose program declares one
    MigrationTasksStopped. Needs PULUMI_CONFIG_PASSPHRASE; the backend is PULUMI_BACKEND_URL
    (default: a file backend in ./.state/fleet-backend). Exit 0 when every stack succeeded, 4 when
    some failed (the others still ran), 2 for a bad fleet file or environment.
    """
    # Not a terminal (CI, a pipe): a wide table rather than rich's 80-column default.
    console = Console(width=None if sys.stdout.isatty() else 200)
    try:
        fleet.check_environment()
        entries = fleet.load_fleet(fleet_file)
        logs = log_dir or fleet.default_log_dir()
        logs.mkdir(parents=True, exist_ok=True)
        settings = fleet.FleetSettings(
            fleet.backend_url(), action, logs, fleet.pulumi_command(), stream
        )
    except fleet.FleetError as exc:
        raise click.UsageError(str(exc)) from None
    started = time.monotonic()
    results = fleet.run_fleet(entries, settings, parallel)
    elapsed = time.monotonic() - started
    console.print(fleet.summary_table(results, action, elapsed))
    console.print(f"logs: {logs}")
    if summary_json:
        payload = {
            "action": action,
            "seconds": round(elapsed, 2),
            "stacks": [asdict(r) for r in results],
        }
        summary_json.write_text(json.dumps(payload, indent=2))
    failed = [r.stack for r in results if not r.ok]
    if failed:
        raise IncompleteError(
            f"{len(failed)} of {len(results)} stack(s) failed: {', '.join(failed)}"
        )
