"""Throwaway state servers for the whole session: PostgreSQL and an S3 API server.

PostgreSQL is started with ``scripts/postgres.sh``, which installs it from Debian's packages when
it is missing, so a fresh CI machine needs no extra step; if it cannot, the fixture fails (never
skips) with the script's output. The S3 server is moto's (``moto_server``, from the dev lock):
a real HTTP server speaking the S3 REST API, which Pulumi's S3 backend talks to as it would to
AWS S3 or Huawei OBS.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]

from dcs_simulator.testing import poll_until

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SH = REPO / "scripts" / "postgres.sh"
MOTO_SERVER = REPO / ".venv" / "bin" / "moto_server"
S3_REGION = "us-east-1"
# apt-get on a fresh machine can take minutes; a start on an installed one takes ~1 s.
START_TIMEOUT = 900.0


@dataclass(frozen=True)
class PostgresServer:
    """A running cluster: its base URL (no ``table``) and where its files are."""

    url: str
    directory: Path

    def backend_url(self, table: str) -> str:
        """The Pulumi backend URL storing state in ``table`` (one table per test: isolation)."""
        return f"{self.url}&table={table}"

    def query(self, sql: str) -> list[list[str]]:
        """Rows of ``sql`` as lists of text columns, through psql (a real client, not pulumi)."""
        # psql does not understand pulumi's `table` parameter; the base URL has none.
        proc = subprocess.run(
            ["psql", self.url, "-Atq", "-F", "\t", "-c", sql],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return [line.split("\t") for line in proc.stdout.splitlines() if line]


def free_port() -> int:
    """A TCP port that was free a moment ago (the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(POSTGRES_SH), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Start a private cluster on a free loopback port; stop it and delete its files at the end."""
    # Not pytest's tmp_path: its parent is 0700 root-owned, and the server runs as `postgres`.
    directory = Path(tempfile.mkdtemp(prefix="dcs-pg-"))
    started = _run_script("start", str(directory), str(free_port()), timeout=START_TIMEOUT)
    if started.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(
            "scripts/postgres.sh could not provide a PostgreSQL server "
            f"(exit {started.returncode}):\n{started.stderr}",
            pytrace=False,
        )
    try:
        yield PostgresServer(started.stdout.strip().splitlines()[-1], directory)
    finally:
        _run_script("stop", str(directory), timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


# --- S3 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    """A running S3 API server on loopback: its endpoint, and a real S3 client (boto3) for it."""

    endpoint: str
    log: Path

    # Fake keys: the server accepts any signature, but the clients still sign with them, so the
    # requests are the ones a real S3-compatible store (OBS, MinIO, AWS) would receive.
    ACCESS_KEY = "AKIDS3TESTFAKEKEY000"
    SECRET_KEY = "s3-test-secret-not-a-real-one"

    def backend_url(self, bucket: str) -> str:
        """Pulumi's backend URL for ``bucket`` (path style, plain http on loopback)."""
        return f"s3://{bucket}?endpoint={self.endpoint}&s3ForcePathStyle=true&region={S3_REGION}"

    @property
    def env(self) -> dict[str, str]:
        """What a pulumi process needs to reach the server, and nothing that reaches further."""
        return {
            "AWS_ACCESS_KEY_ID": self.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY,
            "AWS_REGION": S3_REGION,
            # No credential or region lookups beyond the variables above (no instance metadata
            # endpoint, no ~/.aws files of whoever runs the tests).
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            # The Go SDK asks for response checksums on reads and warns on every read when none
            # comes back (pulumi writes its objects without one); only validate when required.
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
            "NO_PROXY": "127.0.0.1",
        }

    def client(self) -> Any:
        """A boto3 S3 client for the server (an independent reader of what pulumi stored)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=S3_REGION,
            aws_access_key_id=self.ACCESS_KEY,
            aws_secret_access_key=self.SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def create_bucket(self, name: str) -> str:
        """A new bucket (one per test: isolation); returns its name."""
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in ``bucket`` under ``prefix`` (all pages)."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of ``bucket``, listed and read back: all that the store holds."""
        return {key: self.read(bucket, key) for key in self.keys(bucket)}


# werkzeug (moto's server) logs this once its socket is bound; with port 0 it names the real port.
SERVING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


def _serving_at(log: Path) -> str | None:
    """The endpoint the server logged it listens on, or None while it has not yet."""
    found = SERVING.search(log.read_text(errors="replace")) if log.exists() else None
    return found[1] if found else None


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto's S3 server as a subprocess on loopback; stopped (and its files removed) at the end.

    Port 0: the kernel picks a free port as the server binds it, and the server's log names it,
    so no other process can take the port between choosing and binding it.
    """
    directory = Path(tempfile.mkdtemp(prefix="dcs-s3-"))
    log = directory / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MOTO_SERVER), "--host", "127.0.0.1", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        poll_until(
            lambda: proc.poll() is not None or _serving_at(log) is not None,
            bool,
            timeout=60,
            interval=0.05,
            what="moto_server to listen",
        )
        endpoint = _serving_at(log)
        if proc.poll() is not None or endpoint is None:
            pytest.fail(
                f"moto_server exited ({proc.returncode}) before serving:\n{log.read_text()}",
                pytrace=False,
            )
        server = S3Server(endpoint, log)
        server.client().list_buckets()  # it speaks S3, not merely TCP
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)
