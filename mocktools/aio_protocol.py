"""One client connection of the asyncio engine: httptools parsing on the loop, the app inline or on a worker.

The loop thread parses (llhttp: strict RFC 9112 framing), buffers request bodies with flow
control, and writes responses; one request at a time per connection (pipelined requests wait
their turn in order). A request whose route promised never to block (`server.inline`) and
whose body is all here runs on the loop thread itself: no hand-off, no second thread taking
the GIL. Any other request runs on a worker, which talks back only through the server's
outbox (`call_soon_threadsafe`) and waits on `writable` when the client reads slowly.
"""
from __future__ import annotations

import collections
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any

import httptools

from .aio_exchange import EMPTY, Body, Exchange
from .aio_parsing import RequestParsing
from .http_framing import FramingError, error_bytes
from .wsgi_environ import build_environ_keyed

if TYPE_CHECKING:
    from .aio_server import AsyncHTTPServer

_INF = float("inf")
_GARBAGE = b"\x00\x17garbage that is not HTTP\xff\r\n\r\n"


class HTTPProtocol(RequestParsing):
    """asyncio.Protocol for one HTTP/1.1 connection (callbacks run on the loop thread)."""

    def __init__(self, server: AsyncHTTPServer, peer: Any) -> None:
        self.server = server
        self.loop = server.loop
        self.peer = (peer[0], peer[1]) if isinstance(peer, tuple) else ("", 0)
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.queue: collections.deque[Exchange] = collections.deque()
        self.active: Exchange | None = None
        self.parsing: Exchange | None = None
        #: a worker waits on it while the client reads slowly (`ready_for_worker` makes it)
        self.writable: threading.Event | None = None
        self.can_write = True  # the same, for the loop side (which never waits)
        self.held: Exchange | None = None  # an inline stream waiting for the transport to drain
        self.dispatching = self.redispatch = False
        #: an inline request started before its body was all here: it runs once the body is in
        self.waiting: tuple[Exchange, dict[str, Any]] | None = None
        self.lost = self.peer_eof = self.paused = self.lingering = False
        self.closing = False  # close once the active response is out
        self.refusal: bytes | None = None  # an error answer owed once the requests before it are served
        self.deadline = time.monotonic() + server.limits.idle_timeout
        self.phase = "idle"
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._head_bytes = 0
        self._max_header_bytes, self._max_headers = server.limits.max_header_bytes, server.limits.max_headers

    def call(self, fn: Any, *args: Any) -> bool:
        """Run `fn` on the loop from a worker; False once the loop is gone."""
        return self.server.outbox.post(fn, *args)

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(high=256 * 1024)
        self.server.connection_made(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = True
        active = self.active
        if active is not None and active.timer is not None:  # paused: nobody will resume it
            active.timer = None  # (its wake-up bucket skips it)
            self.server.abandon(active)
        if active is not None and active.suspended is not None:
            self.drop_suspended(active)
        held, self.held = self.held, None
        if held is not None:
            held.abandon()  # an inline stream: closing it never blocks
        if self.writable is not None:
            self.writable.set()
        self.waiting = None
        self.server.connections.discard(self)
        for exchange in (self.active, self.parsing, *self.queue):
            if exchange is not None and exchange.body is not None:
                exchange.body.fail(ConnectionResetError("client connection closed"))
        # the parser holds this protocol's bound callbacks: a cycle of ~20 objects per connection
        # that only the cyclic collector would free (and, once old, only a full pass)
        self.parser = None

    def ready_for_worker(self) -> None:
        """Before work of this connection goes to a worker (loop thread): the Event it waits on.
        Made only then: most connections never hand work to a worker, and an Event is eight
        objects the collector walks on every full pass (1,000 open streams: 8,000)."""
        if self.writable is None:
            self.writable = threading.Event()
            if self.can_write:
                self.writable.set()

    def pause_writing(self) -> None:
        self.can_write = False
        if self.writable is not None:
            self.writable.clear()

    def resume_writing(self) -> None:
        self.can_write = True
        if self.writable is not None:
            self.writable.set()
        if self.held is not None:
            self.loop.call_soon(self._step_held)

    def hold(self, exchange: Exchange) -> None:
        """An inline stream wrote more than the transport takes: step it on once it drains."""
        if self.can_write:  # drained meanwhile
            self.loop.call_soon(self._step_held)
        self.held = exchange

    def _step_held(self) -> None:
        exchange, self.held = self.held, None
        if exchange is None:
            return
        if self.lost or exchange.aborted or self.server.closing:
            exchange.abandon()
            return
        if not self.can_write:  # paused again before this ran
            self.held = exchange
            return
        exchange.step_inline()

    def eof_received(self) -> bool:
        self.peer_eof = True
        if self.parsing is not None and self.parsing.body is not None:
            self.parsing.body.fail(ConnectionResetError("request body cut short"))
            self.run_waiting()
        # keep the write side open while a request is still being answered
        return self.active is not None or bool(self.queue)

    def data_received(self, data: bytes) -> None:
        if self.lingering or self.closing:
            return
        if self.phase == "idle":
            self.phase, self.deadline = "head", time.monotonic() + self.server.limits.header_timeout
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:  # answer as HTTP/1.1; the upgrade is ignored
            self.parser = httptools.HttpRequestParser(self)
            rest = data[exc.args[0]:] if exc.args and isinstance(exc.args[0], int) else b""
            if rest:
                self.data_received(rest)
                return
        except httptools.HttpParserError as exc:
            cause = exc.__context__  # an error raised in a callback (414, 431, 505) comes wrapped
            if isinstance(cause, FramingError):
                self.refuse(cause.status, cause.message, cause.type)
            else:
                self.refuse(400, f"malformed HTTP request: {exc}")
            return
        if self.waiting is not None:
            self.run_waiting()
        self.dispatch()

    # -- the loop side of a request --------------------------------------------------------
    def dispatch(self) -> None:
        """Start the next queued request. An inline one completes before this returns, and
        `complete` asks for the next by calling here again: that becomes a loop, not recursion."""
        if self.dispatching:
            self.redispatch = True
            return
        self.dispatching = True
        try:
            again = True
            while again:
                self.redispatch = False
                if self.active is not None or not self.queue or self.lost:
                    return
                self._start(self.queue.popleft())
                again = self.redispatch
        finally:
            self.dispatching = False

    def _start(self, exchange: Exchange) -> None:
        self.active = exchange
        server = self.server
        body = exchange.body
        environ = build_environ_keyed(exchange.method, exchange.target, exchange.version, exchange.headers,
                                server=server.server_address, remote=self.peer, body=body or EMPTY,
                                chunked=exchange.chunked, connection=exchange)
        probe = server.inline
        if probe is not None and (body is None or body.error is None) and not (body and body.expect_continue):
            try:
                inline = probe(environ)
            except Exception:  # noqa: BLE001 - a failing probe only means "not known to be safe"
                inline = False
            if inline:
                if body is None or body.done:
                    server.run_inline(exchange, environ)
                else:  # the head came first (most clients send the body in a second write)
                    self.waiting = (exchange, environ)
                return
        self.submit(exchange, environ)

    def submit(self, exchange: Exchange, environ: dict[str, Any]) -> None:
        self.ready_for_worker()
        try:
            self.server.pool.submit(exchange.run, environ)
        except RuntimeError:  # stopping
            self.transport.abort()

    def run_waiting(self) -> None:
        """The waiting inline request's body is in (or failed: the app answers that): run it."""
        waiting = self.waiting
        if waiting is not None and waiting[0].body is not None:
            body = waiting[0].body
            if body.done or body.error is not None:
                self.waiting = None
                self.server.run_inline(*waiting)

    def write(self, exchange: Exchange, data: bytes) -> None:
        if not exchange.aborted and not self.lost:
            self.transport.write(data)

    def complete(self, exchange: Exchange, close: bool) -> None:
        self.active = None
        exchange.runner = None  # runner -> environ -> exchange: no cycle left for the GC to find
        if self.lost or exchange.aborted:
            return
        if exchange.final:
            self.transport.write(exchange.final)
        body = exchange.body
        exchange.complete = True
        unread = body is not None and not body.done
        if unread and body is not None and body.expect_continue and not body.continue_sent:
            close = True  # the client may or may not send the body it was not asked for
        if self.queue and not (close or self.closing):
            self.dispatch()
            return
        if self.refusal is not None:
            if self.queue:
                self.dispatch()
                return
            self.transport.write(self.refusal)
            self.refusal = None  # answered: refuse() must not send it again
            close = unread = True
        if close or self.closing or self.peer_eof:
            self.linger_close(unread=unread)
            return
        if self.paused:
            self.resume()
        if self.parsing is None and self.phase == "busy":
            self.phase, self.deadline = "idle", time.monotonic() + self.server.limits.idle_timeout

    def pause_exchange(self, exchange: Exchange, seconds: float) -> None:
        """A stream paused: resume it when its timer fires (loop side), on the loop itself if
        it yielded `Pause(inline=True)`, else on a worker."""
        if self.lost or exchange.aborted or self.server.closing:
            self.server.abandon(exchange)
            return
        self.server.wakeups.later(exchange, seconds)

    def resume_exchange(self, exchange: Exchange) -> None:
        exchange.timer = None
        if self.lost or exchange.aborted:
            self.server.abandon(exchange)
            return
        runner = exchange.runner
        if runner is not None and runner.pause_inline:
            self._step_timed(exchange, runner)
            return
        self.ready_for_worker()
        try:
            self.server.pool.submit(exchange.resume)
        except RuntimeError:
            exchange.abandon()

    def suspend_exchange(self, exchange: Exchange, suspend: Any) -> None:
        """An inline body yielded `Suspend`: step it on, on the loop, once its owner resumes it."""
        if self.lost or exchange.aborted or self.server.closing:
            exchange.abandon()  # an inline body: closing it never blocks
            return
        exchange.suspended = suspend
        suspend.bind(lambda: self.resume_suspended(exchange), self.loop.call_soon)

    def resume_suspended(self, exchange: Exchange) -> None:
        if exchange.suspended is None:  # given up on meanwhile
            return
        exchange.suspended = None
        if self.lost or exchange.aborted or self.server.closing:
            exchange.abandon()
            return
        runner = exchange.runner
        if runner is not None:
            self._step_timed(exchange, runner)

    def _step_timed(self, exchange: Exchange, runner: Any) -> None:
        """Step a resumed body on the loop; one that held it too long broke its promise (logged)."""
        started = time.perf_counter()
        exchange.step_inline()
        took = time.perf_counter() - started
        if took > self.server.slow_inline:
            self.server.slow(runner.environ, took)

    def drop_suspended(self, exchange: Exchange) -> None:
        """The client went away or the server stops: close the suspended body (on the loop)."""
        suspend, exchange.suspended = exchange.suspended, None
        if suspend is not None:
            suspend.unbind()
            exchange.abandon()

    def send_continue(self) -> None:
        if not self.lost and self.active is not None and not self.active.aborted:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def abort(self, kind: str, exchange: Exchange | None = None) -> None:
        if exchange is not None:
            exchange.aborted = True
        if self.lost:
            return
        if kind == "reset":
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.closing = True  # connection_lost comes on the next loop pass; serve nothing more
            self.transport.abort()
            return
        if kind == "garbage":
            self.transport.write(_GARBAGE)
        self.closing = True
        self.transport.close()

    def pause(self) -> None:
        self.paused = True
        self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and not self.lost and not self.lingering:
            self.paused = False
            self.transport.resume_reading()

    # -- refusing and closing --------------------------------------------------------------
    def refuse(self, status: int, message: str, type: str | None = None) -> None:
        """A request the server will not pass on: answer it (after those before it), then close."""
        exc = FramingError(status, message, type)
        parsing, self.parsing = self.parsing, None
        if parsing is not None and parsing in self.queue:
            self.queue.remove(parsing)
        self.pause()
        if parsing is not None and parsing is self.active and parsing.body is not None:
            parsing.close = True
            parsing.body.fail(exc)  # the app reading this body answers the error itself
            self.refusal = b""
            self.run_waiting()
            return
        self.refusal = error_bytes(status, message, type)
        if self.active is None and self.queue:
            self.dispatch()  # inline requests may all be answered here, the refusal with them
        if self.active is None and self.refusal is not None:
            self.transport.write(self.refusal)
            self.refusal = None
            self.linger_close(unread=True)

    def linger_close(self, *, unread: bool) -> None:
        """Close after the response; with unread input, half-close and read it away first, or the
        kernel answers it with an RST that can destroy the response in flight."""
        self.closing = True
        if not unread or self.peer_eof or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.lingering = True
        self.phase, self.deadline = "linger", time.monotonic() + 1.0
        self.resume_for_linger()
        self.transport.write_eof()

    def resume_for_linger(self) -> None:
        if self.paused:
            self.paused = False
            self.transport.resume_reading()

    def on_timeout(self) -> None:
        """The sweeper found this connection past its deadline."""
        self.deadline = _INF
        if self.phase == "head":
            self.refuse(408, "the request head did not arrive in time")
        elif self.phase == "body" and self.active is not None and self.active.body is not None:
            self.active.body.fail(TimeoutError("request body timed out"))
            self.run_waiting()
        else:
            self.transport.abort() if self.phase == "linger" else self.transport.close()


__all__ = ["Body", "Exchange", "HTTPProtocol"]
