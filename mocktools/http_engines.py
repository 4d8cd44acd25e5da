"""Which HTTP server runs a mock's WSGI app: the one place an engine is chosen by name.

Every HTTP listener builds its server through `make_http_server`, so a new engine is added here
and nowhere else. A server returned here binds and listens in its constructor and offers
`port`, `serve_until_stopped()`, `wake()`, `close_connections()` and `server_close()`.

Engines: `asyncio` (the default: one event loop thread parsing with httptools, the app on an
elastic worker pool, so idle connections cost no thread; on the stdlib's loop, or on uvloop
with `MOCKTOOLS_EVENT_LOOP=uvloop`, see aio_loop) and `werkzeug` (a thread per
connection). `MOCKTOOLS_HTTP_ENGINE` picks the default for mocks that name none.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from . import http_framing
from .http_framing import ServerLimits

ENGINES = ("asyncio", "werkzeug")
DEFAULT_ENGINE = "asyncio"
ENGINE_ENV = "MOCKTOOLS_HTTP_ENGINE"


class HTTPServer(Protocol):
    port: int

    def serve_until_stopped(self) -> None: ...

    def wake(self) -> None: ...

    def close_connections(self) -> None: ...

    def server_close(self) -> None: ...


def resolve_engine(engine: str | None = None) -> str:
    """The engine to use: the one named, else `$MOCKTOOLS_HTTP_ENGINE`, else the default."""
    name = (engine or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE).strip().lower()
    if name not in ENGINES:
        raise ValueError(f"unknown HTTP engine {name!r}; known: {', '.join(ENGINES)}")
    return name


def make_http_server(host: str, port: int, app: Callable[..., Any], *, verbose: bool = False,
                     engine: str | None = None, limits: ServerLimits | None = None,
                     inline: Callable[[dict[str, Any]], bool] | None = None, shared_loop: Any = None) -> HTTPServer:
    """Bind `host:port` (0 picks a free port) and return the server, not yet serving.

    `shared_loop`, when given, is a running asyncio loop of another thread that the asyncio
    engine serves this server on, beside others (`aio_server.AsyncHTTPServer`); werkzeug ignores it.

    `inline(environ)`, when given, tells an engine with an event loop that this request never
    blocks, so it may run the app on the loop thread instead of handing it to a worker (the
    werkzeug engine ignores it).

    `limits` defaults to `mocktools.http_framing.DEFAULT_LIMITS`, read at each call, so a test
    session may assign its own `ServerLimits` there for every mock it starts afterwards."""
    name = resolve_engine(engine)
    limits = limits if limits is not None else http_framing.DEFAULT_LIMITS
    if name == "werkzeug":
        from .wsgi_server import MockWSGIServer

        return MockWSGIServer(host, port, app, verbose=verbose, limits=limits)
    from .aio_server import AsyncHTTPServer

    return AsyncHTTPServer(host, port, app, verbose=verbose, limits=limits, inline=inline, shared_loop=shared_loop)


__all__ = ["DEFAULT_ENGINE", "ENGINES", "ENGINE_ENV", "HTTPServer", "make_http_server", "resolve_engine"]
