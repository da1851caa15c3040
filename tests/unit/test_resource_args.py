"""MigrationTasksStopped's call forms, as generated Pulumi SDKs accept them."""

from __future__ import annotations

import pulumi
import pytest

from pulumi_dcs_migration.resource import MigrationTasksStoppedArgs, resource_args

IDS = ["b21989ec-2889-4b8e-99db-19c073425ec2"]


def test_keyword_inputs_with_options_positional_or_by_name() -> None:
    opts = pulumi.ResourceOptions(protect=True)
    args, got = resource_args("cutover", (opts,), {"task_ids": IDS, "region": "cn-north-4"})
    assert args == MigrationTasksStoppedArgs(task_ids=IDS, region="cn-north-4") and got is opts
    args, got = resource_args("cutover", (), {"task_ids": IDS, "opts": opts})
    assert args.task_ids == IDS and got is opts


def test_an_args_object_positionally_or_by_name() -> None:
    given = MigrationTasksStoppedArgs(task_ids=IDS, timeout_seconds=60)
    assert resource_args("cutover", (given,), {}) == (given, None)
    opts = pulumi.ResourceOptions()
    assert resource_args("cutover", (given, opts), {}) == (given, opts)
    assert resource_args("cutover", (), {"args": given, "opts": opts}) == (given, opts)


def test_an_unknown_keyword_names_the_known_inputs() -> None:
    with pytest.raises(TypeError) as info:
        resource_args("cutover", (), {"task_ids": IDS, "label": "x", "regoin": "cn-north-4"})
    message = str(info.value)
    assert "label, regoin" in message and "task_ids" in message and "max_offset" in message


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        ((), {}, "needs task_ids"),
        ((MigrationTasksStoppedArgs(task_ids=IDS),), {"region": "x"}, "not both"),
        (("oops",), {"task_ids": IDS}, "unexpected positional"),
        ((), {"args": {"task_ids": IDS}}, "must be a MigrationTasksStoppedArgs"),
        ((), {"task_ids": IDS, "opts": {"protect": True}}, "must be a pulumi.ResourceOptions"),
    ],
)
def test_misuse_is_a_clear_type_error(
    args: tuple[object, ...], kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(TypeError, match=words):
        resource_args("cutover", args, dict(kwargs))
