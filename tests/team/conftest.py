"""A throwaway PostgreSQL server for the whole session, started with ``scripts/postgres.sh``.

The script installs PostgreSQL from Debian's packages when it is missing, so a fresh CI machine
needs no extra step; if it cannot, the fixture fails (never skips) with the script's output.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SH = REPO / "scripts" / "postgres.sh"
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
