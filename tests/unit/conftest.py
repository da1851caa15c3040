"""Unit tests start from an environment without any Huawei Cloud setting."""

from __future__ import annotations

import pytest

from pulumi_dcs_migration.settings import EnvironmentSettings


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every variable a setting is read from (``HW_*``, ``HUAWEICLOUD_SDK_*``)."""
    for field in EnvironmentSettings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", None)
        assert choices, f"{field}: read from no listed variable, so none can be unset"
        for alias in choices:
            monkeypatch.delenv(str(alias), raising=False)
