"""An httpx transport whose every socket operation ends by the request's deadline.

httpx's timeouts bound each read, not a whole answer: a server sending a byte a second (in its
headers or its body) holds a request for as long as it likes. This transport is httpx's own
shape (an :class:`httpx.BaseTransport` over an httpcore connection pool), built with httpcore's
public ``network_backend`` argument: a backend whose streams cap every read, write and TLS
handshake at the time left before the deadline that :meth:`DeadlineTransport.bounded` sets for
the calling thread. Nothing private of httpx or httpcore is touched.

Proxies come from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, read with the
standard library as httpx reads them) for an https endpoint only: a plain-http endpoint (a
loopback simulator) is always reached directly, so signed requests never cross a proxy in clear.
"""

from __future__ import annotations

import contextlib
import contextvars
import ssl
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from .clock import Clock

_DEADLINE: contextvars.ContextVar[tuple[float, Clock] | None] = contextvars.ContextVar(
    "dcs_socket_deadline", default=None
)


# httpcore's errors as httpx's (the client and its callers only know httpx's), most specific
# first, as httpx's own transport maps them.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the current deadline; raises once past it."""
    bound = _DEADLINE.get()
    if bound is None:
        return timeout
    at, clock = bound
    left = at - clock.now()
    if left <= 0:
        raise error("the deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    """httpcore's synchronous backend, its connections bounded by the deadline."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _capped(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            super().connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _capped(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(super().connect_unix_socket(path, timeout, socket_options))


class _Body(httpx.SyncByteStream):
    """httpcore's response body, its errors as httpx's."""

    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def environment_proxy(url: httpx.URL) -> httpx.Proxy | None:
    """The proxy the environment names for an https ``url`` (``None``: direct)."""
    if url.scheme != "https" or urllib.request.proxy_bypass(url.host):
        return None
    proxies = urllib.request.getproxies()
    found = proxies.get("https") or proxies.get("all")
    return httpx.Proxy(found) if found else None


class DeadlineTransport(httpx.BaseTransport):
    """httpx's transport shape over an httpcore pool whose sockets obey the deadline."""

    def __init__(
        self,
        *,
        clock: Clock,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        self.clock = clock
        pool: dict[str, Any] = {
            "ssl_context": ssl_context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": _DeadlineBackend(),
        }
        self.connections = (
            httpcore.ConnectionPool(**pool)
            if proxy is None
            else httpcore.HTTPProxy(proxy_url=str(proxy.url), proxy_auth=proxy.raw_auth, **pool)
        )

    @contextlib.contextmanager
    def bounded(self, at: float | None) -> Iterator[None]:
        """Every socket operation of this thread inside the block ends by ``at`` (on the clock)."""
        token = _DEADLINE.set(None if at is None else (at, self.clock))
        try:
            yield
        finally:
            _DEADLINE.reset(token)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool (httpx's own conversion, with public types)."""
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = self.connections.handle_request(core)
        assert isinstance(answer.stream, Iterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self.connections.close()
