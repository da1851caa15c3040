"""The wire models accept what the real API sends (reference section 2.16)."""

from pulumi_dcs_migration.models import (
    BatchResultResponse,
    ListMigrationTasksResponse,
    MigrationTask,
    Phase,
    is_valid_task_id,
    parse_error_body,
    phase_of,
)


def test_list_accepts_numbers_nulls_extra_fields_and_timestamps() -> None:
    page = ListMigrationTasksResponse.model_validate(
        {
            "count": 2,
            "migration_tasks": [
                {
                    "task_id": "a276c1ffa0a54c2597fc824b917db317",
                    "task_name": "m1",
                    "status": "INCRMIGEATING",
                    "created_at": "2021-06-16T06:12:55.508Z",
                    "error_message": None,
                    "version": 6.0,
                    "brand_new_field": {"x": 1},
                    "supported_features": ["a"],
                },
                {
                    "task_id": "b21989ec-2889-4b8e-99db-19c073425ec2",
                    "status": "SUCCESS",
                    "released_at": 202404011057,
                },
            ],
        }
    )
    first, second = page.migration_tasks
    assert first.status == "INCRMIGEATING"  # kept as sent, misspelling included
    assert first.version == "6.0" and first.error_message is None
    assert second.released_at == "202404011057"


def test_details_example_with_password_hidden_in_repr() -> None:
    task = MigrationTask.model_validate(
        {
            "task_id": "a276c1ffa0a54c2597fc824b917db317",
            "task_name": "dcs-migration",
            "status": "TERMINATING",
            "created_at": "2019/10/22 14:44:30",
            "bandwidth_limit_mb": 100,
            "source_instance": {
                "addrs": "192.168.1.1:6379",
                "password": "redis-pass",
                "proxy_multi_db": False,
            },
            "backup_files": {
                "file_source": "self_build_obs",
                "files": [{"file_name": "a.rdb", "size": 1024}],
            },
        }
    )
    assert task.bandwidth_limit_mb == "100"
    assert task.backup_files is not None and task.backup_files.files is not None
    assert task.backup_files.files[0].size == "1024"
    assert "redis-pass" not in repr(task)


def test_batch_results_mixed() -> None:
    resp = BatchResultResponse.model_validate(
        {
            "migration_tasks": [
                {"task_id": "a", "result": "success"},
                {
                    "task_id": "b",
                    "result": "failed",
                    "error_code": "DCS.4026",
                    "error_msg": "x",
                    "error_ext_msg": None,
                },
            ]
        }
    )
    assert [r.succeeded for r in resp.migration_tasks] == [True, False]


def test_phases() -> None:
    assert phase_of("INCRMIGEATING") is Phase.RUNNING
    assert phase_of("INCRMIGRATING") is Phase.RUNNING
    assert phase_of("TERMINATING") is Phase.STOPPING
    assert phase_of("TERMINATED") is Phase.TERMINATED
    for status in ("SUCCESS", "FAILED", "MIGRATION_FAILED", "RELEASED", "ERROR"):
        assert phase_of(status) is Phase.FINISHED
    assert phase_of("DELETED") is Phase.GONE
    assert phase_of("SOMETHING_NEW") is Phase.UNKNOWN
    assert phase_of(None) is Phase.UNKNOWN


def test_error_body_variants() -> None:
    assert parse_error_body({"error_code": "DCS.4855", "error_msg": "bad id"}) == (
        "DCS.4855",
        "bad id",
    )
    assert parse_error_body({"errorCode": "X.1", "errorMsg": "m"}) == ("X.1", "m")
    assert parse_error_body({"code": "APIGW.0308", "message": "slow"}) == ("APIGW.0308", "slow")
    assert parse_error_body(
        {"error_code": "APIGW.0301", "error_message": "sig", "status_code": 401}
    ) == ("APIGW.0301", "sig")
    assert parse_error_body({"error": {"code": "Y.2", "message": "nested"}}) == ("Y.2", "nested")
    assert parse_error_body({"error_code": 111400063, "error_msg": "n"}) == ("111400063", "n")
    assert parse_error_body({"nothing": 1}) == (None, None)
    assert parse_error_body(["not", "a", "dict"]) == (None, None)


def test_task_id_validation() -> None:
    assert is_valid_task_id("b21989ec-2889-4b8e-99db-19c073425ec2")
    assert is_valid_task_id("a276c1ffa0a54c2597fc824b917db317")
    for bad in (
        "",
        "../x",
        "a/b",
        "a?b=1",
        "a#b",
        "a%2F",
        "a b",
        "ünï",
        "-lead",
        "a" * 65,
        None,
        5,
    ):
        assert not is_valid_task_id(bad)
