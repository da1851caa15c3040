"""``dcs-simulator`` / ``python -m dcs_simulator``: serve the simulator until
SIGINT or SIGTERM, then exit 0.

The first stdout line (flushed as soon as the socket listens) is
``dcs-simulator listening on http://HOST:PORT project=...``: scripts read the URL from it.
HOST is the address actually bound; for a non-loopback ``--host`` a warning goes to stderr and
the banner adds the loopback URL (``(local http://127.0.0.1:PORT)``), while the admin API keeps
answering loopback clients only. A port that cannot be bound is one line on stderr and exit 1.
With ``--access-log`` each request is logged to stderr. Secrets are never printed.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import get_args

import click

from .config import (
    DEFAULT_DRAIN_RATE,
    DEMO_ACCESS_KEY,
    DEMO_PROJECT_ID,
    DEMO_SECRET_KEY,
    Behaviour,
    DeletedDetails,
    DeleteRunning,
    SimulatorConfig,
    StopFinished,
    UnknownInBatch,
)
from .server import start_simulator


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind. Non-loopback (e.g. 0.0.0.0) warns; the admin API stays loopback-only.",
)
@click.option("--port", default=0, show_default=True, type=int, help="0 picks a free port.")
@click.option("--access-key", default=DEMO_ACCESS_KEY, show_default=True)
@click.option("--secret-key", default=DEMO_SECRET_KEY, help="Default: the demo secret key.")
@click.option("--project-id", default=DEMO_PROJECT_ID, show_default=True)
@click.option("--token", "tokens", multiple=True, help="Accepted X-Auth-Token value (repeatable).")
@click.option(
    "--security-token", default=None, help="Require this X-Security-Token on AK/SK calls."
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Number of INCRMIGEATING online tasks at start.",
)
@click.option(
    "--stop-delay",
    default=2.0,
    show_default=True,
    type=float,
    help="Seconds a stopped task reads TERMINATING (inf = forever).",
)
@click.option(
    "--stop-jitter",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Per-task variation of the stop delay, as a fraction (0.5 = ±50%).",
)
@click.option(
    "--rng-seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of the task ids and the jitter RNG.",
)
@click.option(
    "--create-delay",
    default=0.2,
    show_default=True,
    type=float,
    help="Seconds an online task reads CREATING after step 1.",
)
@click.option(
    "--stop-finished",
    type=click.Choice(get_args(StopFinished)),
    default="failed",
    show_default=True,
)
@click.option(
    "--unknown-in-batch",
    type=click.Choice(get_args(UnknownInBatch)),
    default="failed",
    show_default=True,
)
@click.option(
    "--deleted-details",
    type=click.Choice(get_args(DeletedDetails)),
    default="not_found",
    show_default=True,
)
@click.option(
    "--delete-running",
    type=click.Choice(get_args(DeleteRunning)),
    default="refuse",
    show_default=True,
)
@click.option(
    "--batch-limit",
    default=None,
    type=click.IntRange(min=1),
    help="Reject batch-stop calls with more ids (400 DCS.4100).",
)
@click.option(
    "--throttle-rate",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Throttle each project to this many requests/second (429 APIGW.0308). Default: off.",
)
@click.option(
    "--throttle-burst",
    default=None,
    type=click.IntRange(min=1),
    help="Token-bucket size of the throttle. Default: the rate rounded up.",
)
@click.option(
    "--write-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Bytes/second a task's incremental lag (stats offset) grows by; 0 = always in sync.",
)
@click.option(
    "--drain-rate",
    default=DEFAULT_DRAIN_RATE,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Bytes/second the lag drains by once a task's writes stop (frozen or rate 0).",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log each request to stderr.",
)
def main(
    host: str,
    port: int,
    access_key: str,
    secret_key: str,
    project_id: str,
    tokens: tuple[str, ...],
    security_token: str | None,
    seed: int,
    stop_delay: float,
    stop_jitter: float,
    rng_seed: int,
    create_delay: float,
    stop_finished: str,
    unknown_in_batch: str,
    deleted_details: str,
    delete_running: str,
    batch_limit: int | None,
    throttle_rate: float | None,
    throttle_burst: int | None,
    write_rate: float,
    drain_rate: float,
    access_log: bool,
) -> None:
    """Serve the local DCS migration-task API simulator (loopback use only)."""
    behaviour = Behaviour().updated(
        stop_finished=stop_finished,
        unknown_in_batch=unknown_in_batch,
        deleted_details=deleted_details,
        delete_running=delete_running,
        batch_limit=batch_limit,
    )
    config = SimulatorConfig(
        host=host,
        port=port,
        access_key=access_key,
        secret_key=secret_key,
        project_id=project_id,
        tokens=tokens,
        security_token=security_token,
        seed=seed,
        stop_delay=stop_delay,
        stop_jitter=stop_jitter,
        rng_seed=rng_seed,
        behaviour=behaviour,
        create_delay=create_delay,
        access_log=access_log,
        throttle_rate=throttle_rate,
        throttle_burst=throttle_burst,
        write_rate=write_rate,
        drain_rate=drain_rate,
    )
    try:
        config.validate()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    _serve(config)


def _serve(config: SimulatorConfig) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before the server starts so an early signal is not lost.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        sim = start_simulator(config)
    except OSError as exc:  # busy port, unknown host, no permission: one line, no traceback
        reason = exc.strerror or str(exc)
        click.echo(
            f"dcs-simulator: cannot listen on {config.host}:{config.port}: {reason}", err=True
        )
        sys.exit(1)
    where = sim.bind_url
    if not sim.loopback_only:
        click.echo(
            f"dcs-simulator: warning: --host {config.host} is not a loopback address: the DCS "
            "routes are reachable from the network (with demo credentials unless given); the "
            "/_simulator/ admin API still answers loopback clients only",
            err=True,
        )
        if sim.url != sim.bind_url:
            where = f"{sim.bind_url} (local {sim.url})"
    click.echo(
        f"dcs-simulator listening on {where} project={config.project_id} "
        f"access_key={config.access_key} tasks={config.seed}"
    )
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        sim.stop()
    click.echo("dcs-simulator stopped")


if __name__ == "__main__":
    main()
