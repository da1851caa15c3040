"""Messages to the Pulumi engine: a resource's own status line, and messages on its row.

The engine's address is the plugin's first argument. ``LogRequest(urn=..., ephemeral=True)`` is
what native providers use for "still creating..." status: the CLI shows it on the resource's
row and drops it when the operation ends. Non-ephemeral messages with a URN appear under the
resource in the diagnostics. Without an engine (tests of the provider class alone), messages go
to stderr.
"""

from __future__ import annotations

import sys
import threading

import grpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

SEVERITY = {
    "info": engine_pb2.INFO,
    "warning": engine_pb2.WARNING,
    "error": engine_pb2.ERROR,
}


class EngineLog:
    """Sends log messages to the engine at ``address`` (or stderr when there is none)."""

    def __init__(self, address: str | None) -> None:
        self._lock = threading.Lock()
        self._stub: engine_pb2_grpc.EngineStub | None = None
        if address:
            channel = grpc.insecure_channel(address)
            self._stub = engine_pb2_grpc.EngineStub(channel)

    def status(self, urn: str, message: str) -> None:
        """The resource's ephemeral status line (replaced by the next one)."""
        self._send("info", urn, message, ephemeral=True)

    def info(self, urn: str, message: str) -> None:
        """A message on the resource's row that stays in the diagnostics."""
        self._send("info", urn, message)

    def warning(self, urn: str, message: str) -> None:
        """A warning attached to the resource."""
        self._send("warning", urn, message)

    def _send(self, severity: str, urn: str, message: str, *, ephemeral: bool = False) -> None:
        if self._stub is None:
            print(f"{severity}: {message}", file=sys.stderr, flush=True)
            return
        request = engine_pb2.LogRequest(
            severity=SEVERITY[severity], message=message, urn=urn, ephemeral=ephemeral
        )
        try:
            with self._lock:
                self._stub.Log(request, timeout=10)
        except grpc.RpcError:
            # The engine is going away (Ctrl-C, a killed CLI): a lost status line is harmless.
            pass
