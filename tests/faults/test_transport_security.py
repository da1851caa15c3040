"""TLS verification (on by default, custom CA, explicit opt-out) and clock-skew reporting."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import httpx
import pytest

from dcs_simulator import RunningSimulator
from pulumi_dcs_migration.auth import AkSkAuth, sdk_date
from pulumi_dcs_migration.client import DcsClient
from pulumi_dcs_migration.errors import AuthenticationError, ConfigurationError, DcsTransportError
from pulumi_dcs_migration.policy import RetryPolicy
from pulumi_dcs_migration.settings import resolve

from ..conftest import SimulatorFactory

NO_RETRY = RetryPolicy(attempts=1)


@pytest.fixture
def tls_sim(simulator_factory: SimulatorFactory, tls_files: tuple[Path, Path]) -> RunningSimulator:
    cert, key = tls_files
    return simulator_factory(tls_certfile=str(cert), tls_keyfile=str(key))


def env_for(monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator, **extra: str) -> None:
    """Point the real environment at ``sim`` (precedence is tested the way users set it)."""
    cfg = sim.config
    for name in ("HW_DCS_CA_BUNDLE", "HW_DCS_INSECURE_SKIP_VERIFY", "HW_REGION_NAME"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "HW_ACCESS_KEY": cfg.access_key,
        "HW_SECRET_KEY": cfg.secret_key,
        "HW_PROJECT_ID": cfg.project_id,
        "HW_DCS_ENDPOINT": sim.url,
        **extra,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_verification_is_on_by_default(
    tls_sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_sim.url.startswith("https://")
    env_for(monkeypatch, tls_sim)
    settings = resolve()
    assert settings.verify is True
    with pytest.raises(DcsTransportError, match="could not reach"):
        DcsClient.from_settings(settings, retry=NO_RETRY).list_tasks()


def test_custom_ca_bundle(
    tls_sim: RunningSimulator, tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    env_for(monkeypatch, tls_sim, HW_DCS_CA_BUNDLE=str(tls_files[0]))
    settings = resolve()
    assert settings.verify == str(tls_files[0])
    with DcsClient.from_settings(settings) as client:
        assert client.list_tasks().count == 0
    with pytest.raises(ConfigurationError, match="CA bundle"):
        env_for(monkeypatch, tls_sim, HW_DCS_CA_BUNDLE="/nonexistent/ca.pem")
        resolve()


def test_turning_verification_off_is_explicit_and_loud(
    tls_sim: RunningSimulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_for(monkeypatch, tls_sim, HW_DCS_INSECURE_SKIP_VERIFY="true")
    settings = resolve()
    assert settings.verify is False
    with caplog.at_level(logging.WARNING), DcsClient.from_settings(settings) as client:
        assert client.list_tasks().count == 0
    assert "TLS certificate verification is OFF" in caplog.text


class SkewedAuth(AkSkAuth):
    """Signs as a machine whose clock is ``offset`` off would."""

    def __init__(self, access_key: str, secret_key: str, *, offset: dt.timedelta) -> None:
        super().__init__(access_key, secret_key)
        self.offset = offset

    def sign(self, request: httpx.Request) -> None:
        request.headers["X-Sdk-Date"] = sdk_date(dt.datetime.now(dt.UTC) + self.offset)
        super().sign(request)


@pytest.mark.parametrize(("minutes", "direction"), [(-20, "behind"), (17, "ahead of")])
def test_clock_skew_is_reported(simulator: RunningSimulator, minutes: int, direction: str) -> None:
    cfg = simulator.config
    auth = SkewedAuth(cfg.access_key, cfg.secret_key, offset=dt.timedelta(minutes=minutes))
    client = DcsClient(simulator.url, cfg.project_id, auth, retry=NO_RETRY)
    # The skew is the server's Date minus our (offset) X-Sdk-Date, both in whole seconds. The
    # server answers between these two moments, however long the call takes; its Date header
    # is refreshed once a second (uvicorn), so it may lag the answer by a second or so.
    before = dt.datetime.now(dt.UTC).timestamp()
    with pytest.raises(AuthenticationError) as info:
        client.list_tasks()
    after = dt.datetime.now(dt.UTC).timestamp()
    skew = info.value.clock_skew
    assert skew is not None
    assert -2 <= skew + minutes * 60 <= (after - before) + 1
    assert f"minutes {direction} the API's" in str(info.value) and "NTP" in str(info.value)


def test_no_skew_note_when_keys_are_simply_wrong(simulator: RunningSimulator) -> None:
    cfg = simulator.config
    client = DcsClient(
        simulator.url, cfg.project_id, AkSkAuth(cfg.access_key, "wrong"), retry=NO_RETRY
    )
    with pytest.raises(AuthenticationError) as info:
        client.list_tasks()
    assert "NTP" not in str(info.value) and "check the access key" in str(info.value)
