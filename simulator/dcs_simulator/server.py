"""Run the simulator in-process: uvicorn on a background thread, on a socket bound up front
so the URL (and a ``port=0`` choice) is known before the first request."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

import uvicorn

from .admin_client import SimulatorAdmin
from .app import SimulatorApp
from .config import SimulatorConfig
from .faults import FaultPlan
from .state import Clock, SimulatorState
from .throttle import Throttle

STARTUP_TIMEOUT = 15.0
SHUTDOWN_TIMEOUT = 15.0


class RunningSimulator:
    """A simulator serving on :attr:`url`; stop it with :meth:`stop` or a ``with`` block."""

    def __init__(
        self,
        config: SimulatorConfig,
        state: SimulatorState,
        server: uvicorn.Server,
        thread: threading.Thread,
        url: str,
        bind_url: str | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.url = url
        self.bind_url = bind_url or url
        """The address actually bound (``http://0.0.0.0:PORT`` for all interfaces); :attr:`url`
        is the form to connect to."""
        self.admin = SimulatorAdmin(url)
        self._server = server
        self._thread = thread

    @property
    def faults(self) -> FaultPlan:
        """The live fault plan (the admin API is the portable way to change it)."""
        app = self._server.config.app
        assert isinstance(app, SimulatorApp)
        return app.faults

    @property
    def throttle(self) -> Throttle:
        """The live throttle (the admin API is the portable way to change it)."""
        app = self._server.config.app
        assert isinstance(app, SimulatorApp)
        return app.throttle

    @property
    def loopback_only(self) -> bool:
        """True when the simulator listens on a loopback address only."""
        return is_loopback_host(self.config.host)

    def stop(self) -> None:
        """Shut the server down and wait for its thread; safe to call twice."""
        self._server.should_exit = True
        self._thread.join(SHUTDOWN_TIMEOUT)
        self.admin.close()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningSimulator(url={self.url!r})"


def start_simulator(
    config: SimulatorConfig | None = None, *, clock: Clock = time.time
) -> RunningSimulator:
    """Start a simulator for ``config`` (defaults if ``None``); returns once it is listening.

    ``clock`` (epoch seconds) is what task lifecycles are computed from: a test can hand in a
    virtual clock (see :class:`dcs_simulator.testing.VirtualClock`) to make runs deterministic.
    """
    config = config or SimulatorConfig()
    state = SimulatorState(config, clock)
    app = SimulatorApp(state)
    if config.access_log:
        enable_access_log()
    sock = _bind(config.host, config.port)
    server = uvicorn.Server(_uvicorn_config(app, config))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="dcs-simulator", daemon=True
    )
    thread.start()
    _wait_started(server, thread)
    url, bind_url = _url(config.host, sock), _bind_url(config.host, sock)
    if config.tls_certfile:
        url = "https" + url.removeprefix("http")
        bind_url = "https" + bind_url.removeprefix("http")
    return RunningSimulator(config, state, server, thread, url, bind_url)


def enable_access_log(stream: TextIO | None = None) -> None:
    """Make the ``dcs_simulator.access`` logger print INFO lines (to stderr unless ``stream``),
    unless someone already gave it a handler. Idempotent."""
    logger = logging.getLogger("dcs_simulator.access")
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _uvicorn_config(app: SimulatorApp, config: SimulatorConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        # uvicorn's own access log would be silent at log level "warning"; the app logs each
        # request itself when config.access_log is set (see SimulatorApp).
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        backlog=4096,
        ssl_certfile=config.tls_certfile,
        ssl_keyfile=config.tls_keyfile,
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every keep-alive answer waits ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"  # reachable form of "all interfaces"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _bind_url(host: str, sock: socket.socket) -> str:
    """The bound address as a URL, all-interfaces addresses included (for banners)."""
    port = sock.getsockname()[1]
    host = host or "0.0.0.0"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the simulator's server thread exited during startup")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the simulator did not start listening in time")
        time.sleep(0.005)
