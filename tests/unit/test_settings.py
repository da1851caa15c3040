"""Settings precedence and endpoint safety."""

import pytest

from pulumi_dcs_migration.errors import ConfigurationError
from pulumi_dcs_migration.settings import endpoint_for, resolve

PID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def test_region_endpoint() -> None:
    assert endpoint_for("cn-north-4") == "https://dcs.cn-north-4.myhuaweicloud.com"
    assert endpoint_for("cn-north-4", "http://127.0.0.1:9/") == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "bad", ["http://example.com", "ftp://x", "https://u:p@h", "https://h/?q=1", "nonsense"]
)
def test_unsafe_endpoints_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        endpoint_for(None, bad)


def test_http_allowed_on_loopback_only() -> None:
    for ok in ("http://localhost:1", "http://127.0.0.5:1", "http://[::1]:1"):
        endpoint_for(None, ok)


@pytest.mark.parametrize("bad", ["cn north", "CN-NORTH-4", "cn-north-4/../x", ""])
def test_bad_region(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        endpoint_for(bad, None) if bad else endpoint_for(None, None)


def test_precedence_argument_then_hw_then_sdk() -> None:
    env = {
        "HW_ACCESS_KEY": "hwak",
        "HW_SECRET_KEY": "hwsk",
        "HUAWEICLOUD_SDK_AK": "sdkak",
        "HUAWEICLOUD_SDK_SK": "sdksk",
        "HUAWEICLOUD_SDK_PROJECT_ID": PID,
        "HW_REGION_NAME": "cn-north-4",
    }
    s = resolve(environ=env)
    assert s.credentials.access_key == "hwak" and s.project_id == PID
    assert s.endpoint == "https://dcs.cn-north-4.myhuaweicloud.com"
    s = resolve(
        environ={k: v for k, v in env.items() if not k.startswith("HW_")}, region="eu-west-101"
    )
    assert s.credentials.access_key == "sdkak"
    assert (
        s.credentials.secret_key is not None
        and s.credentials.secret_key.get_secret_value() == "sdksk"
    )
    s = resolve(environ=env, access_key="argak", secret_key="argsk")
    assert s.credentials.access_key == "argak"
    assert "hwsk" not in repr(s) and "argsk" not in repr(s)


def test_missing_pieces_are_named() -> None:
    with pytest.raises(ConfigurationError, match="project id"):
        resolve(environ={}, region="cn-north-4")
    with pytest.raises(ConfigurationError, match="region or endpoint"):
        resolve(environ={}, project_id=PID)
    with pytest.raises(ConfigurationError, match="32 lower-case hex"):
        resolve(environ={}, project_id="nope", region="cn-north-4")
    creds = resolve(environ={}, project_id=PID, region="cn-north-4").credentials
    assert not creds.present
    with pytest.raises(ConfigurationError, match="HW_ACCESS_KEY"):
        creds.auth(PID)
