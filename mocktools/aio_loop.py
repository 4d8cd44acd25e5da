"""Which event loop runs the asyncio engine: the stdlib's selector loop, or uvloop (libuv, in C).

The engine's protocol code is the same on both and both pass the same tests. The stdlib's loop
is the default: uvloop's C reads, writes and callbacks did not clearly win under wrk here (vLLM
chat completions at 16 connections, 8 alternating runs each: 5,383 vs 5,221 req/s, 179 vs 180 us
of server CPU per request; issue 15), the app's own Python being most of a request.
`MOCKTOOLS_EVENT_LOOP=uvloop` (or `AsyncHTTPServer(loop="uvloop")`) picks uvloop when installed
(`pip install mocktools[uvloop]`).
"""
from __future__ import annotations

import asyncio
import os
from typing import Any

LOOP_ENV = "MOCKTOOLS_EVENT_LOOP"
LOOPS = ("asyncio", "uvloop")

try:
    import uvloop
except ImportError:  # optional (mocktools[uvloop])
    uvloop = None  # type: ignore[assignment]

DEFAULT_LOOP = "asyncio"


def resolve_loop(name: str | None = None) -> str:
    """The loop to use: the one named, else `$MOCKTOOLS_EVENT_LOOP`, else the stdlib's."""
    chosen = (name or os.environ.get(LOOP_ENV) or DEFAULT_LOOP).strip().lower()
    if chosen not in LOOPS:
        raise ValueError(f"unknown event loop {chosen!r}; known: {', '.join(LOOPS)}")
    if chosen == "uvloop" and uvloop is None:
        raise ValueError("event loop 'uvloop' is not installed (pip install mocktools[uvloop])")
    return chosen


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new loop of the kind `resolve_loop` named (not set as the thread's current loop)."""
    if name == "uvloop":
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


def running_loop_kind(loop: Any) -> str:
    """"uvloop" or "asyncio" for a loop made by `new_event_loop` (for reports and tests)."""
    return "uvloop" if uvloop is not None and isinstance(loop, uvloop.Loop) else "asyncio"


__all__ = ["DEFAULT_LOOP", "LOOPS", "LOOP_ENV", "new_event_loop", "resolve_loop", "running_loop_kind"]
