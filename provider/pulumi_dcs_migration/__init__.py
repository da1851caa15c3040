"""Stop Huawei Cloud DCS data-migration tasks from Pulumi, a command line, or Python.

``MigrationTasksStopped`` (the Pulumi resource) is imported lazily so that the client and the
simulator can be used without loading the Pulumi SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["MigrationTasksStopped", "MigrationTasksStoppedArgs", "__version__"]

if TYPE_CHECKING:
    from .resource import MigrationTasksStopped, MigrationTasksStoppedArgs


def __getattr__(name: str) -> Any:
    if name in ("MigrationTasksStopped", "MigrationTasksStoppedArgs"):
        from . import resource

        return getattr(resource, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
