"""``lifecycle.plan``, the convergence rule, read as a table: what a diff shows and what an update
stops, given the state (``olds``), the checked inputs (``news``) and what a look read (``now``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pulumi_dcs_migration.lifecycle import (
    UNKNOWN,
    Plan,
    Spell,
    camel,
    check_options,
    plan,
    snake,
    stop_options,
)

A = "c13c87c9-d57a-44db-8701-680e6a12e240"
B = "d4251718-a032-4eee-b364-5d8e5a00d629"
C = "77927c7d-94e2-4598-a632-54c8056aad10"
D = "b21989ec-2889-4b8e-99db-19c073425ec2"
PID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
ENDPOINT = "https://dcs.cn-north-4.example.com"

DEFAULTS: dict[str, Any] = {
    "project_id": PID,
    "region": "cn-north-4",
    "timeout_seconds": 600.0,
    "on_finished": "warn",
    "delete_records_on_destroy": False,
}


def inputs(*ids: Any, **changes: Any) -> dict[str, Any]:
    """Checked inputs declaring ``ids``, the defaults overridden by ``changes``."""
    return {**DEFAULTS, "task_ids": list(ids), **changes}


def state(
    *ids: Any, statuses: Mapping[str, str | None] | None = None, **changes: Any
) -> dict[str, Any]:
    """A state (outputs) of ``ids``, each recorded TERMINATED unless ``statuses`` says otherwise."""
    recorded = {t: "TERMINATED" for t in ids if isinstance(t, str)} | dict(statuses or {})
    tasks = [{"task_id": t, "status": s} for t, s in recorded.items()]
    terminated = [t for t, s in recorded.items() if s == "TERMINATED"]
    return {**inputs(*ids, **changes), "tasks": tasks, "terminated_ids": terminated}


ROWS = [
    # --- the declared set -----------------------------------------------------------------------
    pytest.param(state(A, B), inputs(A, B), None, Plan(), id="same ids, all terminated: no change"),
    pytest.param(state(A), inputs(A, C), None, Plan(added=(C,)), id="an added id is to be stopped"),
    pytest.param(state(A, B), inputs(A), None, Plan(removed=(B,)), id="a removed id is left alone"),
    pytest.param(
        state(A, B),
        inputs(D, C),
        None,
        Plan(added=(D, C), removed=(A, B)),
        id="added in the inputs' order, removed in the state's",
    ),
    pytest.param(
        dict(DEFAULTS), inputs(A, B), None, Plan(added=(A, B)), id="a state without ids: all added"
    ),
    pytest.param(
        {**state(A), "task_ids": [A, 7, None]},
        inputs(A),
        None,
        Plan(),
        id="ids in the state that are not strings are ignored",
    ),
    # --- order and repetition -------------------------------------------------------------------
    pytest.param(state(A, B), inputs(B, A), None, Plan(), id="another order is no change"),
    pytest.param(state(A, B), inputs(A, B, A), None, Plan(), id="a repeated input id is no change"),
    pytest.param(
        {**state(A, B), "task_ids": [A, A, B]},
        inputs(A, B),
        None,
        Plan(),
        id="a repeated id in the state is no change",
    ),
    # --- convergence: kept tasks, by what a look read now ----------------------------------------
    pytest.param(
        state(A, B),
        inputs(A, B),
        {A: "INCRMIGEATING"},
        Plan(running=(A,)),
        id="a kept task running now is stopped again",
    ),
    pytest.param(
        state(A, B),
        inputs(B, A),
        {A: "RUNNING", B: "CREATING"},
        Plan(running=(B, A)),
        id="running tasks in the inputs' order",
    ),
    pytest.param(
        state(A, B),
        inputs(A, B),
        {A: "QUANTUM_FLUX"},
        Plan(running=(A,)),
        id="a status never seen counts as running",
    ),
    pytest.param(
        state(A, B),
        inputs(A, B),
        {B: "TERMINATING"},
        Plan(stopping=(B,)),
        id="a kept task stopping now is waited for",
    ),
    pytest.param(
        state(A, B, statuses={A: "INCRMIGEATING"}),
        inputs(A, B),
        {A: "TERMINATED"},
        Plan(),
        id="a look reading terminated wins over a recorded running",
    ),
    pytest.param(
        state(A, B),
        inputs(A, B),
        {A: "TERMINATED", B: "TERMINATED"},
        Plan(),
        id="terminated now: no change",
    ),
    pytest.param(
        state(A, B),
        inputs(A, B),
        {A: "SUCCESS", B: "FAILED"},
        Plan(),
        id="finished on its own now: no change",
    ),
    pytest.param(state(A), inputs(A), {A: "DELETED"}, Plan(), id="deleted now: no change"),
    pytest.param(
        state(A),
        inputs(A, C),
        {A: "TERMINATED", C: "INCRMIGEATING"},
        Plan(added=(C,)),
        id="an added task running now is added, not running",
    ),
    pytest.param(
        state(A, B),
        inputs(A),
        {B: "INCRMIGEATING"},
        Plan(removed=(B,)),
        id="a removed task running now is only removed",
    ),
    # --- convergence: kept tasks, by what the state recorded (no look) ---------------------------
    pytest.param(
        state(A, B, statuses={A: "INCRMIGEATING"}),
        inputs(A, B),
        None,
        Plan(running=(A,)),
        id="a kept task recorded running is stopped again",
    ),
    pytest.param(
        state(A, B, statuses={B: "TERMINATING"}),
        inputs(A, B),
        None,
        Plan(stopping=(B,)),
        id="a kept task recorded stopping is waited for",
    ),
    pytest.param(
        state(A, B, statuses={A: "SUCCESS", B: "RELEASED"}),
        inputs(A, B),
        None,
        Plan(),
        id="a kept task recorded finished: no change",
    ),
    pytest.param(
        state(A, statuses={A: None}),
        inputs(A),
        None,
        Plan(),
        id="a kept task recorded without a status: no change",
    ),
    pytest.param(
        {**state(A, B), "tasks": []},
        inputs(A, B),
        None,
        Plan(),
        id="a kept task missing from the recorded tasks: no change",
    ),
    # --- replacing properties ---------------------------------------------------------------------
    pytest.param(
        state(A),
        inputs(A, project_id="f" * 32),
        None,
        Plan(replaces=("project_id",)),
        id="another project replaces",
    ),
    pytest.param(
        state(A),
        inputs(A, region="ap-southeast-1"),
        None,
        Plan(replaces=("region",)),
        id="another region replaces",
    ),
    pytest.param(
        state(A),
        inputs(A, endpoint=ENDPOINT),
        None,
        Plan(replaces=("endpoint",)),
        id="an endpoint given replaces",
    ),
    pytest.param(
        state(A, endpoint=ENDPOINT),
        inputs(A, endpoint=ENDPOINT + "/"),
        None,
        Plan(replaces=("endpoint",)),
        id="another endpoint replaces",
    ),
    pytest.param(
        state(A, statuses={A: "INCRMIGEATING"}),
        inputs(A, C, project_id="f" * 32, region="ap-southeast-1", endpoint=ENDPOINT),
        None,
        Plan(replaces=("project_id", "region", "endpoint"), added=(C,), running=(A,)),
        id="every replacing property named, with the task changes",
    ),
    # --- options (no API call) --------------------------------------------------------------------
    pytest.param(
        state(A),
        inputs(A, timeout_seconds=60.0),
        None,
        Plan(options=("timeout_seconds",)),
        id="another timeout is an option change",
    ),
    pytest.param(
        state(A),
        inputs(A, on_finished="fail", delete_records_on_destroy=True),
        None,
        Plan(options=("on_finished", "delete_records_on_destroy")),
        id="on_finished and delete_records_on_destroy are option changes",
    ),
    pytest.param(
        state(A),
        inputs(A, max_offset=100, sync_timeout_seconds=60.0),
        None,
        Plan(options=("max_offset", "sync_timeout_seconds")),
        id="turning the cutover guard on is an option change",
    ),
    # --- unknown values (preview) -----------------------------------------------------------------
    pytest.param(
        state(A),
        {**inputs(), "task_ids": UNKNOWN},
        None,
        Plan(unknown=True),
        id="unknown task ids: a change, nothing added or removed",
    ),
    pytest.param(
        state(A),
        inputs(A, UNKNOWN),
        {A: "INCRMIGEATING"},
        Plan(unknown=True),
        id="one unknown id among known ones: a change, no task named",
    ),
    pytest.param(
        state(A),
        {**inputs(region="ap-southeast-1"), "task_ids": UNKNOWN},
        None,
        Plan(replaces=("region",), unknown=True),
        id="unknown task ids keep the property changes",
    ),
    pytest.param(
        state(A),
        inputs(A, project_id=UNKNOWN),
        None,
        Plan(replaces=("project_id",)),
        id="an unknown project replaces",
    ),
    pytest.param(
        state(A),
        inputs(A, timeout_seconds=UNKNOWN),
        None,
        Plan(options=("timeout_seconds",)),
        id="an unknown option is an option change",
    ),
    # --- an empty string is no value --------------------------------------------------------------
    pytest.param(
        state(A, endpoint=""),
        inputs(A),
        None,
        Plan(),
        id="an empty endpoint recorded, none given: no change",
    ),
    pytest.param(
        state(A),
        inputs(A, endpoint=""),
        None,
        Plan(),
        id="no endpoint recorded, an empty one given: no change",
    ),
    pytest.param(
        state(A, region=None),
        inputs(A, region=""),
        None,
        Plan(),
        id="region None recorded, an empty one given: no change",
    ),
    pytest.param(
        state(A, endpoint=""),
        inputs(A, endpoint=ENDPOINT),
        None,
        Plan(replaces=("endpoint",)),
        id="an empty endpoint recorded, a real one given: replaces",
    ),
    pytest.param(
        state(A, max_offset=None),
        inputs(A, max_offset=""),
        None,
        Plan(),
        id="an empty option given for none recorded: no change",
    ),
]


@pytest.mark.parametrize(("olds", "news", "now", "expected"), ROWS)
def test_plan(
    olds: dict[str, Any], news: dict[str, Any], now: dict[str, str | None] | None, expected: Plan
) -> None:
    result = plan(olds, news, now)
    assert result == expected
    assert result.changes is (expected != Plan())


# --- the guard's key check: max_key_difference needs max_offset ---------------------------------


@pytest.mark.parametrize(
    ("given", "spell", "complaint"),
    [
        ({"max_key_difference": 0}, snake, "max_key_difference needs max_offset"),
        ({"max_key_difference": 0}, camel, "maxKeyDifference needs maxOffset"),
        ({"max_offset": 0, "max_key_difference": -1}, camel, "maxKeyDifference must be a whole"),
        ({"max_offset": 0, "max_key_difference": 2.5}, snake, "must be a whole number >= 0"),
        ({"max_offset": 0, "max_key_difference": True}, snake, "must be a whole number >= 0"),
        ({"max_offset": 0, "max_key_difference": "10"}, snake, "not '10'"),
    ],
)
def test_a_bad_key_bound_is_refused_naming_the_input(
    given: dict[str, Any], spell: Spell, complaint: str
) -> None:
    failures = check_options(dict(given), spell)
    assert [f.property for f in failures] == ["max_key_difference"]
    assert complaint in failures[0].message


def test_a_key_bound_with_the_guard_is_taken_whole_and_reaches_the_engine() -> None:
    given: dict[str, Any] = {"max_offset": 0, "max_key_difference": 10.0}
    assert check_options(given, snake) == []
    assert given["max_key_difference"] == 10 and isinstance(given["max_key_difference"], int)
    assert stop_options(given).max_key_difference == 10
    assert stop_options({"max_offset": 0}).max_key_difference is None


def test_an_unknown_key_bound_or_guard_waits_for_its_value() -> None:
    assert check_options({"max_offset": UNKNOWN, "max_key_difference": 0}, snake) == []
    assert check_options({"max_key_difference": UNKNOWN}, snake) == []
