"""Drive the provider plugin over gRPC exactly as the Pulumi engine does (no CLI).

The plugin runs as its real executable (``pulumi-resource-dcs-migration``) with the address of a
small fake engine that records every ``Log`` call, so the tests see the status lines and
messages the CLI would show on the resource's row.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2  # type: ignore[import-untyped]  # no stubs for protobuf here
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, provider_pb2, provider_pb2_grpc

from pulumi_dcs_migration.plugin.values import plain, wire

PLUGIN = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pulumi-resource-dcs-migration"
TYPE = "dcs-migration:index:MigrationTasksStopped"
URN = f"urn:pulumi:test::plugin-test::{TYPE}::cutover"


@dataclass(frozen=True)
class LogLine:
    """One ``Log`` call the plugin made to the engine."""

    severity: int
    message: str
    urn: str
    ephemeral: bool


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """Records the plugin's log calls; nothing else of the engine is needed by a provider."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []
        self._lock = threading.Lock()
        self.seen_status = threading.Event()

    def Log(self, request: engine_pb2.LogRequest, context: object) -> empty_pb2.Empty:
        with self._lock:
            self.lines.append(
                LogLine(request.severity, request.message, request.urn, request.ephemeral)
            )
        if request.ephemeral:
            self.seen_status.set()
        return empty_pb2.Empty()

    def messages(self, *, ephemeral: bool | None = None) -> list[str]:
        """Messages logged (optionally only the ephemeral status lines, or only the others)."""
        with self._lock:
            return [
                line.message
                for line in self.lines
                if ephemeral is None or line.ephemeral == ephemeral
            ]


def struct(props: Mapping[str, Any]) -> Any:
    """Plain (camelCase) properties as the engine's protobuf Struct."""
    return PropertyValue.marshal_map({k: wire(v) for k, v in props.items()})


def unstruct(value: Any) -> dict[str, Any]:
    """A protobuf Struct back to plain (camelCase) properties."""
    return {k: plain(v) for k, v in PropertyValue.unmarshal_map(value).items()}


class PluginProcess:
    """The plugin executable in a subprocess, a fake engine it logs to, and a stub to call it."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.engine = FakeEngine()
        self._engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self._engine_server)
        engine_port = self._engine_server.add_insecure_port("127.0.0.1:0")
        self._engine_server.start()
        self.proc = subprocess.Popen(
            [str(PLUGIN), f"127.0.0.1:{engine_port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            text=True,
        )
        assert self.proc.stdout is not None
        port = self.proc.stdout.readline().strip()
        assert port.isdigit(), f"the plugin did not print its port: {port!r}"
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def close(self) -> str:
        """Stop the plugin; returns what it wrote on stderr."""
        self.channel.close()
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        self._engine_server.stop(None)
        return err

    def configure(self, config: Mapping[str, Any]) -> None:
        self.stub.Configure(provider_pb2.ConfigureRequest(args=struct(config), acceptSecrets=True))

    def check(
        self, news: Mapping[str, Any], olds: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        resp = self.stub.Check(
            provider_pb2.CheckRequest(urn=URN, olds=struct(olds or {}), news=struct(news))
        )
        return unstruct(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> provider_pb2.DiffResponse:
        response: provider_pb2.DiffResponse = self.stub.Diff(
            provider_pb2.DiffRequest(id="x", urn=URN, olds=struct(olds), news=struct(news))
        )
        return response

    def create(self, props: Mapping[str, Any], *, timeout: float = 0) -> tuple[str, dict[str, Any]]:
        resp = self.stub.Create(
            provider_pb2.CreateRequest(urn=URN, properties=struct(props), timeout=timeout)
        )
        return resp.id, unstruct(resp.properties)

    def update(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        resp = self.stub.Update(
            provider_pb2.UpdateRequest(id="x", urn=URN, olds=struct(olds), news=struct(news))
        )
        return unstruct(resp.properties)

    def read(
        self, id_: str, props: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        resp = self.stub.Read(
            provider_pb2.ReadRequest(
                id=id_, urn=URN, properties=struct(props), inputs=struct(inputs or {})
            )
        )
        return resp.id, unstruct(resp.properties), unstruct(resp.inputs)

    def delete(self, id_: str, props: Mapping[str, Any]) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=URN, properties=struct(props)))

    def cancel(self) -> None:
        self.stub.Cancel(empty_pb2.Empty())


@contextmanager
def plugin(env: Mapping[str, str]) -> Iterator[PluginProcess]:
    """A running plugin, closed afterwards."""
    process = PluginProcess(env)
    try:
        yield process
    finally:
        process.close()
