"""The committed schema and SDKs (sdk/schema.json, sdk/nodejs, sdk/python, sdk/go) are what the
provider's rules generate (`make sdk`): CI fails when one of them differs."""

from __future__ import annotations

import subprocess

import pytest

from .project import REPO

pytestmark = pytest.mark.e2e

LANGUAGES = ("nodejs", "python", "go")


def test_the_committed_schema_is_the_providers() -> None:
    schema = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dcs-migration"), "plugin", "schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert (REPO / "sdk" / "schema.json").read_text() == schema, "run `make sdk`"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_sdk_is_what_the_schema_generates(language: str) -> None:
    check = subprocess.run(
        [
            str(REPO / "scripts" / "gen-sdk.sh"),
            "--check",
            str(REPO / "sdk" / "schema.json"),
            language,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"sdk/{language} is up to date" in check.stderr
