"""The asyncio engine: one event loop in the mock's daemon thread, httptools parsing, a worker pool.

Idle keep-alive connections cost a registered socket, not a thread; a request whose route
promised never to block (`inline`) runs on the loop thread, and any other handler (a user's
Flask view, vLLM's paced token generator, injected latency) on an elastic worker pool, so it
never blocks the loop. Same server interface as the werkzeug engine: binds and listens
in the constructor, `serve_until_stopped()` in the thread, `wake()`, `close_connections()`,
`server_close()`.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from . import aio_loop
from .aio_protocol import HTTPProtocol
from .aio_wakeups import Outbox, WakeBuckets
from .errors import MockStartError
from .http_framing import DEFAULT_LIMITS, ServerLimits, refuse_socket, shed_one_client
from .worker_pool import WorkerPool

_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_log = logging.getLogger("mocktools.engine")


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise MockStartError(f"{host}:{port} cannot be bound ({exc.strerror or exc})", host=host, port=port) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        raise MockStartError(f"{host}:{port} {reason}", host=host, port=port) from exc
    return sock


def _release(proto: HTTPProtocol) -> None:
    """A connection of a finished loop: nothing may write to it or wait on it any more."""
    proto.lost = True
    held, proto.held = proto.held, None
    if held is not None:
        held.abandon()
    if proto.active is not None and proto.writable is not None:
        proto.writable.set()
        if proto.active.body is not None:
            proto.active.body.fail(ConnectionResetError("server stopped"))


def _close_loop_and_sockets(loop: asyncio.AbstractEventLoop, protos: list[HTTPProtocol]) -> None:
    """On the closer thread: abort each connection of the finished loop, give the loop one pass
    here to close them (transport.abort() closes in a callback, on either loop), then close it."""
    for proto in protos:
        _release(proto)
        if proto.transport is not None:
            proto.transport.abort()
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()


class AsyncHTTPServer:
    """An HTTP/1.1 server for one WSGI app on its own asyncio loop."""

    backlog = 4096
    #: above this many open connections at stop, their sockets are closed by a helper thread
    sync_close_limit = 256
    #: how long stop() waits for a handler stuck in the mock's own code before giving up on it
    join_timeout = 5.0
    #: an inline request that held the loop longer than this is logged (once per path): its
    #: route should not be marked inline, since every connection of the mock waited for it
    slow_inline = 0.1

    def __init__(self, host: str, port: int, app: Callable[..., Any], *, verbose: bool = False,
                 limits: ServerLimits | None = None, inline: Callable[[dict[str, Any]], bool] | None = None,
                 loop: str | None = None, shared_loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.app = app
        self.inline = inline  # may this request run on the loop thread? (see http_engines.make_http_server)
        self.verbose = verbose
        self.limits = limits or DEFAULT_LIMITS
        self.host = host
        self.socket = _bind(host, port, self.backlog)
        self.port = int(self.socket.getsockname()[1])
        self.server_address = (host, self.port)
        self.closing = False
        self.connections: set[HTTPProtocol] = set()
        self._starting = 0
        #: served on another thread's running loop, beside other servers (see `shared`)
        self.shared = shared_loop is not None
        self._stop = threading.Event()
        try:
            if shared_loop is not None:
                self.loop_kind = aio_loop.running_loop_kind(shared_loop)
                self.loop = shared_loop
            else:
                self.loop_kind = aio_loop.resolve_loop(loop)  # the stdlib's unless told otherwise (aio_loop)
                self.loop = aio_loop.new_event_loop(self.loop_kind)
            self._reserve_fd: int | None = os.open(os.devnull, os.O_RDONLY)
        except BaseException:
            self.socket.close()
            raise
        self.pool = WorkerPool(f"mocktools-http:{self.port}")
        self._accepting = False
        self._closed = False
        self._closer: threading.Thread | None = None
        #: connections still being set up (what stop cancels: asyncio.all_tasks walks every task
        #: of the process, 10,000 of them after a burst of connections)
        self._connecting: set[asyncio.Task[None]] = set()
        self.outbox = Outbox(self.loop)  # calls from workers (HTTPProtocol.call)
        self.wakeups = WakeBuckets(self.loop)  # paused streams' timers (HTTPProtocol.pause_exchange)
        self._slow_paths: set[str] = set()
        if self.shared:  # the loop runs in its own thread: arm it there
            self._on_loop(self._arm)
            return
        # armed here, in the starting thread, so the serving thread goes straight to its first
        # poll: an epoll_ctl there drops the GIL, and getting it back costs stop()/start() a slice
        self._arm()

    def _arm(self) -> None:
        self._resume_accepting()
        self.loop.call_later(self._sweep_interval(), self._sweep)

    def _on_loop(self, fn: Callable[[], Any]) -> None:
        """Run `fn` on the shared loop's thread and wait until it and what it scheduled ran."""
        if asyncio._get_running_loop() is self.loop:  # already there
            fn()
            return
        done = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
                failed.append(exc)
            finally:
                self.loop.call_soon(done.set)  # after the callbacks fn scheduled (connection_lost)
        try:
            self.loop.call_soon_threadsafe(run)
        except RuntimeError:  # the shared loop is closed: nothing left to do there
            return
        done.wait(self.join_timeout)
        if failed:
            raise failed[0]

    def run_inline(self, exchange: Any, environ: dict[str, Any]) -> None:
        """Serve one request on the loop thread (the route promised it never blocks)."""
        started = time.perf_counter()
        exchange.run_inline(environ)
        took = time.perf_counter() - started
        if took > self.slow_inline:
            self.slow(environ, took)

    def slow(self, environ: dict[str, Any], took: float) -> None:
        """Log (once per path) a request that held the loop for `took` seconds."""
        path = environ.get("PATH_INFO") or "/"
        if path not in self._slow_paths and len(self._slow_paths) < 100:
            self._slow_paths.add(path)
            _log.warning("inline request %s %s held the event loop of port %d for %.0f ms: a route marked "
                         "inline=True must never block (every connection of the mock waited)",
                         environ.get("REQUEST_METHOD"), path, self.port, took * 1000)

    def _drain_outbox(self) -> None:
        """After the loop's last pass: a stream a worker paused just then was never given a
        timer, so close its body here (its finally blocks free what it holds); the rest
        (writes to closed connections) is moot."""
        for fn, args in self.outbox.take():
            if getattr(fn, "__func__", None) is HTTPProtocol.pause_exchange:
                args[0].abandon()

    # -- serving ---------------------------------------------------------------------------
    def serve_until_stopped(self) -> None:
        """Run the loop until `wake()`; then close every connection before returning."""
        loop = self.loop
        if self.shared:  # the loop is another thread's: wait for wake(), then close there
            self._stop.wait()
            self._on_loop(self._close_shared)
            return
        try:
            if not self.closing:
                loop.run_forever()
        finally:
            self._pause_accepting()
            self._close_all()

    def _sweep_interval(self) -> float:
        limits = self.limits
        return max(0.01, min(1.0, limits.header_timeout / 4, limits.body_timeout / 4, limits.idle_timeout / 4))

    def _sweep(self) -> None:
        """Evict connections past their deadline (idle, slow head, silent body)."""
        now = time.monotonic()
        for proto in [p for p in self.connections if p.deadline <= now]:
            if not proto.lost:
                proto.on_timeout()
        if not self.closing:
            self.loop.call_later(self._sweep_interval(), self._sweep)

    def _resume_accepting(self) -> None:
        if not self._accepting and not self.closing:
            self._accepting = True
            self.loop.add_reader(self.socket.fileno(), self._accept)

    def _pause_accepting(self) -> None:
        if self._accepting:
            self._accepting = False
            self.loop.remove_reader(self.socket.fileno())

    def _accept(self) -> None:
        for _ in range(128):
            try:
                conn, peer = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_FDS:
                    self._shed()
                return
            if len(self.connections) + self._starting >= self.limits.max_connections:
                refuse_socket(conn, f"the mock holds its limit of {self.limits.max_connections} connections")
                continue
            conn.setblocking(False)
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            self._starting += 1
            task = self.loop.create_task(self._connect(conn, peer))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket, peer: Any) -> None:
        made: list[HTTPProtocol] = []

        def protocol() -> HTTPProtocol:
            made.append(HTTPProtocol(self, peer))
            return made[0]

        try:
            await self.loop.connect_accepted_socket(protocol, conn)  # type: ignore[type-var]
        except (OSError, asyncio.CancelledError) as exc:  # (cancelled: the server stopped meanwhile)
            if not made or made[0].transport is None:
                conn.close()  # no transport owns it yet
                self._starting -= 1  # else connection_made moved it from starting to connections
            elif isinstance(exc, OSError):
                conn.close()
            if isinstance(exc, asyncio.CancelledError):
                raise

    def connection_made(self, proto: HTTPProtocol) -> None:
        """A connection counts as starting until here, then as open: never as both (the cap)."""
        self._starting -= 1
        self.connections.add(proto)

    def _shed(self) -> None:
        """Out of descriptors: answer one waiting client 503 through the reserve fd, then stop
        watching the listening socket for a moment instead of spinning on it."""
        self._reserve_fd = shed_one_client(self.socket, self._reserve_fd, refuse_socket)
        self._pause_accepting()
        self.loop.call_later(0.05, self._resume_accepting)

    # -- stopping --------------------------------------------------------------------------
    def wake(self) -> None:
        self.closing = True
        if self.shared:
            self._stop.set()
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            pass

    def abandon(self, exchange: Any) -> None:
        """Close a paused stream's body on a worker (its finally blocks free what it holds)."""
        try:
            self.pool.submit(exchange.abandon)
        except RuntimeError:  # stopping: close it here
            exchange.abandon()

    def _close_all(self) -> None:
        """Abort every connection and let the loop run their close callbacks (loop thread)."""
        loop = self.loop
        tasks = {task for task in self._connecting if not task.done()}
        for task in tasks:
            task.cancel()
        if tasks and len(self.connections) > self.sync_close_limit:
            # settle them here: the loop must not run on this thread once the closer runs it
            loop.call_soon(loop.stop)
            loop.run_forever()
            tasks = set()
        protos = list(self.connections)
        for proto in protos:  # paused streams: nobody will resume them, so close their bodies now
            self._abandon_parked(proto)
        if len(protos) > self.sync_close_limit:
            self._hand_off_closing(protos)
            return
        for proto in protos:
            if proto.transport is not None:
                proto.transport.abort()
        if protos or tasks:  # one more pass runs their close callbacks; with neither there is none to run
            loop.call_soon(loop.stop)
            loop.run_forever()
        self.connections.clear()

    def _close_shared(self) -> None:
        """`_close_all` for a server on a shared loop (its thread): the loop goes on serving others."""
        self._pause_accepting()
        for proto in list(self.connections):
            self._abandon_parked(proto)
            if proto.transport is not None:
                proto.transport.abort()  # connection_lost follows on this pass (see _on_loop)
        for task in list(self._connecting):
            task.cancel()

    def _abandon_parked(self, proto: HTTPProtocol) -> None:
        """Close the body of a paused, suspended or held stream of `proto` (nobody resumes it now)."""
        active = proto.active
        if active is not None and active.timer is not None:
            active.timer = None  # its bucket skips it
            active.abandon()
        if active is not None and active.suspended is not None:
            proto.drop_suspended(active)
        held, proto.held = proto.held, None
        if held is not None:
            held.abandon()

    def _hand_off_closing(self, protos: list[HTTPProtocol]) -> None:
        """Thousands of connections: the kernel needs ~40 us to close each (and the epoll set
        ~3 us to drop each), so closing 10,000 would hold stop() for half a second. The (finished)
        loop and its connections go to a short-lived thread that closes them and ends by itself;
        the listening port is already free, and nothing is served any more. It starts as
        `server_close` ends: running earlier it would hold the GIL the rest of stop() needs."""
        self.connections.clear()
        self._closer = threading.Thread(target=_close_loop_and_sockets, args=(self.loop, protos),
                                        name=f"mocktools-http-closer:{self.port}", daemon=True)

    def close_connections(self) -> None:
        """Connections are closed by the loop thread as `serve_until_stopped` returns."""
        if not self.shared and not self.loop.is_running() and not self.loop.is_closed() and self.connections:
            self._close_all()

    def server_close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.closing = True
        self.socket.close()
        self.pool.shutdown(self.join_timeout)
        self._drain_outbox()
        if self._closer is None and not self.shared and not self.loop.is_running():
            self.loop.close()
        if self._reserve_fd is not None:
            os.close(self._reserve_fd)
            self._reserve_fd = None
        closer = self._closer
        if closer is not None and closer.ident is None:
            closer.start()


__all__ = ["AsyncHTTPServer", "refuse_socket"]
