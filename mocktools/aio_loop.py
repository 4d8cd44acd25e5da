"""Which event loop runs the asyncio engine: uvloop (libuv, in C) when installed, else the stdlib's.

The engine's protocol code is the same on both; what differs is the loop's own per-event cost
(uvloop's reads, writes and callbacks run in C: about 12 us less server CPU per request under
wrk here, issue 15) and how a finished loop's connections are closed (`close_all`).
`MOCKTOOLS_EVENT_LOOP=asyncio` (or `AsyncHTTPServer(loop="asyncio")`) picks the stdlib loop.
"""
from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable
from typing import Any

LOOP_ENV = "MOCKTOOLS_EVENT_LOOP"
LOOPS = ("uvloop", "asyncio")

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency; a platform without a wheel still serves
    uvloop = None  # type: ignore[assignment]

DEFAULT_LOOP = "uvloop" if uvloop is not None else "asyncio"


def resolve_loop(name: str | None = None) -> str:
    """The loop to use: the one named, else `$MOCKTOOLS_EVENT_LOOP`, else uvloop when installed."""
    chosen = (name or os.environ.get(LOOP_ENV) or DEFAULT_LOOP).strip().lower()
    if chosen not in LOOPS:
        raise ValueError(f"unknown event loop {chosen!r}; known: {', '.join(LOOPS)}")
    if chosen == "uvloop" and uvloop is None:
        raise ValueError("event loop 'uvloop' is not installed (pip install uvloop)")
    return chosen


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new loop of the kind `resolve_loop` named (not set as the thread's current loop)."""
    if name == "uvloop":
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


def close_all(loop: asyncio.AbstractEventLoop, name: str, socks: Iterable[socket.socket | None]) -> None:
    """Close a finished (not running) loop and the accepted sockets of its open connections,
    from any thread. uvloop owns its connections' descriptors and closes them in `loop.close()`;
    the stdlib's loop leaves them to their transports, which will not run again, so each socket
    (the one the server accepted and handed to `connect_accepted_socket`) is closed here."""
    if name == "asyncio":
        for sock in socks:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
    loop.close()


def running_loop_kind(loop: Any) -> str:
    """"uvloop" or "asyncio" for a loop made by `new_event_loop` (for reports and tests)."""
    return "uvloop" if uvloop is not None and isinstance(loop, uvloop.Loop) else "asyncio"


__all__ = ["DEFAULT_LOOP", "LOOPS", "LOOP_ENV", "close_all", "new_event_loop", "resolve_loop", "running_loop_kind"]
