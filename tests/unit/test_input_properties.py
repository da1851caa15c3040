"""Property-based tests: every input of the resource, and every id that could reach a URL."""

from __future__ import annotations

import json
import string
from typing import Any

import httpx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dcs_simulator import DEMO_PROJECT_ID
from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import DcsClient
from pulumi_dcs_migration.errors import InvalidTaskIdError
from pulumi_dcs_migration.lifecycle import INPUT_NAMES
from pulumi_dcs_migration.models import TASK_ID_PATTERN, is_valid_task_id
from pulumi_dcs_migration.resource import MigrationTasksStoppedProvider

INPUT_KEYS = frozenset(INPUT_NAMES)

PID = DEMO_PROJECT_ID  # any well-formed project id
VALID_ID = st.from_regex(TASK_ID_PATTERN, fullmatch=True)
HOSTILE_ID = st.one_of(
    st.text(min_size=0, max_size=80),
    st.text(alphabet="/?#%&=.\\ \t\n\x00;:@+ü€漢", min_size=1, max_size=20),
    VALID_ID.map(lambda s: s + "/../x"),
    VALID_ID.map(lambda s: " " + s),
    VALID_ID.map(lambda s: s + "?limit=1"),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def check(news: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    result = MigrationTasksStoppedProvider().check({}, news)
    return result.inputs, [(f.property, f.reason) for f in result.failures]


input_values = st.fixed_dictionaries(
    {},
    optional={
        "task_ids": st.one_of(st.lists(st.one_of(VALID_ID, HOSTILE_ID), max_size=6), JSON),
        "project_id": st.one_of(st.just(PID), JSON),
        "region": st.one_of(st.sampled_from(["cn-north-4", "eu-west-101"]), JSON),
        "endpoint": st.one_of(st.just("http://127.0.0.1:9"), st.just("http://example.com"), JSON),
        "timeout_seconds": JSON,
        "on_finished": st.one_of(st.sampled_from(["warn", "fail"]), JSON),
        "delete_records_on_destroy": JSON,
        "max_key_difference": JSON,
        "label": JSON,
        "unknown_key": JSON,
    },
)

# Sound inputs, so that the accepted branch below really runs: among ``input_values`` alone an
# input with no failure is about one in ten thousand, and 400 examples never met one.
sound_values = st.fixed_dictionaries(
    {"task_ids": st.lists(VALID_ID, min_size=1, max_size=6), "project_id": st.just(PID)},
    optional={
        "region": st.sampled_from(["cn-north-4", "eu-west-101"]),
        "timeout_seconds": st.integers(1, 86_400) | st.floats(0.5, 86_400),
        "on_finished": st.sampled_from(["warn", "fail"]),
        "delete_records_on_destroy": st.booleans(),
    },
).map(lambda d: d if "region" in d else {**d, "endpoint": "http://127.0.0.1:9"})


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(input_values, sound_values))
def test_check_never_crashes_and_accepts_only_sound_inputs(news: dict[str, Any]) -> None:
    inputs, failures = check(dict(news))
    for prop, reason in failures:
        assert prop in INPUT_KEYS | {"unknown_key", "label"} and reason
    if failures:
        return
    ids = inputs["task_ids"]
    assert isinstance(ids, list) and ids and all(is_valid_task_id(t) for t in ids)
    assert len(set(ids)) == len(ids)
    assert inputs["project_id"] == PID and "unknown_key" not in news
    assert isinstance(inputs["timeout_seconds"], int | float) and inputs["timeout_seconds"] > 0
    assert inputs["on_finished"] in ("warn", "fail")


@settings(max_examples=300, deadline=None)
@given(st.lists(VALID_ID, min_size=0, max_size=5), HOSTILE_ID, st.integers(0, 5))
def test_a_bad_id_is_named_at_its_index(good: list[str], bad: str, where: int) -> None:
    assume(not is_valid_task_id(bad))
    ids = list(dict.fromkeys(good))
    index = min(where, len(ids))
    ids.insert(index, bad)
    _, failures = check({"task_ids": ids, "project_id": PID, "region": "cn-north-4"})
    assert any(p == "task_ids" and f"task_ids[{index}]" in r for p, r in failures), failures


def test_huge_lists_and_wrong_types_are_rejected() -> None:
    many = [f"{i:032x}" for i in range(10_001)]
    _, failures = check({"task_ids": many, "project_id": PID, "region": "cn-north-4"})
    assert failures and "at most 10000" in failures[0][1]
    wrong_types: tuple[object, ...] = (
        "b21989ec-2889-4b8e-99db-19c073425ec2",
        5,
        {"a": 1},
        None,
        [],
    )
    for wrong in wrong_types:
        _, failures = check({"task_ids": wrong, "project_id": PID, "region": "cn-north-4"})
        assert failures and failures[0][0] == "task_ids"


@settings(max_examples=300, deadline=None)
@given(HOSTILE_ID | VALID_ID)
def test_no_request_carries_an_unvalidated_id(task_id: str) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200,
            json={
                "task_id": task_id,
                "status": "TERMINATING",
                "migration_tasks": [{"task_id": task_id, "result": "success"}],
            },
        )

    client = DcsClient(
        "https://dcs.cn-north-4.myhuaweicloud.com",
        PID,
        AkSkAuth("AK", "SK"),
        transport=httpx.MockTransport(record),
    )
    for call in (client.get_task, client.get_stats, lambda t: client.batch_stop([t])):
        try:
            call(task_id)
        except InvalidTaskIdError:
            assert not is_valid_task_id(task_id)
    for request in sent:
        path = request.url.path
        assert set(path) <= set(string.ascii_letters + string.digits + "/-"), path
        assert path.count("/") <= 5 and "?" not in request.url.raw_path.decode()
        if request.content:
            assert all(is_valid_task_id(t) for t in json.loads(request.content)["migration_tasks"])
    assert bool(sent) == is_valid_task_id(task_id)
