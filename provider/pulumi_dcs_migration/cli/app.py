"""The ``dcs-migration`` click commands, their options, and the exit codes scripts rely on.

Errors become one message on stderr and an exit code (:class:`ExitCode`), never a traceback;
messages come from the typed errors of :mod:`pulumi_dcs_migration.errors`, which already carry
a hint and never a credential. Set ``DCS_MIGRATION_TRACEBACK=1`` to see the traceback of an
unexpected error.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import click

from .. import lifecycle
from ..client import DcsClient
from ..engine import Outcome, StopEngine, unique_ids
from ..errors import ConfigurationError, DcsApiError, DcsError, InvalidTaskIdError
from ..lifecycle import (
    DEFAULT_SYNC_TIMEOUT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_TIMEOUT_SECONDS,
    Spelling,
)
from ..models import batches
from ..policy import show_retries
from ..redact import Scrubber, visible
from ..settings import Layer, positive_seconds, resolve, where_to_set
from . import output
from .progress import progress_reporter

_F = TypeVar("_F", bound=Callable[..., Any])

_OPTION_SPELLING = {
    "region": "--region",
    "endpoint": "--endpoint",
    "project_id": "--project-id",
    "ca_bundle": "--ca-bundle",
    "insecure_skip_verify": "--insecure",
    "max_requests_per_second": "--max-rps",
}


class ExitCode(enum.IntEnum):
    """Exit codes of ``dcs-migration`` (also listed in ``dcs-migration --help``)."""

    OK = 0  # success: every task stopped / restarted / deleted
    UNEXPECTED = 1  # a bug or an unforeseen failure
    USAGE = 2  # bad input: usage, invalid task id, missing or invalid settings
    API = 3  # the API refused (incl. 401/403) or could not be reached, or answered garbage
    INCOMPLETE = 4  # not every task reached the goal (not stopped, not restarted)
    INTERRUPTED = 130  # Ctrl-C


EPILOG = """\b
Exit codes:
  0  success (every task stopped, restarted or deleted)
  1  unexpected error
  2  bad input or usage: invalid task id, missing --yes, missing or invalid settings
  3  API or transport error (HTTP 4xx/5xx incl. 401 and 403, unreachable, bad answer)
  4  not every task reached the goal (stop: timed out, rejected, not found)
  130 interrupted

\b
Settings (option, else environment):
  --endpoint    HW_DCS_ENDPOINT
  --region      HW_REGION_NAME, HUAWEICLOUD_SDK_REGION
  --project-id  HW_PROJECT_ID, HUAWEICLOUD_SDK_PROJECT_ID
Credentials come from the environment only (never options):
  HW_ACCESS_KEY + HW_SECRET_KEY [+ HW_SECURITY_TOKEN], or HW_AUTH_TOKEN,
  or HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK [+ HUAWEICLOUD_SDK_SECURITY_TOKEN].
"""


class CliError(click.ClickException):
    """An error shown as one message on stderr, exiting with ``code``. Server text in it was made
    safe where it entered (the client)."""

    def __init__(self, message: str, code: ExitCode = ExitCode.UNEXPECTED) -> None:
        super().__init__(message)
        # click's stubs call exit_code a ClassVar; click reads it from the instance.
        self.exit_code = int(code)  # type: ignore[misc]


def error_exit_code(exc: BaseException) -> ExitCode:
    """The exit code for an exception raised by a command."""
    if isinstance(exc, InvalidTaskIdError | ConfigurationError):
        return ExitCode.USAGE
    if isinstance(exc, DcsError):  # the rest of the package's errors: all are about the API
        return ExitCode.API
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.UNEXPECTED


class DcsGroup(click.Group):
    """A click group that turns the package's errors into messages and exit codes.

    ``fleet`` is loaded on first use: it pulls in pulumi's Automation API, which the other
    commands do not need (and ``--help`` should not wait for).
    """

    lazy_commands = {
        "fleet": ("pulumi_dcs_migration.cli.fleet", "fleet_command"),
        "plugin": ("pulumi_dcs_migration.cli.plugin", "plugin_group"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, the lazy ones included."""
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A command by name, importing a lazy one when asked for."""
        if cmd_name in self.lazy_commands:
            module, name = self.lazy_commands[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; map errors (see :class:`ExitCode`)."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            code = error_exit_code(exc)
            if code is ExitCode.UNEXPECTED and os.environ.get("DCS_MIGRATION_TRACEBACK"):
                raise
            options = ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()
            raise as_cli_error(exc, options) from None


def as_cli_error(exc: BaseException, options: GlobalOptions, suffix: str = "") -> CliError:
    """``exc`` as this command line says it (advice, ``-v``, no secret), with its exit code."""
    code = error_exit_code(exc)
    if code is ExitCode.INTERRUPTED:
        message = "interrupted"
    elif code is ExitCode.UNEXPECTED:
        message = f"unexpected error ({type(exc).__name__}): {visible(str(exc))}"
    elif isinstance(exc, DcsApiError):
        message = exc.describe(options.where, verbose=options.verbose)
    else:
        message = str(exc)
    return CliError(options.scrub(message + suffix), code)


@dataclass(frozen=True)
class GlobalOptions:
    """The group's options, handed to every subcommand."""

    endpoint: str | None = None
    region: str | None = None
    project_id: str | None = None
    ca_bundle: str | None = None
    insecure: bool | None = None  # None: as the environment says (HW_DCS_INSECURE_SKIP_VERIFY)
    verbose: bool = False
    max_rps: float | None = None  # None: HW_DCS_MAX_REQUESTS_PER_SECOND, else the default
    # The credentials in use once resolved: no message of this run may show them.
    secrets: list[str] = field(default_factory=list, compare=False, repr=False)

    def scrub(self, text: str) -> str:
        """``text`` without any form of the credentials this run resolved."""
        return Scrubber(self.secrets)(text) if self.secrets else text

    @property
    def layer(self) -> Layer:
        """These options as a settings layer (credentials: environment only)."""
        # Each setting's value is the field named like its option (--max-rps: max_rps).
        values = {s: getattr(self, o[2:].replace("-", "_")) for s, o in _OPTION_SPELLING.items()}
        return Layer(values, _OPTION_SPELLING.get, "option")

    def where(self, setting: str) -> str:
        """Where a user of the command line sets ``setting``: its option, or the environment."""
        return where_to_set(setting, self.layer)

    def client(self) -> DcsClient:
        """A client from these options and the environment (credentials: environment only)."""
        settings = resolve(self.layer)
        self.secrets[:] = settings.credentials.secrets()
        location = settings.location
        if location is not None and location.ignored_region is not None:
            click.echo(
                visible(
                    f"warning: region {location.ignored_region.value} (from "
                    f"{location.ignored_region.where}) is ignored: the endpoint "
                    f"{location.endpoint} wins"
                ),
                err=True,
            )
        return DcsClient.from_settings(settings)


pass_options = click.make_pass_decorator(GlobalOptions)


@click.group(cls=DcsGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--endpoint", metavar="URL", help="API base URL (default: from --region).")
@click.option("--region", metavar="REGION", help="Region id, e.g. cn-north-4.")
@click.option("--project-id", metavar="ID", help="IAM project id (32 hex digits).")
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="PEM file of CA certificates to verify the API's TLS certificate with.",
)
@click.option(
    "--insecure/--verify-tls",
    default=None,
    help="Do not verify TLS certificates (dangerous) / verify them even if "
    "HW_DCS_INSECURE_SKIP_VERIFY says not to. Default: verify, unless the environment says not to.",
)
@click.option(
    "--max-rps",
    type=float,
    default=None,
    metavar="N",
    help="Ceiling of the requests per second to the project's API from this machine (shared "
    "with your other dcs-migration processes); below it the rate adapts to throttling (429). "
    "Default: HW_DCS_MAX_REQUESTS_PER_SECOND, else 10.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show the server's whole error text.")
@click.version_option(package_name="pulumi-dcs-migration", prog_name="dcs-migration")
@click.pass_context
def cli(ctx: click.Context, /, **options: Any) -> None:
    """List, inspect, stop, restart and delete Huawei Cloud DCS data-migration tasks.

    Tables go to stdout (or JSON with --json); progress, warnings and errors go to stderr.
    """
    if options["ca_bundle"] and options["insecure"]:
        raise click.UsageError("--ca-bundle and --insecure contradict each other; pick one")
    ctx.obj = GlobalOptions(**options)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
ids_argument = click.argument("task_ids", metavar="ID...", nargs=-1)


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A number of seconds in (0, a day]: ``nan``, ``inf``, zero and negatives are usage errors."""
    try:
        return positive_seconds(value, "it", maximum=MAX_TIMEOUT_SECONDS)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


DEFAULT_CALL_TIMEOUT = 300.0
"""``--timeout`` of the commands that do not wait (list, show, restart, delete)."""


def seconds_option(name: str, default: float, help: str) -> Callable[[_F], _F]:
    """``NAME SECONDS``, checked like every number of seconds."""
    return click.option(
        name,
        type=float,
        callback=_seconds,
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=help,
    )


def whole_number_option(name: str, metavar: str, help: str) -> Callable[[_F], _F]:
    """An optional whole number >= 0 (the guard's bounds)."""
    return click.option(name, type=click.IntRange(min=0), default=None, metavar=metavar, help=help)


call_timeout_option = seconds_option(
    "--timeout",
    DEFAULT_CALL_TIMEOUT,
    "Give up after this long, retries and slow answers included (then exit 3).",
)


def read_ids(args: Iterable[str], stdin: Iterable[str] | None = None) -> list[str]:
    """Validated, de-duplicated ids from arguments; ``-`` reads more from stdin, one per line.

    Blank lines and ``#`` comments are skipped and surrounding double quotes dropped (so the
    output of ``jq`` without ``-r`` works too). Raises :class:`InvalidTaskIdError` naming the
    first bad id, or :class:`click.UsageError` when there is no id at all.
    """
    raw: list[str] = []
    for arg in args:
        raw += _stdin_ids(sys.stdin if stdin is None else stdin) if arg == "-" else [arg]
    ids = unique_ids(raw)
    if not ids:
        raise click.UsageError("no task ids given: pass ids, or - to read them from stdin")
    return ids


def _stdin_ids(lines: Iterable[str]) -> list[str]:
    texts = (line.split("#", 1)[0].strip() for line in lines)
    return [t[1:-1] if len(t) > 1 and t[0] == t[-1] == '"' else t for t in texts if t]


# --- list / show ------------------------------------------------------------------------------


def status_filter(values: Iterable[str]) -> frozenset[str]:
    """Upper-cased statuses from repeated or comma-separated ``--status`` values.

    ``INCRMIGRATING`` (the docs' spelling) also matches ``INCRMIGEATING`` (the API's).
    """
    wanted = {s.strip().upper() for v in values for s in v.split(",") if s.strip()}
    if wanted & {"INCRMIGRATING", "INCRMIGEATING"}:
        wanted |= {"INCRMIGRATING", "INCRMIGEATING"}
    return frozenset(wanted)


@cli.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    help="Only tasks in this status (case-insensitive; repeat or comma-separate).",
)
@click.option("--name", metavar="NAME", help="Only tasks matching this name (API filter).")
@call_timeout_option
@json_option
@pass_options
def list_command(
    opts: GlobalOptions,
    statuses: tuple[str, ...],
    name: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """List every migration task of the project (all pages)."""
    wanted = status_filter(statuses)
    at = time.monotonic() + timeout
    with opts.client() as client, client.deadline(at):
        tasks = [
            t
            for t in client.iter_tasks(name=name)
            if not wanted or (t.status or "").strip().upper() in wanted
        ]
    output.print_tasks(tasks, as_json)


@cli.command("show")
@click.argument("task_id", metavar="ID")
@call_timeout_option
@json_option
@pass_options
def show_command(opts: GlobalOptions, task_id: str, timeout: float, as_json: bool) -> None:
    """Show one task's details (passwords are masked)."""
    [checked] = unique_ids([task_id])
    at = time.monotonic() + timeout
    with opts.client() as client, client.deadline(at):
        task = client.get_task(checked)
    output.print_task(task, as_json)


# --- stop -------------------------------------------------------------------------------------


@cli.command("stop")
@ids_argument
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until every task reads TERMINATED, or only send the stop requests.",
)
@seconds_option(
    "--timeout",
    DEFAULT_TIMEOUT_SECONDS,
    "Give up after this long, waiting and every request included (tasks not stopped: exit 4).",
)
@click.option(
    "--strict-finished",
    is_flag=True,
    help="Count tasks that ended on their own (SUCCESS, FAILED...) as not stopped.",
)
@whole_number_option(
    "--max-offset",
    "BYTES",
    "Cutover guard: stop each task only once its incremental lag (stats offset) is at "
    "most this. Default: stop at once.",
)
@seconds_option(
    "--sync-timeout",
    DEFAULT_SYNC_TIMEOUT_SECONDS,
    "With --max-offset: how long to wait for a lagging task; one still lagging then is "
    "left running (exit 4).",
)
@whole_number_option(
    "--max-key-difference",
    "KEYS",
    "With --max-offset: stop each task only once its target holds at most this many keys "
    "fewer than its source too (stats source_dbsize - target_dbsize; 0 = the same count).",
)
@json_option
@pass_options
def stop_command(
    opts: GlobalOptions,
    task_ids: tuple[str, ...],
    wait: bool,
    timeout: float,
    strict_finished: bool,
    max_offset: int | None,
    sync_timeout: float,
    max_key_difference: int | None,
    as_json: bool,
) -> None:
    """Stop tasks and wait until they read TERMINATED. ID '-' reads ids from stdin.

    Runs the same stop-and-wait engine as the Pulumi resource: batch stops in chunks of 50,
    re-sends to tasks that run again, polls less often the longer it waits. Progress is shown
    live on a terminal, as plain lines on stderr otherwise.
    """
    ids = read_ids(task_ids)
    inputs: dict[str, Any] = {
        "timeout_seconds": timeout,
        "on_finished": "fail" if strict_finished else "warn",
        "max_offset": max_offset,
        "sync_timeout_seconds": sync_timeout,
        "max_key_difference": max_key_difference,
    }
    failures = lifecycle.check_options(inputs, SPELLING.input)  # the Pulumi front ends' rules
    if failures:
        raise click.UsageError("; ".join(f.message for f in failures))
    options = lifecycle.stop_options(inputs, wait=wait)
    with opts.client() as client, progress_reporter(len(ids)) as on_progress:
        report = StopEngine(client, options, on_progress=on_progress).run(ids)
    output.print_outcomes(report.outcomes, as_json)
    # Without waiting, an accepted stop is a success.
    failed = [
        o
        for o in report.failures(strict_finished=strict_finished)
        if wait or o.outcome is not Outcome.STOP_REQUESTED
    ]
    if failed:
        message = lifecycle.incomplete_message(failed, len(ids), SPELLING)
        raise CliError(message, ExitCode.INCOMPLETE)


_INPUT_OPTIONS = {
    "task_ids": "the ids",
    "timeout_seconds": "--timeout",
    "sync_timeout_seconds": "--sync-timeout",
}

SPELLING = Spelling(
    lambda name: _INPUT_OPTIONS.get(name, "--" + name.replace("_", "-")),
    "--timeout",
    "the same command",
    "without --strict-finished",
)
"""The command line's words in the one wording of advice: an input is spelled as its option."""


# --- restart / delete -------------------------------------------------------------------------


@cli.command("restart")
@ids_argument
@call_timeout_option
@json_option
@pass_options
def restart_command(
    opts: GlobalOptions, task_ids: tuple[str, ...], timeout: float, as_json: bool
) -> None:
    """Restart stopped online migration tasks (batches of 50). ID '-' reads stdin."""
    ids = read_ids(task_ids)
    rows = []
    at = time.monotonic() + timeout
    with opts.client() as client, client.deadline(at):
        for chunk in batches(ids):
            answered = {item.task_id: item for item in client.batch_restart(chunk)}
            rows += [output.batch_json(tid, answered.get(tid)) for tid in chunk]
    output.print_rows("restart", rows, as_json)
    failed = [r for r in rows if r["result"] != "success"]
    if failed:
        names = ", ".join(f"{r['task_id']} ({r['error_code']}: {r['error_msg']})" for r in failed)
        message = f"{len(failed)} of {len(ids)} task(s) were not restarted: {names}"
        raise CliError(message, ExitCode.INCOMPLETE)


@cli.command("delete")
@ids_argument
@click.option("--yes", is_flag=True, help="Really delete the task records (required).")
@call_timeout_option
@json_option
@pass_options
def delete_command(
    opts: GlobalOptions, task_ids: tuple[str, ...], yes: bool, timeout: float, as_json: bool
) -> None:
    """Delete task records (batches of 50; stop running tasks first). Needs --yes."""
    ids = read_ids(task_ids)
    if not yes:
        raise click.UsageError(f"refusing to delete {len(ids)} task record(s) without --yes")
    deleted: list[str] = []
    failure: DcsError | None = None
    with opts.client() as client, client.deadline(time.monotonic() + timeout):
        try:
            for chunk in batches(ids):
                deleted += client.delete_tasks(chunk) or chunk
        except DcsError as exc:
            failure = exc  # what was deleted before it is still listed
    if failure is None or deleted:
        output.print_rows("delete", [{"task_id": t, "result": "deleted"} for t in deleted], as_json)
    if failure is not None:
        done = f" ({len(deleted)} record(s) were deleted before this, listed on stdout)"
        raise as_cli_error(failure, opts, done if deleted else "") from None


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``dcs-migration`` console script (exits with an :class:`ExitCode`).

    Makes every retry a readable stderr line for this process (not at import). Exits without
    the interpreter's teardown: freeing the modules a run imported takes 50-80 ms (measured
    after a 1,000-task stop, a third of what a stop may take past its last task's stop), and
    nothing is left to do then (the output is flushed below, the connections are closed, no
    thread runs).
    """
    show_retries(lambda line: print(line, file=sys.stderr, flush=True))
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="dcs-migration")
        code = 0
    except SystemExit as exc:  # click's way out, with the exit code
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)
