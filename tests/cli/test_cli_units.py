"""The command line's pieces: progress rendering (and a real pseudo-terminal run), id parsing,
masking, exit-code mapping, help and pydoc."""

from __future__ import annotations

import errno
import io
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from dcs_simulator import RunningSimulator
from pulumi_dcs_migration.cli import ExitCode, cli
from pulumi_dcs_migration.cli.app import error_exit_code, read_ids, status_filter
from pulumi_dcs_migration.cli.output import LONG_TABLE, flatten, print_outcomes
from pulumi_dcs_migration.cli.progress import (
    LiveView,
    plain_line,
    progress_reporter,
    render_progress,
)
from pulumi_dcs_migration.clock import SYSTEM_CLOCK
from pulumi_dcs_migration.engine import Outcome, ProgressEvent, TaskOutcome
from pulumi_dcs_migration.errors import (
    AuthenticationError,
    ConfigurationError,
    DcsProtocolError,
    DcsTransportError,
    InvalidTaskIdError,
)
from pulumi_dcs_migration.redact import MASK, mask_secrets

from ..conftest import SimulatorFactory
from .helpers import SCRIPT, sim_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

A = "c13c87c9-d57a-44db-8701-680e6a12e240"
B = "d4251718-a032-4eee-b364-5d8e5a00d629"


def rendered(renderable: object, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


# --- progress ---------------------------------------------------------------------------------


def test_render_progress_shows_counts_elapsed_and_slowest_pending() -> None:
    pending = tuple((f"{n:032x}", "TERMINATING") for n in range(7))
    event = ProgressEvent(
        terminated=3, total=10, elapsed=12.0, pending=((A, "INCRMIGEATING"), *pending)
    )
    text = rendered(render_progress(event, 10, 12.4, limit=5))
    assert "3/10 stopped" in text and "12s elapsed" in text
    assert A in text and "INCRMIGEATING" in text
    assert "and 3 more" in text  # 8 pending, 5 shown
    assert f"{6:032x}" not in text


def test_render_progress_before_the_first_event_and_when_done() -> None:
    assert "sending stop requests" in rendered(render_progress(None, 4, 0.0))
    done = rendered(render_progress(ProgressEvent(4, 4, 2.0, ()), 4, 2.0))
    assert "4/4 stopped" in done and "waiting for" not in done


def test_live_view_ticks_between_events() -> None:
    now = [100.0]
    view = LiveView(2, clock=lambda: now[0])
    view.update(ProgressEvent(1, 2, 0.0, ((B, "TERMINATING"),)))
    now[0] = 107.0
    text = rendered(view)
    assert "1/2 stopped" in text and "7s elapsed" in text and B in text


def test_progress_reporter_plain_lines_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    with progress_reporter(2, console) as report:
        assert report is plain_line
        report(ProgressEvent(1, 2, 3.0, ((A, "TERMINATING"),)))
    assert (
        capsys.readouterr().err.strip() == "1/2 stopped; waiting for c13c87c9... (TERMINATING) (3s)"
    )


def test_progress_reporter_live_on_a_terminal() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    with progress_reporter(2, console) as report:
        report(ProgressEvent(2, 2, 1.0, ()))
    assert "2/2 stopped" in ANSI.sub("", buffer.getvalue())


def _read_pty(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError as exc:  # EIO: the child closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


def test_live_display_in_a_pseudo_terminal(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(stop_delay=1.0)
    ids = sim.admin.create_tasks(3)
    master, slave = pty.openpty()
    env = sim_env(sim, TERM="xterm-256color", COLUMNS="120", LINES="40")
    proc = subprocess.Popen(
        [SCRIPT, "--endpoint", sim.url, "stop", *ids],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    try:
        raw = _read_pty(master, proc, timeout=60)
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    text = ANSI.sub("", raw.decode("utf-8", "replace"))
    assert code == 0, text
    assert "\x1b[" in raw.decode("utf-8", "replace")  # styled: rich saw a terminal
    assert "0/3 stopped" in text and "3/3 stopped" in text and "elapsed" in text
    assert "waiting for" in text and "TERMINATING" in text
    assert all(i in text for i in ids)  # the final table
    assert {sim.admin.task(i)["status"] for i in ids} == {"TERMINATED"}


# --- ids, filters, masking ----------------------------------------------------------------------


def test_read_ids_from_arguments_and_stdin() -> None:
    stdin = io.StringIO(f'\n{B}\n  "{A}"  \n# comment\n{B}  # trailing comment\n')
    assert read_ids([A, "-"], stdin) == [A, B]


def test_read_ids_names_the_bad_id() -> None:
    with pytest.raises(InvalidTaskIdError, match="'x y'"):
        read_ids([A, "x y"])


def test_status_filter_normalises() -> None:
    assert status_filter(["terminated, failed", "Success"]) == {"TERMINATED", "FAILED", "SUCCESS"}
    assert status_filter(["incrmigrating"]) == {"INCRMIGRATING", "INCRMIGEATING"}
    assert status_filter([]) == frozenset()


def test_mask_secrets_everywhere_but_leaves_empty_values() -> None:
    data = {
        "password": "p",
        "source_instance": {"password": "q", "addrs": "a"},
        "list": [{"db_passwd": "r"}, {"auth_token": None}],
        "target_instance": {"password": ""},
    }
    masked = mask_secrets(data)
    assert masked["password"] == MASK and masked["source_instance"] == {
        "password": MASK,
        "addrs": "a",
    }
    assert masked["list"] == [{"db_passwd": MASK}, {"auth_token": None}]
    assert masked["target_instance"] == {"password": ""}
    assert data["password"] == "p"  # a copy


def test_flatten_nested_details() -> None:
    data = {"a": 1, "b": {"c": None, "d": [1, 2]}, "e": [{"f": "x"}], "g": []}
    assert flatten(data) == [("a", "1"), ("b.d", "1, 2"), ("e[0].f", "x")]


# --- exit codes, help, pydoc ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidTaskIdError("x/y"), ExitCode.USAGE),
        (ConfigurationError("no project id"), ExitCode.USAGE),
        (AuthenticationError("list", 401, "APIGW.0301", "bad"), ExitCode.API),
        (DcsTransportError("list", "refused"), ExitCode.API),
        (DcsProtocolError("list", "bad json"), ExitCode.API),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
        (RuntimeError("boom"), ExitCode.UNEXPECTED),
    ],
)
def test_error_exit_codes(error: BaseException, code: ExitCode) -> None:
    assert error_exit_code(error) is code


def test_unreachable_endpoint_exits_3_in_process(
    simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    env = sim_env(simulator)
    # The retries of a refused connection happen as in production, without their real waits.
    monkeypatch.setattr(SYSTEM_CLOCK, "sleep", lambda seconds, cancel=None: None)
    result = CliRunner().invoke(
        cli, ["--endpoint", f"http://127.0.0.1:{port}", "list"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 3
    assert "could not reach the DCS API" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_exit_codes_and_every_command() -> None:
    top = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=False)
    assert top.returncode == 0
    for text in ("Exit codes:", "4  not every task", "HW_ACCESS_KEY", "--ca-bundle", "--insecure"):
        assert text in top.stdout
    assert "--secret-key" not in top.stdout and "--access-key" not in top.stdout
    for command in ("list", "show", "stop", "restart", "delete"):
        sub = subprocess.run(
            [SCRIPT, command, "--help"], capture_output=True, text=True, check=False
        )
        assert sub.returncode == 0 and "Usage: dcs-migration" in sub.stdout


def test_unknown_option_is_usage_error() -> None:
    result = subprocess.run([SCRIPT, "stop", "--nope"], capture_output=True, text=True, check=False)
    assert result.returncode == 2


def test_import_is_silent_and_pydoc_works() -> None:
    code = "import pulumi_dcs_migration.cli, pulumi_dcs_migration.cli.app"
    quiet = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    for module in ("pulumi_dcs_migration.cli", "pulumi_dcs_migration.cli.app"):
        doc = subprocess.run(
            [sys.executable, "-m", "pydoc", module], capture_output=True, text=True, check=False
        )
        assert doc.returncode == 0 and "no Python documentation" not in doc.stdout
        assert "dcs-migration" in doc.stdout


def test_stop_follows_the_pulumi_rules_sync_timeout_below_timeout() -> None:
    """The same check as the Pulumi front ends: the guard's wait fits in the whole wait."""
    where = ["--endpoint", "http://127.0.0.1:9", "--project-id", "0" * 32]
    guard = ["--max-offset", "0", "--sync-timeout", "100", "--timeout", "50"]
    result = CliRunner().invoke(cli, [*where, "stop", A, *guard])
    assert result.exit_code == 2
    assert "--sync-timeout (100) must be less than --timeout (50)" in result.stderr


def test_a_max_offset_too_large_for_a_float_is_checked_not_a_crash() -> None:
    """A whole number is compared as it is: float() of a 400-digit bound raised OverflowError
    in the check, an 'unexpected error' (exit 1) instead of the usual rules."""
    where = ["--endpoint", "http://127.0.0.1:9", "--project-id", "0" * 32]
    guard = ["--max-offset", "9" * 400, "--sync-timeout", "100", "--timeout", "50"]
    result = CliRunner().invoke(cli, [*where, "stop", A, *guard])
    assert result.exit_code == 2, result.stderr
    assert "--sync-timeout (100) must be less than --timeout (50)" in result.stderr


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (["--max-key-difference", "0"], "--max-key-difference needs --max-offset"),
        (["--max-offset", "0", "--max-key-difference", "-1"], "-1 is not in the range x>=0"),
    ],
)
def test_the_key_check_follows_the_pulumi_rules(options: list[str], complaint: str) -> None:
    """--max-key-difference is part of the guard: alone it is refused naming both options."""
    where = ["--endpoint", "http://127.0.0.1:9", "--project-id", "0" * 32]
    result = CliRunner().invoke(cli, [*where, "stop", A, *options])
    assert result.exit_code == 2
    assert complaint in result.stderr


def test_a_long_result_prints_as_aligned_columns_one_row_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Past LONG_TABLE rows the result is plain columns (rich's layout costs ~0.8 s per 1,000
    rows); every task is one line, wide characters included, with the same columns."""
    count = LONG_TABLE + 1
    outcomes = [
        TaskOutcome(f"{n:032x}", Outcome.STOPPED, "TERMINATED", "名前" if n % 2 else "name")
        for n in range(count)
    ]
    print_outcomes(outcomes, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "stop" and lines[1].split() == [
        "task_id",
        "name",
        "status",
        "outcome",
        "observed_at",
        "detail",
    ]
    rows = lines[2:-1]
    assert [r.split()[0] for r in rows] == [o.task_id for o in outcomes]
    assert len({cell_len(r.split("TERMINATED")[0]) for r in rows}) == 1  # aligned in cells
    assert lines[-1] == f"{count} task(s)"
