"""What every listener is: one bound socket of a mock, opened and closed by the lifecycle.

A mock is a list of listeners plus its domain. `MockServerBase._open` opens them in order and
closes the ones already open when a later one fails; `_close` closes them in reverse. Each
listener binds on the caller's thread (so `start()` returns once the port listens), raises
`MockStartError` when it cannot, and applies the mock's journal, fault plan and handler-error
capture for its transport (see http.py, grpc.py, tcp.py).
"""
from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import MockStartError

if TYPE_CHECKING:
    from ..lifecycle import MockServerBase


def url_host(host: str) -> str:
    """The host to put in a URL: wildcard binds are reached through loopback."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def bind_error(host: str, port: int, exc: BaseException | None = None, what: str = "") -> MockStartError:
    """The one clear error for a port that cannot be bound (every listener raises it)."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        reason = "is already in use"
    elif isinstance(exc, OSError):
        reason = f"cannot be bound ({exc.strerror or exc})"
    else:  # gRPC says only that it failed
        reason = "is already in use or cannot be bound" + (f" ({exc})" if exc is not None else "")
    prefix = f"{what} " if what else ""
    return MockStartError(f"{prefix}{url_host(host)}:{port} {reason}", host=host, port=port)


def serve_in_thread(target: Callable[[], Any], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True, name=name)
    thread.start()
    return thread


class Listener:
    """One socket of a mock; `role` names it in `mock.endpoints()` ("url", "grpc", "admin")."""

    scheme: ClassVar[str] = "http"

    def __init__(self, mock: MockServerBase, *, port: int = 0, host: str | None = None,
                 role: str = "url") -> None:
        self.mock = mock
        self.host = mock.host if host is None else host
        self.requested_port = int(port)
        self.role = role
        self._port = int(port)
        self._open = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def target(self) -> str:
        """`host:port`, what a client dials."""
        return f"{url_host(self.host)}:{self._port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.target}"

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> int:
        """Bind, start serving in the background, return the bound port."""
        self._port = self.bind_and_serve()
        self._open = True
        return self._port

    def close(self) -> None:
        """Stop serving, close every connection, join every thread, free the port."""
        if not self._open:
            return
        try:
            self.shutdown()
        finally:
            self._open = False
            self._port = self.requested_port

    # -- what a transport implements ---------------------------------------------------------
    def bind_and_serve(self) -> int:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.role} {self.url}{'' if self._open else ' closed'}>"


__all__ = ["Listener", "bind_error", "serve_in_thread", "url_host"]
