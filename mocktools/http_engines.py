"""Which HTTP server runs a mock's WSGI app: the one place an engine is chosen by name.

Every HTTP listener builds its server through `make_http_server`, so a new engine is added here
and nowhere else. A server returned here binds and listens in its constructor and offers
`port`, `serve_until_stopped()`, `wake()`, `close_connections()` and `server_close()`.
"""
from __future__ import annotations

from typing import Any, Callable

from .wsgi_server import MockWSGIServer

ENGINES = ("werkzeug",)
DEFAULT_ENGINE = "werkzeug"


def make_http_server(host: str, port: int, app: Callable[..., Any], *, verbose: bool = False,
                     engine: str | None = None) -> MockWSGIServer:
    """Bind `host:port` (0 picks a free port) and return the server, not yet serving."""
    name = engine or DEFAULT_ENGINE
    if name not in ENGINES:
        raise ValueError(f"unknown HTTP engine {name!r}; known: {', '.join(ENGINES)}")
    return MockWSGIServer(host, port, app, verbose=verbose)


__all__ = ["make_http_server", "ENGINES", "DEFAULT_ENGINE"]
