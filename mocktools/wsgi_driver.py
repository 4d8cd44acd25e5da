"""Runs one WSGI request and frames its response; both engines drive the app through it.

A response with a known Content-Length is buffered and handed to the sink as one write (head and
body together: one syscall, one packet); a streamed response is sent chunk by chunk as the app
yields it, so SSE tokens leave when they are made. A streamed body may yield `Pause(seconds)`
(see http_connection): the blocking driver sleeps, while `RequestRun` returns the pause to its
engine, which resumes the body later (the asyncio engine: a loop timer, so no thread sleeps).
A body stepped on the asyncio engine's loop may yield `Suspend` instead: `step` returns `SUSPEND`
and the engine steps on when the suspend is resumed; a sink that cannot (`suspendable` false:
the werkzeug engine, a worker) answers it 500, as a body that broke the contract.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from .http_connection import ConnectionAborted, PacedChunks, Pause, Suspend
from .http_framing import FramingError, ResponseHead, error_bytes, response_head

_MAX_BUFFER = 1 << 20
#: `RequestRun.step` returns this when the sink is `held` (its client reads slowly): step again
#: once the sink can take more (the asyncio engine's loop side, which must not wait for it)
HOLD = -1.0
#: `RequestRun.step` returns this when the body yielded a `Suspend` (kept in `suspended`)
SUSPEND = -2.0


class Sink(Protocol):
    def send(self, data: bytes, final: bool) -> None:
        """Write bytes to the client; `final` marks the end of this response. Raises
        ConnectionError once the client is gone."""

    @property
    def close_requested(self) -> bool:
        """Whether the app asked (through the connection handle) to close after this response."""

    @property
    def held(self) -> bool:
        """True when the sink took the last bytes but wants no more until its client reads
        (a sink that may not block); `step` then returns `HOLD`."""


class RequestRun:
    """One request through `app`, resumable at each `Pause` its body yields."""

    __slots__ = ("app", "app_iter", "buffered", "close", "close_in", "done", "environ", "head", "head_request",
                 "http10", "iterator", "pause_inline", "pending", "sent", "sink", "started", "state", "suspended",
                 "train", "verbose")

    def __init__(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any], sink: Sink, *,
                 close: bool, http10: bool, verbose: bool = False) -> None:
        self.app, self.environ, self.sink = app, environ, sink
        self.close_in, self.http10, self.verbose = close, http10, verbose
        self.head_request = environ["REQUEST_METHOD"] == "HEAD"
        self.state: list[Any] = [None, None]  # status, headers
        self.head: ResponseHead | None = None
        self.pending: list[bytes] = []
        self.sent = self.buffered = 0
        self.started = False  # bytes of this response reached the sink
        self.app_iter: Iterable[bytes] | None = None
        self.iterator: Iterator[Any] | None = None
        self.done = False
        self.close = True  # whether the connection must close afterwards (valid once done)
        self.pause_inline = False  # the last Pause yielded promised a non-blocking next step
        self.suspended: Suspend | None = None  # the Suspend the body waits on (step returned SUSPEND)
        self.train: PacedChunks | None = None  # the paced chunks being sent (the body waits for them)

    # -- WSGI callables ----------------------------------------------------------------------
    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        if exc_info and self.head is not None:
            raise exc_info[1].with_traceback(exc_info[2])
        self.state[0], self.state[1] = status, headers
        self.environ["mocktools.status"] = status[:3]
        return self.write

    def _begin(self) -> ResponseHead:
        if self.state[0] is None:
            raise RuntimeError("the WSGI app did not call start_response")
        self.head = response_head(self.state[0], self.state[1], head_request=self.head_request,
                                  close=self.close_in or self.sink.close_requested, http10=self.http10)
        self.pending.append(self.head.data)
        return self.head

    def write(self, data: bytes) -> None:
        h = self.head or self._begin()
        if not data or self.head_request or h.length == 0:
            return
        if h.chunked and not self.pending:  # a streamed chunk with nothing before it: framed and sent at once
            self.sent += len(data)
            self.started = True
            self.sink.send(b"%x\r\n%s\r\n" % (len(data), data), False)
            return
        if h.chunked:
            self.pending.extend((b"%x\r\n" % len(data), data, b"\r\n"))
        else:
            self.pending.append(data)
        self.sent += len(data)
        self.buffered += len(data)
        if h.length is None or self.buffered > _MAX_BUFFER:  # streamed: each piece leaves as it is made
            self.buffered = 0
            self._flush(False)

    def _flush(self, final: bool) -> None:
        self.started = True
        data = b"".join(self.pending)
        self.pending.clear()
        self.sink.send(data, final)

    def _flush_streamed(self) -> None:
        """Before a wait: what a streamed response has so far leaves now, its head at least (once
        the app has called start_response: a Pause or Suspend may come before it)."""
        if self.head is None and self.state[0] is not None:
            self._begin()
        if self.pending and self.head is not None and self.head.length is None:
            self._flush(False)

    # -- driving -----------------------------------------------------------------------------
    def step(self) -> float | None:
        """Serve until the body pauses (returns the pause in seconds, or `HOLD`) or the request is
        done (None)."""
        try:
            if self.iterator is None:
                self.app_iter = self.app(self.environ, self.start_response)
                self.iterator = iter(self.app_iter)
            sink = self.sink
            if self.train is not None:
                wait = self._ride(self.train)
                if wait is not None:
                    return wait
            for chunk in self.iterator:
                if type(chunk) is Pause:
                    self._flush_streamed()
                    self.pause_inline = chunk.inline
                    return float(chunk.seconds)
                if type(chunk) is PacedChunks:
                    self.train = chunk
                    wait = self._ride(chunk)
                    if wait is not None:
                        return wait
                    continue
                if type(chunk) is Suspend:
                    if not getattr(sink, "suspendable", False):
                        raise RuntimeError("the body yielded Suspend where the engine cannot resume it")
                    self._flush_streamed()
                    self.suspended = chunk
                    return SUSPEND
                self.write(chunk)
                if sink.held:
                    return HOLD
            h = self.head or self._begin()
            if h.chunked:
                self.pending.append(b"0\r\n\r\n")
            self._flush(True)
            self._end(h.close)
        except ConnectionAborted:
            self._end(True)
        except FramingError as exc:
            self._answer_error(exc.status, exc.message, exc.type)
        except TimeoutError:
            self._answer_error(408, "timed out reading the request body")
        except (ConnectionError, OSError):
            self._end(True)
        except Exception as exc:  # noqa: BLE001
            # The app failed: before the response began that is a 500; after it, the only honest
            # answer is to drop the connection (the mock layer already turned handler errors into 500s).
            self._answer_error(500, f"the WSGI app raised {type(exc).__name__}")
        return None

    def _ride(self, train: PacedChunks) -> float | None:
        """Send the train's chunks that are due; the wait until the next one (or `HOLD`), or
        None once the train is over (sent, or stopped) and the body goes on."""
        if train.stop is not None and train.stop():
            self._stop(train)
            return None
        chunks, gaps, sink = train.chunks, train.gaps, self.sink
        i, count, now = train.index, len(chunks), train.clock()
        while i < count:
            due = train.due
            if due is not None:  # a chunk of a new step: at its time
                if due > now:
                    if train.cut and train.gone is not None and train.gone():
                        self._stop(train)
                        return None
                    train.index = i
                    self._flush_streamed()
                    self.pause_inline = train.inline
                    wait = due - now
                    train.cut = wait > train.poll
                    return wait if not train.cut else train.poll
                train.cut = False
                gap = gaps[i]
                if gap is not None and now - due > gap * train.late:
                    due = now  # far behind: the chunks after it are due from now
                train.deadline = due
                self.write(chunks[i])
                train.sent.append(now)  # (after the write: a send that failed is not a chunk sent)
            else:
                self.write(chunks[i])
            i += 1
            if i < count:
                gap = gaps[i]
                train.due = None if gap is None else train.deadline + gap
                if gap is not None:
                    now = train.clock()
            if sink.held:
                train.index = i
                return HOLD
        train.index = i
        self.train = None
        return None

    def _stop(self, train: PacedChunks) -> None:
        train.stopped = True
        self.train = None

    def _answer_error(self, status: int, message: str, type: str | None = None) -> None:
        if not self.started:
            try:
                self.sink.send(error_bytes(status, message, type, head_only=self.head_request), True)
            except (ConnectionError, OSError):
                pass
        self._end(True)

    def _end(self, close: bool) -> None:
        self.done, self.close = True, close
        closer = getattr(self.app_iter, "close", None)
        self.app_iter = self.iterator = None
        if closer is not None:
            try:
                closer()
            except Exception:  # noqa: BLE001,S110 - a failing close() must not hide the response
                pass
        if self.verbose:
            env = self.environ
            sys.stderr.write(f'{env.get("REMOTE_ADDR", "-")} - - [{time.strftime("%d/%b/%Y %H:%M:%S")}] '
                             f'"{env.get("REQUEST_METHOD")} {env.get("REQUEST_URI")} '
                             f'{env.get("SERVER_PROTOCOL")}" {env.get("mocktools.status", "-")}\n')

    def abandon(self) -> None:
        """The client or the server went away during a pause: close the body (its finally runs)."""
        if not self.done:
            self._end(True)


def run_request(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], sink: Sink, *,
                close: bool, http10: bool, verbose: bool = False,
                sleep: Callable[[float], Any] = time.sleep) -> bool:
    """Serve one request, blocking through pauses; returns whether the connection must close.
    A ``sleep`` that returns true (the server's stop event's ``wait``) ends the request there:
    its body is closed, as the asyncio engine closes a paused body when it stops."""
    run = RequestRun(app, environ, sink, close=close, http10=http10, verbose=verbose)
    pause = run.step()
    while pause is not None:
        if pause > 0 and sleep(pause):  # (HOLD, SUSPEND are negative: this sink blocks in send, never suspends)
            run.abandon()
            return True
        pause = run.step()
    return run.close


__all__ = ["HOLD", "SUSPEND", "RequestRun", "Sink", "run_request"]
