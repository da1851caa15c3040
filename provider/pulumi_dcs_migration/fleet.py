"""Stop migration tasks across many regions/projects: one Pulumi stack per fleet entry.

An Automation API program behind ``dcs-migration fleet``: every entry of a fleet file becomes its
own stack (``fleet-<name>-<project[:8]>``) whose inline program declares one
``MigrationTasksStopped``. Stacks run in parallel (``--parallel N``), each one's output goes to
its own log file (and, with ``--verbose``, to stderr with a ``[stack]`` prefix), and one summary
table ends the run.

Fleet file (YAML or JSON)::

    stacks:
      - name: beijing                        # optional; default: the region / endpoint host
        region: cn-north-4                   # or endpoint: https://... (exactly one of the two)
        project_id: 0123456789abcdef0123456789abcdef
        task_ids: [b21989ec-2889-4b8e-99db-19c073425ec2]
        timeout_seconds: 1800                # optional
        access_key_env: PROD_AK              # optional: read this stack's AK/SK from these
        secret_key_env: PROD_SK              #   variables instead of HW_ACCESS_KEY/HW_SECRET_KEY

Sharding (``--shard I/N``): several machines split one fleet file, each running the stacks whose
:func:`shard_of` is its ``I``. The rule hashes the stack name alone, so every stack belongs to
exactly one shard and adding, removing or reordering other entries never moves it. Two machines
that do end up on one stack (overlapping shards, a re-run) are kept apart by the backend's lock:
the second one's run fails for that stack with a "locked" outcome naming the holder.

Environment: ``PULUMI_BACKEND_URL`` (default: a file backend in ``./.state/fleet-backend``),
``PULUMI_CONFIG_PASSPHRASE`` (or ``..._FILE``) and the credentials. Credentials stay in the
environment of the pulumi processes: they are never written to stack config or state.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pulumi
import yaml
from pulumi import automation as auto
from rich.table import Table
from rich.text import Text

from .resource import MigrationTasksStopped
from .settings import env_vars

PROJECT_NAME = "dcs-migration-fleet"
DEFAULT_STATE_DIR = Path(".state")
ACTIONS = ("up", "preview", "refresh", "destroy")
GENERIC_ERRORS = (
    "Resource monitor has terminated",
    "update failed",
    "preview failed",
    "destroy failed",
    "refresh failed",
)
# Pulumi's own words when another process holds the stack's lock (pkg/backend/diy/lock.go); the
# next line names the holder: "  <lock url>: created by <user>@<host> (pid <n>) at <time>".
LOCKED = "the stack is currently locked"
# Location settings the provider would otherwise take from the environment; blanked per stack so
# the fleet file is the only source of region/endpoint/project (one stray HW_DCS_ENDPOINT in the
# operator's shell must not send every region's stop to one endpoint).
LOCATION_ENV = tuple(name for s in ("endpoint", "region", "project_id") for name in env_vars(s))


class FleetError(Exception):
    """The fleet file or the environment is unusable; nothing was run."""


# --- the fleet file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetEntry:
    """One stack: where the tasks are and which ones to stop."""

    name: str
    project_id: str
    task_ids: tuple[str, ...]
    region: str | None = None
    endpoint: str | None = None
    timeout_seconds: float | None = None
    access_key_env: str | None = None
    secret_key_env: str | None = None

    @property
    def stack_name(self) -> str:
        """``fleet-<name>-<project[:8]>``: unique per region and project, readable in listings."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "entry"
        return f"fleet-{slug}-{self.project_id[:8]}"

    @property
    def location(self) -> str:
        """The region, or the endpoint when one is given instead."""
        return self.region or self.endpoint or "?"


def load_fleet(path: Path) -> list[FleetEntry]:
    """Parse a fleet file (YAML, hence JSON too): a list of entries or ``{stacks: [...]}``."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FleetError(f"cannot read fleet file {path}: {exc}") from None
    raw = data.get("stacks") if isinstance(data, dict) else data
    if not isinstance(raw, list) or not raw:
        raise FleetError(f"{path}: expected a non-empty list of stacks (or a 'stacks:' list)")
    entries = [_entry(item, index) for index, item in enumerate(raw)]
    names = Counter(e.stack_name for e in entries)
    duplicates = sorted(n for n, count in names.items() if count > 1)
    if duplicates:
        raise FleetError(f"{path}: two entries map to the same stack: {', '.join(duplicates)}")
    return entries


def _entry(item: Any, index: int) -> FleetEntry:
    where = f"stacks[{index}]"
    if not isinstance(item, dict):
        raise FleetError(f"{where}: expected a mapping, not {type(item).__name__}")
    unknown = sorted(set(item) - set(FleetEntry.__dataclass_fields__))
    if unknown:
        raise FleetError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if bool(item.get("region")) == bool(item.get("endpoint")):
        raise FleetError(f"{where}: give exactly one of region or endpoint")
    task_ids = item.get("task_ids")
    if not isinstance(task_ids, list) or not task_ids:
        raise FleetError(f"{where}: task_ids must be a non-empty list")
    if not isinstance(item.get("project_id"), str):
        raise FleetError(f"{where}: project_id is required")
    location = item.get("region") or re.sub(r"^\w+://", "", str(item["endpoint"]))
    return FleetEntry(
        **{**item, "name": str(item.get("name") or location), "task_ids": tuple(map(str, task_ids))}
    )


# --- sharding ------------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)`` with ``1 <= I <= N``; :class:`ValueError` saying why otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"expected I/N, e.g. 1/3 (shard I of N), not {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"{text}: need 1 <= I <= N (shards are numbered 1 to N)")
    return index, count


def shard_of(stack_name: str, count: int) -> int:
    """The shard (``1..count``) that runs ``stack_name``.

    SHA-256 of the stack name, modulo ``count``: the same on every machine and Python (no
    ``hash()`` salt), and it depends on nothing but the name, so a stack's shard never changes
    when other entries are added, removed or reordered. The price: shards are only as even as the
    hash spreads the names (with few stacks one shard may get none); changing ``N`` moves stacks.
    """
    if count < 1:
        raise ValueError("the shard count must be at least 1")
    digest = hashlib.sha256(stack_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(entries: Sequence[FleetEntry], index: int, count: int) -> list[FleetEntry]:
    """The entries of shard ``index`` of ``count``, in the fleet file's order."""
    return [entry for entry in entries if shard_of(entry.stack_name, count) == index]


# --- one stack ----------------------------------------------------------------------------


@dataclass
class StackResult:
    """How one stack's run ended (also the JSON summary's row)."""

    stack: str
    location: str
    tasks: int
    terminated: int | None
    ok: bool
    outcome: str
    seconds: float
    log: str


@dataclass
class FleetSettings:
    """What every stack run shares."""

    backend_url: str
    action: str
    log_dir: Path
    command: auto.PulumiCommand
    verbose: bool = False
    print_lock: threading.Lock = field(default_factory=threading.Lock)


def make_program(entry: FleetEntry) -> Callable[[], None]:
    """The inline Pulumi program of ``entry``'s stack (the same resource as stacks/__main__.py)."""

    def program() -> None:
        cutover = MigrationTasksStopped(
            "cutover",
            task_ids=list(entry.task_ids),
            project_id=entry.project_id,
            region=entry.region,
            endpoint=entry.endpoint,
            timeout_seconds=entry.timeout_seconds,
        )
        pulumi.export("terminated_ids", cutover.terminated_ids)

    return program


def stack_env(entry: FleetEntry | None, backend_url: str) -> dict[str, str]:
    """Environment of this stack's pulumi processes (the provider process inherits it); without
    an entry, of a pulumi process that only opens the backend."""
    env = dict.fromkeys(LOCATION_ENV, "") | {"PULUMI_BACKEND_URL": backend_url}
    if entry is None:
        return env
    for wanted, target in (
        (entry.access_key_env, "HW_ACCESS_KEY"),
        (entry.secret_key_env, "HW_SECRET_KEY"),
    ):
        if wanted:
            if wanted not in os.environ:
                raise FleetError(f"{entry.stack_name}: ${wanted} is not set")
            env[target] = os.environ[wanted]
    return env


def open_stack(entry: FleetEntry, settings: FleetSettings, work_dir: str) -> auto.Stack:
    """Create or select ``entry``'s stack, with a private work dir for its settings files."""
    project = auto.ProjectSettings(
        name=PROJECT_NAME,
        # The dynamic provider's shim runs $PULUMI_RUNTIME_VIRTUALENV/bin/python: this Python's
        # environment, where this package is installed.
        runtime=auto.ProjectRuntimeInfo(name="python", options={"virtualenv": sys.prefix}),
    )
    return auto.create_or_select_stack(
        stack_name=entry.stack_name,
        project_name=PROJECT_NAME,
        program=make_program(entry),
        opts=auto.LocalWorkspaceOptions(
            work_dir=work_dir,
            project_settings=project,
            env_vars=stack_env(entry, settings.backend_url),
            pulumi_command=settings.command,
        ),
    )


class StackLog:
    """Collects one stack's output in its own file; optionally echoes it with a prefix."""

    def __init__(self, stack: str, settings: FleetSettings) -> None:
        self.path = settings.log_dir / f"{stack}.log"
        self._file: TextIO = self.path.open("w", encoding="utf-8")
        self._prefix = f"[{stack}] "
        self._settings = settings
        self.errors: list[str] = []

    def line(self, text: str) -> None:
        """One line of pulumi output (stdout or stderr)."""
        text = text.rstrip("\n")
        print(text, file=self._file, flush=True)
        if text.strip().startswith("error:"):
            self.errors.append(text.strip())
        if self._settings.verbose:
            with self._settings.print_lock:  # whole lines only: no interleaving mid-line
                print(self._prefix + text, file=sys.stderr, flush=True)

    def close(self) -> None:
        self._file.close()


def run_action(stack: auto.Stack, action: str, log: StackLog) -> tuple[str, int | None]:
    """Run ``action`` on ``stack``; return an outcome text and the number of terminated tasks."""
    streams: dict[str, Any] = {"on_output": log.line, "on_error": log.line, "color": "never"}
    if action == "preview":
        preview = stack.preview(**streams)
        return _changes(preview.change_summary, planned=True), None
    if action == "destroy":
        destroyed = stack.destroy(**streams)
        return _changes(destroyed.summary.resource_changes or {}), None
    if action == "refresh":
        stack.refresh(**streams)
        return "refreshed", _terminated(stack.outputs())
    result = stack.up(**streams)
    return _changes(result.summary.resource_changes or {}), _terminated(result.outputs)


def _changes(summary: Mapping[Any, int], *, planned: bool = False) -> str:
    """Pulumi's own wording ("2 created", "2 to create"); counts include the stack resource."""
    # Keys are OpType (a str enum) or plain strings, depending on the call that produced them.
    moved = {str(getattr(op, "value", op)): n for op, n in summary.items() if n}
    moved.pop("same", None)
    words = {"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced"}
    parts = [
        f"{n} {'to ' + op if planned else words.get(op, op)}" for op, n in sorted(moved.items())
    ]
    return ", ".join(parts) or "no change"


def _terminated(outputs: Mapping[str, auto.OutputValue]) -> int | None:
    value = outputs.get("terminated_ids")
    return len(value.value) if value is not None and value.value is not None else None


def run_entry(entry: FleetEntry, settings: FleetSettings) -> StackResult:
    """Run one stack start to end; every failure becomes a failed result, never an exception."""
    started = time.monotonic()
    log = StackLog(entry.stack_name, settings)
    terminated: int | None = None
    try:
        with tempfile.TemporaryDirectory(prefix=f"{entry.stack_name}-") as work_dir:
            stack = open_stack(entry, settings, work_dir)
            outcome, terminated = run_action(stack, settings.action, log)
        ok = True
    except (auto.errors.CommandError, FleetError) as exc:
        ok, outcome = False, _lock_outcome(str(exc)) or _first_error(log.errors, exc)
        log.line(f"fleet: {settings.action} failed:\n{exc}")
    finally:
        log.close()
    return StackResult(
        stack=entry.stack_name,
        location=entry.location,
        tasks=len(entry.task_ids),
        terminated=terminated,
        ok=ok,
        outcome=outcome,
        seconds=round(time.monotonic() - started, 2),
        log=str(log.path),
    )


def _lock_outcome(text: str) -> str | None:
    """The outcome of a run that met another run's lock on the stack, or None if it did not.

    Said plainly, with the holder, because it is not a fault of this stack: some other machine
    (an overlapping shard, a second CI run) is acting on it right now, and nothing was done here.
    """
    if LOCKED not in text:
        return None
    # Only what follows "created by": the lock's URL before it may carry backend parameters.
    holder = re.search(r"created by (.+?)\s*$", text, re.MULTILINE)
    who = holder[1] if holder else "another pulumi process"
    return f"failed: locked by another run ({who}); not run here"


def _first_error(errors: Sequence[str], exc: Exception) -> str:
    """A one-line reason for the table (the full story is in the stack's log)."""
    lines = list(errors) or [ln.strip() for ln in str(exc).splitlines() if "error:" in ln]
    # Pulumi adds generic follow-up errors (the program's monitor shutting down, "update
    # failed"); the resource's own diagnostic is the one that says what to fix.
    specific = [ln for ln in lines if not any(g in ln for g in GENERIC_ERRORS)] or lines
    reason = specific[0] if specific else (str(exc).strip().splitlines() or ["unknown error"])[0]
    reason = reason.removeprefix("error:").strip()
    # "...resource 'cutover': property task_ids value {[...]} has a problem: <why>": keep <why>.
    reason = reason.split(" has a problem: ", 1)[-1]
    return "failed: " + reason[:200]


# --- the fleet ----------------------------------------------------------------------------


BACKEND_OPEN_ATTEMPTS = 3


def open_backend(settings: FleetSettings) -> None:
    """Open the state backend once before any stack does (``pulumi whoami``).

    Pulumi creates a PostgreSQL backend's table on first use with ``CREATE TABLE IF NOT
    EXISTS``, which is not safe against itself: parallel stacks opening a fresh table fail with
    "duplicate key value violates unique constraint" (measured: 1 of 16 stacks). Opening it
    here first, and retrying when another machine (a shard) creates it at the same moment, keeps
    that race away from the stacks. A backend that cannot be opened at all is a
    :class:`FleetError` before anything runs.
    """
    project = auto.ProjectSettings(name=PROJECT_NAME, runtime="python")
    failure: Exception | None = None
    with tempfile.TemporaryDirectory(prefix="fleet-backend-") as work_dir:
        workspace = auto.LocalWorkspace(
            work_dir=work_dir,
            project_settings=project,
            env_vars=stack_env(None, settings.backend_url),
            pulumi_command=settings.command,
        )
        for attempt in range(BACKEND_OPEN_ATTEMPTS):
            try:
                # whoami opens the backend (creating its table); `stack ls` would too, but on a
                # PostgreSQL backend holding four stacks or more it hangs (pulumi v3.274.1).
                workspace.who_am_i()
                return
            except auto.errors.CommandError as exc:
                failure = exc
            time.sleep(0.5 * (attempt + 1))  # let the other opener finish creating the table
    raise FleetError(f"cannot open the state backend: {_first_error([], failure or Exception())}")


def run_fleet(
    entries: Sequence[FleetEntry], settings: FleetSettings, parallel: int
) -> list[StackResult]:
    """Run every entry, at most ``parallel`` at once; results in the fleet file's order."""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="fleet") as pool:
        return list(pool.map(lambda entry: _announced(entry, settings), entries))


def _announced(entry: FleetEntry, settings: FleetSettings) -> StackResult:
    def say(message: str) -> None:
        with settings.print_lock:
            print(f"fleet: {entry.stack_name}: {message}", file=sys.stderr, flush=True)

    say(f"{settings.action} started ({entry.location})")
    result = run_entry(entry, settings)
    say(f"{'ok' if result.ok else 'FAILED'} in {result.seconds:.1f}s ({result.outcome})")
    return result


def summary_table(
    results: Sequence[StackResult], action: str, seconds: float, *, shard: str | None = None
) -> Table:
    """The one table a run ends with (``shard``: the ``I/N`` it ran, if any)."""
    failed = sum(not r.ok for r in results)
    what = f"fleet {action}" + (f" (shard {shard})" if shard else "")
    table = Table(
        title=f"{what}: {len(results) - failed}/{len(results)} stacks ok in {seconds:.1f}s"
    )
    for column in ("stack", "region", "tasks", "terminated", "outcome", "duration"):
        table.add_column(column, justify="right" if column in ("tasks", "duration") else "left")
    for r in results:
        table.add_row(
            r.stack,
            r.location,
            str(r.tasks),
            "-" if r.terminated is None else str(r.terminated),
            Text(r.outcome, style="" if r.ok else "red"),
            f"{r.seconds:.1f}s",
        )
    return table


# --- environment ----------------------------------------------------------------------------


def backend_url(state_dir: Path = DEFAULT_STATE_DIR) -> str:
    """``PULUMI_BACKEND_URL``, or a file backend under ``state_dir`` (created)."""
    url = os.environ.get("PULUMI_BACKEND_URL")
    if url:
        return url
    backend = (state_dir / "fleet-backend").resolve()
    backend.mkdir(parents=True, exist_ok=True)
    return f"file://{backend}"


def pulumi_command() -> auto.PulumiCommand:
    """The pulumi CLI beside this Python (a venv made by ``make setup``), else ``pulumi`` on PATH."""
    beside = Path(sys.prefix) / "bin" / "pulumi"
    return auto.PulumiCommand(root=sys.prefix) if beside.exists() else auto.PulumiCommand()


def check_environment() -> None:
    """DIY backends encrypt with a passphrase; without one every stack would fail the same way."""
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and not os.environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        raise FleetError("set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)")


def default_log_dir(state_dir: Path = DEFAULT_STATE_DIR) -> Path:
    """``.state/fleet-logs/<time>``."""
    return state_dir / "fleet-logs" / time.strftime("%Y%m%d-%H%M%S")
