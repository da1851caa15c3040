"""``pulumi-resource-dcs-migration``: the provider plugin process.

The engine starts the executable with its own address as the first argument and reads the port
of our gRPC server from the first line of stdout. Three things differ from
``pulumi.provider.experimental.server.main``:

* errors the provider raises on purpose (:class:`~.provider.PluginError`) reach the CLI as their
  message alone; anything else keeps its traceback (that is a bug worth reporting);
* the provider writes its progress to the engine (the resource's own row);
* the process exits when the CLI that started it goes away, even if the CLI was killed
  (``SIGKILL`` leaves no chance to say goodbye): a watchdog notices the orphaning.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

from .. import __version__
from .engine_log import EngineLog
from .provider import MigrationTasksProvider, PluginError

WATCH_INTERVAL = 0.5
"""Seconds between two checks that the CLI is still there."""

Handler = Callable[[Any, Any, Any], Awaitable[Any]]


def _undecorated(method: Handler) -> Handler:
    """The SDK's handler without its wrapper (which appends a traceback to every error)."""
    closure = getattr(method, "__closure__", None) or ()
    inner = [c.cell_contents for c in closure if asyncio.iscoroutinefunction(c.cell_contents)]
    return inner[0] if len(inner) == 1 else method


def _clean_errors(name: str) -> Handler:
    """A handler showing a :class:`PluginError` as its message, anything else with a traceback."""
    inner = _undecorated(getattr(ProviderServicer, name))

    async def handler(self: ProviderServicer, request: Any, context: Any) -> Any:
        try:
            return await inner(self, request, context)
        except PluginError as exc:
            await context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        except Exception as exc:
            # A bug: keep the story for the report.
            await context.abort(grpc.StatusCode.UNKNOWN, f"{exc}\n{traceback.format_exc()}")

    handler.__name__ = name
    return handler


class Servicer(ProviderServicer):
    """The SDK's servicer, with purposeful errors shown as their message alone."""

    Check = _clean_errors("Check")
    Diff = _clean_errors("Diff")
    Create = _clean_errors("Create")
    Update = _clean_errors("Update")
    Read = _clean_errors("Read")
    Delete = _clean_errors("Delete")
    CheckConfig = _clean_errors("CheckConfig")


def watch_parent(interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Exit when our parent (the pulumi CLI) is gone: we were re-parented."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            threading.Event().wait(interval)
            if os.getppid() != parent:
                os._exit(0)  # no one is left to talk to

    thread = threading.Thread(target=watch, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


async def serve(engine_address: str | None) -> None:
    """Serve the provider until the engine stops us."""
    provider = MigrationTasksProvider(EngineLog(engine_address))
    server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
    servicer = Servicer(sys.argv[1:], __version__, provider, engine_address=engine_address or "")
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    await server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


def main() -> None:
    """Entry point of ``pulumi-resource-dcs-migration``."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    engine_address = args[0] if args else None
    watch_parent()
    with contextlib.suppress(KeyboardInterrupt):  # the engine's own Ctrl-C reaches us too
        asyncio.run(serve(engine_address))
