"""Settings precedence (layers, then HW_*, then HUAWEICLOUD_SDK_*) and endpoint safety.

Precedence is tested through the real environment (monkeypatch), the way users set it.
"""

from __future__ import annotations

import pytest

from dcs_simulator import DEMO_PROJECT_ID
from pulumi_dcs_migration.errors import ConfigurationError
from pulumi_dcs_migration.settings import (
    SETTING_NAMES,
    EnvironmentSettings,
    Layer,
    endpoint_for,
    explicit,
    resolve,
    resolve_location,
    validate_endpoint,
)

PID = DEMO_PROJECT_ID  # any well-formed project id
OTHER_PID = "1" * 32


def test_region_endpoint() -> None:
    assert endpoint_for("cn-north-4") == "https://dcs.cn-north-4.myhuaweicloud.com"
    assert validate_endpoint("http://127.0.0.1:9/") == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "bad",
    [
        "http://example.com",
        "ftp://x",
        "https://u:p@h",
        "https://h/?q=1",
        "nonsense",
        "https://a..b",
        "https://-x.example",
    ],
)
def test_unsafe_endpoints_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        validate_endpoint(bad)
    assert info.value.setting == "endpoint"


def test_http_allowed_on_loopback_only() -> None:
    for ok in ("http://localhost:1", "http://127.0.0.5:1", "http://[::1]:1"):
        validate_endpoint(ok)


@pytest.mark.parametrize("bad", ["cn north", "CN-NORTH-4", "cn-north-4/../x"])
def test_bad_region(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        endpoint_for(bad)


def test_precedence_layers_then_hw_then_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "sdkak")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "sdksk")
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", PID)
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION", "eu-west-101")
    s = resolve()
    assert s.credentials.access_key == "sdkak" and s.project_id == PID
    assert s.credentials.secret_key is not None
    assert s.credentials.secret_key.get_secret_value() == "sdksk"
    assert s.endpoint == "https://dcs.eu-west-101.myhuaweicloud.com"

    monkeypatch.setenv("HW_ACCESS_KEY", "hwak")
    monkeypatch.setenv("HW_SECRET_KEY", "hwsk")
    monkeypatch.setenv("HW_REGION_NAME", "cn-north-4")
    s = resolve()
    assert s.credentials.access_key == "hwak"
    assert s.endpoint == "https://dcs.cn-north-4.myhuaweicloud.com"

    config = Layer({"access_key": "confak", "secret_key": "confsk", "project_id": OTHER_PID})
    s = resolve(explicit(access_key="argak", secret_key="argsk"), config)
    assert s.credentials.access_key == "argak" and s.project_id == OTHER_PID
    assert "hwsk" not in repr(s) and "argsk" not in repr(s) and "confsk" not in repr(s)
    assert resolve(config).credentials.access_key == "confak"


def test_an_endpoint_wins_over_a_region_of_the_same_level_and_says_so() -> None:
    location = resolve_location(
        Layer({"project_id": PID, "region": "cn-north-4", "endpoint": "http://127.0.0.1:9"}),
    )
    assert location.base_url == "http://127.0.0.1:9" and location.region is None
    assert location.ignored_region is not None and location.ignored_region.value == "cn-north-4"


def test_the_more_specific_level_decides_between_region_and_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An endpoint left in the shell (a simulator) must not redirect a stack set to a region.
    monkeypatch.setenv("HW_DCS_ENDPOINT", "http://127.0.0.1:9")
    config = Layer({"project_id": PID, "region": "cn-north-4"}, lambda s: f"dcs:{s}", "config")
    location = resolve_location(config)
    assert location.base_url == "https://dcs.cn-north-4.myhuaweicloud.com"
    assert location.ignored_region is None
    # ... and an explicit endpoint beats a region from the environment, silently.
    monkeypatch.delenv("HW_DCS_ENDPOINT")
    monkeypatch.setenv("HW_REGION_NAME", "cn-north-4")
    location = resolve_location(explicit(project_id=PID, endpoint="http://127.0.0.1:9"))
    assert location.base_url == "http://127.0.0.1:9" and location.ignored_region is None


def test_missing_pieces_are_named_where_they_can_be_set() -> None:
    options = Layer({}, {"project_id": "--project-id", "region": "--region"}.get, "option")
    with pytest.raises(
        ConfigurationError, match="project id: set --project-id, project_id or HW_PROJECT_ID / "
    ):
        resolve(options, explicit(region="cn-north-4"))
    with pytest.raises(ConfigurationError, match="region or endpoint") as info:
        resolve(explicit(project_id=PID))
    assert info.value.setting == "region"
    with pytest.raises(ConfigurationError, match="32 lower-case hex"):
        resolve(explicit(project_id="nope", region="cn-north-4"))
    creds = resolve(explicit(project_id=PID, region="cn-north-4")).credentials
    assert not creds.present
    with pytest.raises(ConfigurationError, match="HW_ACCESS_KEY"):
        creds.auth(PID)


def test_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_DCS_INSECURE_SKIP_VERIFY", "banana")
    with pytest.raises(ConfigurationError, match="HW_DCS_INSECURE_SKIP_VERIFY"):
        resolve(explicit(project_id=PID, region="cn-north-4"))


@pytest.mark.parametrize("variable", ["HW_SECURITY_TOKEN", "HW_AUTH_TOKEN", "HW_SECRET_KEY"])
def test_a_credential_with_a_control_character_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    secret = "a-temporary-token-value-0123456789"
    monkeypatch.setenv(variable, secret + "\r")
    with pytest.raises(ConfigurationError) as info:
        resolve(explicit(project_id=PID, region="cn-north-4"))
    assert variable in str(info.value) and secret not in str(info.value)


def test_tls_the_first_layer_that_says_anything_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    where = explicit(project_id=PID, region="cn-north-4")
    monkeypatch.setenv("HW_DCS_INSECURE_SKIP_VERIFY", "true")
    assert resolve(where).verify is False
    assert resolve(explicit(insecure_skip_verify=False), where).verify is True
    monkeypatch.delenv("HW_DCS_INSECURE_SKIP_VERIFY")
    assert resolve(where).verify is True


def test_every_setting_has_an_environment_variable() -> None:
    assert set(SETTING_NAMES) == set(EnvironmentSettings.model_fields)
