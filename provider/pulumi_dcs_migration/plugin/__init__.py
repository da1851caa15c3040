"""``pulumi-resource-dcs-migration``: the provider plugin process.

The engine starts the executable with its own address as the first argument and reads the port
of our gRPC server from the first line of stdout. Three things differ from
``pulumi.provider.experimental.server.main``:

* errors the provider raises on purpose (:class:`~..errors.OperationFailed`) reach the CLI as
  their message alone; anything else keeps its traceback (that is a bug worth reporting);
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
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2_grpc

from .. import __version__
from ..errors import OperationFailed
from .engine_log import EngineLog
from .provider import MigrationTasksProvider

WATCH_INTERVAL = 0.5
"""Seconds between two checks that the CLI is still there."""

GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024)]
"""The engine may send large states; the SDK's own server allows 400 MiB too."""


def purposeful(exc: BaseException) -> OperationFailed | None:
    """The :class:`OperationFailed` behind ``exc``, if any.

    The SDK's servicer re-raises every error as a plain ``Exception`` with a traceback appended
    (``raise Exception(...)`` inside its ``except``): Python keeps the original as the new
    exception's ``__context__``, which is where we find ours.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OperationFailed):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


class Servicer(ProviderServicer):
    """The SDK's servicer, with purposeful errors shown as their message alone."""


def _clean(name: str) -> Callable[..., Awaitable[Any]]:
    """The SDK's public handler ``name``, a purposeful error shown as its message alone."""
    handle = getattr(ProviderServicer, name)

    async def handler(self: ProviderServicer, request: Any, context: Any) -> Any:
        try:
            return await handle(self, request, context)
        except Exception as exc:
            failure = purposeful(exc)
            if failure is None:
                raise  # a bug: the SDK's message keeps the traceback for the report
            await context.abort(grpc.StatusCode.UNKNOWN, str(failure))

    handler.__name__ = name
    return handler


for _name in ("CheckConfig", "Check", "Diff", "Create", "Update", "Read", "Delete"):
    setattr(Servicer, _name, _clean(_name))


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
    server = grpc.aio.server(options=GRPC_OPTIONS)
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
