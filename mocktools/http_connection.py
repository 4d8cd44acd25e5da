"""The engine-agnostic handle to a request's client connection, found at `environ["mocktools.connection"]`.

The app (faults, vLLM stream truncation, body limits) acts on the connection only through this
handle, so it works the same on every HTTP engine.
"""
from __future__ import annotations

from typing import Any, Protocol

CONNECTION_KEY = "mocktools.connection"


class ConnectionAborted(Exception):
    """Raised by the app after it dropped the connection on purpose (an injected network fault)."""


class Pause:
    """Yielded by a streamed body instead of sleeping: send nothing for `seconds`, then go on.

    Yield it only where the connection's `alive` probe says `pausable` (the asyncio engine, which
    turns it into a loop timer so a paced stream holds no thread while it waits).

    `inline=True` promises that the body's next step never blocks (it only builds and yields
    bytes), so the engine may resume it on its loop thread rather than hand it to a worker."""

    __slots__ = ("inline", "seconds")

    def __init__(self, seconds: float, *, inline: bool = False) -> None:
        self.seconds = seconds
        self.inline = inline


def can_pause(client_alive: object) -> bool:
    """Whether the body may yield `Pause` (the engine resumes it) instead of sleeping itself."""
    return bool(getattr(client_alive, "pausable", False))


class ClientConnection(Protocol):
    def abort(self, kind: str) -> None:
        """Break the connection now: `reset` (TCP RST), `close` (FIN, no response) or `garbage`."""

    def close_after_response(self) -> None:
        """Do not keep this connection alive after the current response."""

    def alive(self) -> bool:
        """False once the client has gone away."""


def connection_of(environ: dict[str, Any]) -> ClientConnection | None:
    conn = environ.get(CONNECTION_KEY)
    return conn  # type: ignore[no-any-return]


def abort_connection(environ: dict[str, Any], kind: str) -> None:
    """Drop the client connection as a broken network would, then stop the app (ConnectionAborted)."""
    conn = connection_of(environ)
    if conn is not None:
        conn.abort(kind)
    raise ConnectionAborted(kind)


def close_after_response(environ: dict[str, Any]) -> None:
    conn = connection_of(environ)
    if conn is not None:
        conn.close_after_response()


def client_alive(environ: dict[str, Any]) -> bool:
    conn = connection_of(environ)
    return True if conn is None else conn.alive()


__all__ = [
    "CONNECTION_KEY",
    "ClientConnection",
    "ConnectionAborted",
    "Pause",
    "abort_connection",
    "can_pause",
    "client_alive",
    "close_after_response",
    "connection_of",
]
