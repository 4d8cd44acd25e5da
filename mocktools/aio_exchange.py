"""A request/response of the asyncio engine as the app sees it: its body and its connection handle.

`Body` is fed by the loop and read by the app (`wsgi.input`, with flow control); `Exchange` is
the sink the WSGI driver writes to and the `mocktools.connection` handle the app sees.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .wsgi_driver import HOLD, SUSPEND, RequestRun

if TYPE_CHECKING:
    from .aio_protocol import HTTPProtocol

HIGH_WATER = 1 << 20  # buffered request body that pauses reading
_OUT_LIMIT = 64 << 10  # streamed bytes a loop step gathers before it writes them
_INF = float("inf")


class Body:
    """A request body fed by the loop and read by the app (`wsgi.input`).

    One lock guards it; a reader that must wait parks on a lock of its own that the feeder
    releases (a one-waiter condition: a `threading.Condition` per request costs more than the
    rest of the body handling)."""

    __slots__ = ("_chunks", "_lock", "_proto", "_waiter", "continue_sent", "done", "error", "expect_continue",
                 "reader_waiting", "received", "size")

    def __init__(self, proto: HTTPProtocol, expect_continue: bool) -> None:
        self._proto = proto
        self._lock = threading.Lock()
        self._waiter: Any = None  # a held lock the waiting reader blocks on
        self._chunks: list[bytes] = []
        self.size = 0
        self.done = False
        self.error: BaseException | None = None
        self.expect_continue = expect_continue
        self.continue_sent = False
        self.received = 0
        self.reader_waiting = False  # the app waits for more than is buffered: reading must not pause

    # loop side
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.release()

    def feed(self, data: bytes) -> None:
        with self._lock:
            self._chunks.append(data)
            self.size += len(data)
            self.received += len(data)
            self._wake()

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._wake()

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if not self.done:
                self.error = exc
            self._wake()

    # the app's side
    def read(self, size: int | None = -1) -> bytes:
        want = _INF if size is None or size < 0 else size
        lock = self._lock
        lock.acquire()
        try:
            if not self.done and self.expect_continue and not self.continue_sent:
                self.continue_sent = True
                self._proto.call(self._proto.send_continue)
            while self.size < want and not self.done and self.error is None:
                if not self.reader_waiting:
                    self.reader_waiting = True
                    if self._proto.paused:  # paused at the high-water mark, but the app wants more
                        self._proto.call(self._proto.resume)
                waiter = self._waiter = threading.Lock()
                waiter.acquire()
                lock.release()
                try:
                    waiter.acquire()  # until feed/finish/fail releases it
                finally:
                    lock.acquire()
            self.reader_waiting = False
            if self.error is not None and not self.done and self.size < want:
                raise self.error
            chunks = self._chunks
            if want >= self.size:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
            else:
                joined = b"".join(chunks)
                data, rest = joined[:int(want)], joined[int(want):]
                chunks[:] = [rest]
            self.size -= len(data)
            resume = self.size < HIGH_WATER // 2 and self._proto.paused
        finally:
            lock.release()
        if resume:
            self._proto.call(self._proto.resume)
        return data

    def readline(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            byte = self.read(1)
            if not byte:
                break
            out += byte
            if byte == b"\n":
                break
        return bytes(out)

    def __iter__(self) -> Any:
        return iter(lambda: self.read(65536), b"")


class Exchange:
    """One request/response; also the connection handle the app sees (`mocktools.connection`).

    Each step of its app runs either on a worker (`on_loop` false: writes go through the loop's
    outbox, a slow reader blocks the worker) or on the loop thread itself (an inline route, or a
    stream resumed after `Pause(inline=True)`: writes go straight to the transport and a slow
    reader `held`s the stream until the transport drains). Only a step on the loop may yield
    `Suspend` (`suspendable`): the exchange is parked until its owner resumes it."""

    __slots__ = ("aborted", "abort_requested", "body", "chunked", "close", "complete", "final", "headers",
                 "method", "on_loop", "out", "out_size", "proto", "runner", "suspended", "target", "timer", "version")

    def __init__(self, proto: HTTPProtocol, method: str, target: str, version: tuple[int, int],
                 headers: list[tuple[str, str]], body: Body | None, chunked: bool) -> None:
        self.proto = proto
        self.method, self.target, self.version, self.headers = method, target, version, headers
        self.body = body
        self.chunked = chunked
        self.close = False
        self.aborted = self.abort_requested = self.on_loop = False
        self.final: bytes | None = None
        self.out: list[bytes] = []  # streamed bytes of the current loop step, written as one at its end
        self.out_size = 0
        self.complete = body is None
        self.runner: RequestRun | None = None
        self.timer: int | None = None  # a paused stream's wake-up bucket (aio_wakeups.WakeBuckets)
        self.suspended: Any = None  # the Suspend an inline body waits on (HTTPProtocol.suspend_exchange)

    # the handle the app sees
    def abort(self, kind: str) -> None:
        # no more sends; the loop marks `aborted` after writing what came before
        self.abort_requested = self.close = True
        if self.on_loop:
            self.flush_out()  # what the app sent before the fault leaves first
            self.proto.abort(kind, self)
        else:
            self.proto.call(self.proto.abort, kind, self)

    def close_after_response(self) -> None:
        self.close = True

    @property
    def suspendable(self) -> bool:
        """Only a step on the loop thread may yield `Suspend` (it is resumed there)."""
        return self.on_loop

    @property
    def alive(self) -> _AliveProbe:
        """A callable probe (`conn.alive()`); `pausable`: a stream may yield `Pause` here."""
        return _AliveProbe(self)

    # the sink the driver writes to
    @property
    def close_requested(self) -> bool:
        return self.close

    @property
    def held(self) -> bool:
        """On the loop, a client that reads slowly holds the stream (the loop never waits)."""
        return self.on_loop and not self.proto.can_write

    def send(self, data: bytes, final: bool) -> None:
        proto = self.proto
        if proto.lost or self.abort_requested:
            raise ConnectionResetError("client connection closed")
        if final:
            self.final = data
            return
        if self.on_loop:  # one write per step (an SSE stream catching up sends its tokens together)
            self.out.append(data)
            self.out_size += len(data)
            if self.out_size >= _OUT_LIMIT:
                self.flush_out()
            return
        writable = proto.writable
        assert writable is not None  # (made before the work went to this worker)
        while not writable.wait(1.0):
            if proto.lost or proto.server.closing:
                raise ConnectionResetError("client connection closed")
        if not proto.call(proto.write, self, data):
            raise ConnectionResetError("server stopped")

    def _start(self, environ: dict[str, Any]) -> None:
        server = self.proto.server
        self.runner = RequestRun(server.app, environ, self, close=self.close, http10=self.version < (1, 1),
                                 verbose=server.verbose)

    def run(self, environ: dict[str, Any]) -> None:
        """On a worker: serve the request (until its body pauses), then hand back to the loop."""
        self._start(environ)
        self.resume()

    def resume(self) -> None:
        """On a worker: go on after a pause; a paced stream holds a worker only while it works."""
        runner, proto = self.runner, self.proto
        if runner is None or runner.done:
            return
        self.on_loop = False
        pause = runner.step()
        if pause is None:
            proto.call(proto.complete, self, runner.close or self.close)
        elif not proto.call(proto.pause_exchange, self, pause):
            runner.abandon()

    def run_inline(self, environ: dict[str, Any]) -> None:
        """On the loop thread: serve a request whose route promised never to block."""
        self._start(environ)
        self.step_inline()

    def step_inline(self) -> None:
        """On the loop thread: one step of the app (all of it, or up to a pause or a hold)."""
        runner = self.runner
        if runner is None or runner.done:
            return
        self.on_loop = True
        pause = runner.step()
        proto = self.proto
        if self.out:
            if pause is None and not self.aborted:  # the rest and the end of the stream: one write
                self.final = b"".join(self.out) + (self.final or b"")
                self.out.clear()
                self.out_size = 0
            else:
                self.flush_out()
        if pause is None:
            proto.complete(self, runner.close or self.close)
        elif pause == HOLD:
            proto.hold(self)
        elif pause == SUSPEND:
            proto.suspend_exchange(self, runner.suspended)
        else:
            proto.pause_exchange(self, pause)

    def flush_out(self) -> None:
        """Write what this loop step produced so far (the transport may then pause writing)."""
        out = self.out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            self.out_size = 0
            if not self.proto.lost and not self.aborted:
                self.proto.transport.write(data)

    def abandon(self) -> None:
        if self.runner is not None:
            self.runner.abandon()


class _AliveProbe:
    """`conn.alive()` for the asyncio engine; its `pausable` lets a stream yield `Pause`."""

    __slots__ = ("exchange",)
    pausable = True

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def __call__(self) -> bool:
        proto = self.exchange.proto
        return not (proto.lost or proto.peer_eof)


class _EmptyBody:
    """wsgi.input of a request without a body (stateless, so one serves every request)."""

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int = -1) -> bytes:
        return b""

    def __iter__(self) -> Any:
        return iter(())


EMPTY = _EmptyBody()

__all__ = ["EMPTY", "Body", "Exchange"]
