"""Drive the dynamic provider over gRPC exactly as the Pulumi engine does (no CLI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import grpc
from google.protobuf import struct_pb2  # type: ignore[import-untyped]  # protobuf: no hints
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from pulumi_dcs_migration.resource import MigrationTasksStoppedProvider

URN = "urn:pulumi:test::dcs-migration::pulumi-python:dynamic/dcs:MigrationTasksStopped::cutover"


def to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    return asyncio.run(rpc.serialize_properties(props, {}))


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct, True))


class ProviderProcess:
    """``python -u -m pulumi.dynamic`` in a subprocess, with a stub connected to it."""

    def __init__(self, env: dict[str, str]) -> None:
        full_env = {**os.environ, "PULUMI_PROJECT": "dcs-migration", **env}
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            text=True,
        )
        assert self.proc.stdout is not None
        port = self.proc.stdout.readline().strip()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.provider = serialize_provider(MigrationTasksStoppedProvider())

    def close(self) -> str:
        self.channel.close()
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        return err

    def _with_provider(self, props: dict[str, Any]) -> dict[str, Any]:
        return {**props, "__provider": self.provider}

    def configure(self, config: dict[str, str]) -> None:
        self.stub.Configure(
            provider_pb2.ConfigureRequest(args=to_struct(config), acceptSecrets=False)
        )

    def check(
        self, news: dict[str, Any], olds: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        resp = self.stub.Check(
            provider_pb2.CheckRequest(
                urn=URN,
                olds=to_struct(self._with_provider(olds or {})),
                news=to_struct(self._with_provider(news)),
            )
        )
        return from_struct(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, olds: dict[str, Any], news: dict[str, Any]) -> provider_pb2.DiffResponse:
        resp: provider_pb2.DiffResponse = self.stub.Diff(
            provider_pb2.DiffRequest(
                id="x",
                urn=URN,
                olds=to_struct(self._with_provider(olds)),
                news=to_struct(self._with_provider(news)),
            )
        )
        return resp

    def create(self, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resp = self.stub.Create(
            provider_pb2.CreateRequest(urn=URN, properties=to_struct(self._with_provider(props)))
        )
        return resp.id, from_struct(resp.properties)

    def update(self, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        resp = self.stub.Update(
            provider_pb2.UpdateRequest(
                id="x",
                urn=URN,
                olds=to_struct(self._with_provider(olds)),
                news=to_struct(self._with_provider(news)),
            )
        )
        return from_struct(resp.properties)

    def read(self, id_: str, props: dict[str, Any]) -> provider_pb2.ReadResponse:
        resp: provider_pb2.ReadResponse = self.stub.Read(
            provider_pb2.ReadRequest(
                id=id_, urn=URN, properties=to_struct(self._with_provider(props))
            )
        )
        return resp

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.stub.Delete(
            provider_pb2.DeleteRequest(
                id=id_, urn=URN, properties=to_struct(self._with_provider(props))
            )
        )
