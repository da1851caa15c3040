"""The simulator's version and its pin on the product: both the product's one version number."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

VERSION_FILE = Path(__file__).resolve().parent.parent / "provider/pulumi_dcs_migration/__init__.py"


def product_version() -> str:
    """``__version__`` of the product, read as text (the product need not be importable)."""
    found = re.search(r'^__version__ = "([^"]+)"$', VERSION_FILE.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"no __version__ in {VERSION_FILE}")
    return found.group(1)


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        version = product_version()
        metadata["version"] = version
        metadata["dependencies"] = [
            f"pulumi-dcs-migration=={version}",
            *self.config.get("dependencies", []),
        ]
