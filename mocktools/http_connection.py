"""The engine-agnostic handle to a request's client connection, found at `environ["mocktools.connection"]`.

The app (faults, vLLM stream truncation, body limits) acts on the connection only through this
handle, so it works the same on every HTTP engine.
"""
from __future__ import annotations

from collections.abc import Callable
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


class PacedChunks:
    """Yielded by a streamed body where it may yield `Pause`: send each of `chunks` at its own
    time, then step the body on. The engine's driver keeps the schedule, so a paced stream's
    tokens cost no step of the body each (1,000 streams at 50 tokens/s are 50,000 sends a
    second on one loop thread; stepping the body's generators for each was half the loop's
    Python). It is the schedule a body yielding `Pause` and bytes would keep:

    - ``gaps[i]``: chunk i is due that many seconds after the one due before it (``start``, the
      deadline the first gap counts from); None: it goes with the chunk before it, no wait.
    - a chunk sent more than ``late`` times its gap after its time moves the times after it by
      that lateness (a backlog is never sent at once, which a client sees as 0 ms gaps);
    - ``sent[k]``: when the k-th timed chunk went out (``clock`` seconds); ``index``: how many
      chunks went out; ``stopped``: the train ended early, because ``stop()`` (asked each time
      the engine resumes it) or ``gone()`` (asked when a wait was cut short) said so;
    - waits longer than ``poll`` are cut, and ``inline`` promises what `Pause(inline=True)`
      promises about the body's step after the train.
    """

    __slots__ = ("chunks", "clock", "cut", "deadline", "due", "gaps", "gone", "index", "inline", "late", "poll",
                 "sent", "stop", "stopped")

    def __init__(self, chunks: list[bytes], gaps: list[float | None], start: float, *,
                 clock: Callable[[], float], late: float = 1.0, poll: float = float("inf"),
                 stop: Callable[[], bool] | None = None, gone: Callable[[], bool] | None = None,
                 inline: bool = False) -> None:
        self.chunks, self.gaps, self.clock = chunks, gaps, clock
        self.late, self.poll, self.stop, self.gone, self.inline = late, poll, stop, gone, inline
        self.cut = False  # the last wait was cut at `poll`
        self.deadline = start  # the time of the last timed chunk (re-anchored when it went late)
        first = gaps[0] if gaps else None
        self.due: float | None = None if first is None else start + first  # chunk `index`'s time
        self.index = 0
        self.sent: list[float] = []
        self.stopped = False


class Suspend:
    """Yielded by a body running on the engine's loop thread (an inline route) instead of a
    `Pause`: send nothing until the suspend's owner calls `resume()`, then go on, on the loop.

    Yield it only where `can_suspend(environ)` says so (the asyncio engine, in a step on its
    loop; the werkzeug engine and a worker step cannot, and answer a body that does 500). The
    owner calls `resume()` from the loop thread, once; a resume that comes before the engine
    took the suspend is kept, so the body goes on at once. If the client goes away or the server
    stops meanwhile, the engine closes the body instead (its `finally` runs on the loop, so it
    must not block either). Like a Pause it may come before `start_response`."""

    __slots__ = ("_waker", "resumed")

    def __init__(self) -> None:
        self._waker: Callable[[], Any] | None = None
        self.resumed = False

    def resume(self) -> None:
        """The awaited event happened (loop thread): the engine steps the body on."""
        self.resumed = True
        waker, self._waker = self._waker, None
        if waker is not None:
            waker()

    def bind(self, waker: Callable[[], Any], call_soon: Callable[[Callable[[], Any]], Any]) -> None:
        """The engine's side: call `waker` on `resume()` (through `call_soon` if that came first)."""
        if self.resumed:
            call_soon(waker)
        else:
            self._waker = waker

    def unbind(self) -> None:
        """The engine gave up on the body (client gone, server stopping): a late resume is a no-op."""
        self._waker = None


class Deferred:
    """A handler's answer that is known only later (it waits for calls of its own on the loop).

    A route that runs inline may return one when `can_suspend(environ)`: the listener then
    suspends the request until `resolve(answer)` (anything a handler may return) or `fail(exc)`
    is called on the loop thread, then journals and answers it exactly as a response returned at
    once (a failure is translated as a raising handler's: a `WireError` to its shape, anything
    else to a 500 kept for `check()`).
    `cancel()` tells the owner nobody takes the answer any more (the server stops): it should
    end its work without answering."""

    __slots__ = ("_callbacks", "_on_cancel", "done", "error", "value")

    def __init__(self, on_cancel: Callable[[], Any] | None = None) -> None:
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self._callbacks: list[Callable[[], Any]] = []
        self._on_cancel = on_cancel

    def resolve(self, value: Any) -> None:
        self._settle(value, None)

    def fail(self, error: BaseException) -> None:
        self._settle(None, error)

    def _settle(self, value: Any, error: BaseException | None) -> None:
        if self.done:
            return
        self.done, self.value, self.error = True, value, error
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def then(self, callback: Callable[[], Any]) -> None:
        """Call `callback()` once settled (now, if it already is)."""
        if self.done:
            callback()
        else:
            self._callbacks.append(callback)

    def cancel(self) -> None:
        on_cancel, self._on_cancel = self._on_cancel, None
        self._callbacks.clear()
        if on_cancel is not None and not self.done:
            on_cancel()


def can_suspend(environ: dict[str, Any]) -> bool:
    """Whether the body of this request, running now, may yield `Suspend` (or its handler return
    a `Deferred`): only a step on the asyncio engine's loop thread."""
    return bool(getattr(environ.get(CONNECTION_KEY), "suspendable", False))


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
    "Deferred",
    "Pause",
    "Suspend",
    "abort_connection",
    "can_pause",
    "can_suspend",
    "client_alive",
    "close_after_response",
    "connection_of",
]
