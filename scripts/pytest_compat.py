"""A pytest plugin for `make compat`: the plugin tier runs this environment's own plugin.

``tests/plugin/harness.py`` starts ``.venv/bin/pulumi-resource-dcs-migration``, the main dev
environment's executable: under ``.venv-compat`` that would exercise the main environment's pulumi
and httpx, not the lowest versions. Loaded with ``-p scripts.pytest_compat``, this points the
harness at the executable installed beside the running interpreter before any test is collected.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from tests.plugin import harness

    plugin = Path(sys.prefix) / "bin" / "pulumi-resource-dcs-migration"
    if not plugin.is_file():
        raise pytest.UsageError(f"{plugin} is missing: install the product into {sys.prefix}")
    harness.PLUGIN = plugin
