"""Property-based: hostile task ids and options on the command line never reach the network."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_dcs_migration.cli import cli
from pulumi_dcs_migration.models import is_valid_task_id

# Nothing listens on port 9: had a request been sent, the exit code would be 3 (transport error).
ENV = {
    "HW_ACCESS_KEY": "AK",
    "HW_SECRET_KEY": "SK",
    "HW_PROJECT_ID": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "HW_DCS_ENDPOINT": "http://127.0.0.1:9",
}
HOSTILE = st.one_of(
    st.text(min_size=1, max_size=60),
    st.text(alphabet="/?#%&=.\\ \t;:@+ü€漢", min_size=1, max_size=12),
    st.just("../../etc/passwd"),
    st.just("a" * 65),
).filter(lambda s: not is_valid_task_id(s) and not s.startswith("-"))


@pytest.mark.parametrize("command", [["stop"], ["show"], ["restart"], ["delete", "--yes"]])
@settings(max_examples=60, deadline=None)
@given(bad=HOSTILE)
def test_invalid_ids_are_bad_input_and_never_sent(command: list[str], bad: str) -> None:
    result = CliRunner().invoke(cli, [*command, bad], env=ENV)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "invalid task id" in result.output.lower() or "Invalid value" in result.output


@settings(max_examples=40, deadline=None)
@given(option=st.from_regex(r"--[a-z][a-z-]{2,20}", fullmatch=True))
def test_unknown_options_are_usage_errors(option: str) -> None:
    known = {
        "--endpoint",
        "--region",
        "--project-id",
        "--ca-bundle",
        "--insecure",
        "--version",
        "--help",
        "--json",
        "--wait",
        "--no-wait",
        "--timeout",
        "--strict-finished",
        "--yes",
        "--status",
        "--name",
    }
    if option in known:
        return
    result = CliRunner().invoke(
        cli, ["stop", option, "b21989ec-2889-4b8e-99db-19c073425ec2"], env=ENV
    )
    assert result.exit_code == 2
