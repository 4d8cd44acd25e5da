"""The werkzeug engine: werkzeug's threaded server with keep-alive, a strict parser and a fast stop.

werkzeug 3.1 closes every connection after one response; this handler keeps HTTP/1.1
connections alive (with TCP_NODELAY, or Nagle's algorithm meets the client's delayed ACK and
every request stalls ~40 ms). It reads request heads with the strict RFC 9112 parser of
`http_framing` instead of http.server's (email.parser, lenient about smuggling), writes each
response in one call, evicts idle and slow clients, and caps connections. The server tracks open
connections so `stop()` can close idle keep-alive clients and join every thread.
"""
from __future__ import annotations

import errno
import io
import os
import select
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from .errors import MockStartError
from .http_connection import ConnectionAborted, abort_connection
from .http_framing import (
    DEFAULT_LIMITS,
    refuse_socket,
    shed_one_client,
    ChunkedReader,
    FramingError,
    LengthReader,
    ServerLimits,
    error_bytes,
    read_request_head,
    wants_close,
)
from .wsgi_driver import run_request
from .wsgi_environ import build_environ

IDLE_TIMEOUT = DEFAULT_LIMITS.idle_timeout
_DRAIN_LIMIT = 16 * 1024 * 1024


class _TimedSocketIO(io.RawIOBase):
    """The connection as a raw stream whose reads honour a deadline (the header timeout)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("request head timed out")
            self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class _Connection:
    """The engine-agnostic connection handle (`environ["mocktools.connection"]`) for one socket."""

    def __init__(self, handler: KeepAliveRequestHandler) -> None:
        self.handler = handler

    def abort(self, kind: str) -> None:
        conn = self.handler.connection
        self.handler.close_connection = True
        try:
            if kind == "garbage":
                conn.sendall(b"\x00\x17garbage that is not HTTP\xff\r\n\r\n")
                conn.shutdown(socket.SHUT_RDWR)
            elif kind == "reset":
                # SO_LINGER 0 makes close() send RST; the server skips its graceful SHUT_WR for it.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.handler.server.mark_reset(conn)
            else:
                conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close_after_response(self) -> None:
        self.handler.close_connection = True

    def alive(self) -> bool:
        sock = self.handler.connection
        try:
            ready = select.select([sock], [], [], 0)[0]
            return not ready or sock.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False

    @property
    def close_requested(self) -> bool:
        return bool(self.handler.close_connection)

    held = False  # send() blocks while the client reads slowly, so the stream is never held

    def send(self, data: bytes, final: bool) -> None:
        self.handler.connection.sendall(data)


class KeepAliveRequestHandler(WSGIRequestHandler):
    """A WSGI handler that serves many requests per connection, parsing strictly."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = None
    server: MockWSGIServer

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # http.server's own reader; an open one would keep the fd alive after close()
        self._raw = _TimedSocketIO(self.connection)
        self.rfile = self._reader = io.BufferedReader(self._raw, 65536)
        self.handle_conn = _Connection(self)
        self.server.track(self.connection)

    def finish(self) -> None:
        for stream in (self.wfile, self.rfile):
            try:
                stream.close()
            except OSError:
                pass
        self.server.untrack(self.connection)

    def handle(self) -> None:
        self.close_connection = False
        try:
            while not self.close_connection and not self.server.closing:
                self.handle_one_request()
        except (ConnectionError, OSError, ValueError):
            pass

    def handle_one_request(self) -> None:
        limits, sock = self.server.limits, self.connection
        sock.settimeout(limits.idle_timeout)
        try:
            if not self._reader.peek(1):
                self.close_connection = True
                return
        except TimeoutError:  # idle keep-alive connection: close it quietly
            self.close_connection = True
            return
        self._raw.deadline = time.monotonic() + limits.header_timeout
        try:
            head = read_request_head(self._reader, limits)
        except FramingError as exc:
            self._refuse(exc.status, exc.message, exc.type)
            return
        except TimeoutError:
            self._refuse(408, "the request head did not arrive in time")
            return
        finally:
            self._raw.deadline = None
        if head is None:
            self.close_connection = True
            return
        sock.settimeout(limits.body_timeout)
        self.command, self.request_version = head.method, f"HTTP/{head.version[0]}.{head.version[1]}"
        connection = next((v for k, v in head.headers if k.lower() == "connection"), "")
        self.close_connection = wants_close(head.version, connection)
        expect = next((v for k, v in head.headers if k.lower() == "expect"), "")
        stream: Any
        if head.chunked:
            stream = ChunkedReader(self._continue_first(expect))
        else:
            stream = LengthReader(self._continue_first(expect) if head.content_length else self._reader,
                                  head.content_length or 0)
        environ = build_environ(head.method, head.target, head.version, head.headers,
                                server=(str(self.server.server_address[0]), int(self.server.server_address[1])),
                                remote=self.client_address[:2],
                                body=stream, chunked=head.chunked, connection=self.handle_conn)
        environ["werkzeug.socket"] = sock
        close = run_request(self.server.app, environ, self.handle_conn, close=self.close_connection,
                            http10=head.version < (1, 1), verbose=self.server.verbose, sleep=self.server.stopped.wait)
        if close:
            self.close_connection = True
        self._drain(stream)  # even before a close: unread input would turn the close into an RST

    def _continue_first(self, expect: str) -> Any:
        """The body stream; with `Expect: 100-continue`, the first read sends one `100 Continue`."""
        if expect.strip(" \t").lower() != "100-continue":
            return self._reader
        return _ContinueReader(self.rfile, self.connection)

    def _drain(self, stream: Any) -> None:
        """Consume what is left of the request body so the next request on this connection parses."""
        try:
            if isinstance(stream, LengthReader):
                if stream.remaining > _DRAIN_LIMIT:
                    self.close_connection = True
                    return
                stream.exhaust()
            elif isinstance(stream, ChunkedReader):
                drained = 0
                while not stream.done and drained <= _DRAIN_LIMIT:
                    drained += len(stream.read(65536))
                self.close_connection = self.close_connection or not stream.done
        except (OSError, ValueError, FramingError):
            self.close_connection = True

    def _refuse(self, status: int, message: str, type: str | None = None) -> None:
        self.close_connection = True
        sock = self.connection
        try:
            sock.sendall(error_bytes(status, message, type))
            # Lingering close: read what the client is still sending, so our answer is not lost to
            # the RST a close with unread input would send.
            sock.shutdown(socket.SHUT_WR)
            deadline, drained = time.monotonic() + 1.0, 0
            while drained < _DRAIN_LIMIT and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                data = sock.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No werkzeug access line: mocktools.log writes one that names the mock (see log.request)."""

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _ContinueReader:
    """Sends `100 Continue` once, on the first read of the body (never before, never twice)."""

    def __init__(self, rfile: Any, sock: socket.socket) -> None:
        self._rfile, self._sock, self._sent = rfile, sock, False

    def _go(self) -> None:
        if not self._sent:
            self._sent = True
            self._sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def read(self, size: int = -1) -> bytes:
        self._go()
        return self._rfile.read(size)  # type: ignore[no-any-return]

    def readline(self, size: int = -1) -> bytes:
        self._go()
        return self._rfile.readline(size)  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:
        self._go()
        return self._rfile.readinto(buffer)  # type: ignore[no-any-return]


class MockWSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server with a wake-up pipe instead of polling, and tracked connections."""

    daemon_threads = True
    request_queue_size = 1024
    #: how long stop() waits for a handler stuck in the mock's own code before giving up on it
    join_timeout = 5.0

    def __init__(self, host: str, port: int, app: Callable, *, verbose: bool = False,
                 limits: ServerLimits | None = None) -> None:
        self.verbose = verbose
        self.limits = limits or DEFAULT_LIMITS
        self.closing = False
        self.stopped = threading.Event()  # set with `closing`: a paced body's wait ends at once
        self._connections: set[socket.socket] = set()
        self._reset: set[socket.socket] = set()
        self._threads_started: list[threading.Thread] = []
        self._conn_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._reserve_fd: int | None = None
        try:
            super().__init__(host, port, app, handler=KeepAliveRequestHandler)
            self._reserve_fd = os.open(os.devnull, os.O_RDONLY)
        except BaseException:
            self._wake_r.close()
            self._wake_w.close()
            raise

    def server_bind(self) -> None:
        try:
            super().server_bind()
        except OSError as exc:
            # werkzeug would print and sys.exit(1); a test wants a clear exception instead.
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
            raise MockStartError(f"{self.host}:{self.port} {reason}", host=str(self.host),
                                 port=int(self.port)) from exc

    def track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(conn)
            closing = self.closing
        if closing:  # accepted just as the server stopped: do not let it wait in recv
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(conn)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return self.socket.accept()
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                raise
        # Out of descriptors: answer one waiting client 503 with the reserve fd, and back off
        # instead of spinning on a listening socket that stays readable.
        self._shed_one()
        raise OSError(errno.EMFILE, "out of file descriptors")

    def _shed_one(self) -> None:
        self._reserve_fd = shed_one_client(self.socket, self._reserve_fd, refuse_socket)
        select.select([self._wake_r], [], [], 0.05)

    def process_request(self, request: Any, client_address: Any) -> None:
        """One daemon thread per connection, tracked so stop() can join it (socketserver
        tracks only non-daemon threads); beyond the connection cap, a 503."""
        with self._conn_lock:
            full = len(self._connections) >= self.limits.max_connections
        if full:
            refuse_socket(request, f"the mock holds its limit of {self.limits.max_connections} connections")
            return
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  daemon=True)
        with self._conn_lock:
            self._threads_started = [t for t in self._threads_started if t.is_alive()]
            self._threads_started.append(thread)
            self._connections.add(request)  # counted from accept, not from the thread's start
        thread.start()

    def join_handlers(self) -> None:
        with self._conn_lock:
            threads, self._threads_started = self._threads_started, []
        for thread in threads:
            thread.join(self.join_timeout)

    def mark_reset(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._reset.add(conn)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            reset = request in self._reset
            self._reset.discard(request)
            self._connections.discard(request)
        if reset:
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def serve_until_stopped(self) -> None:
        """Accept connections until `wake()`; no polling interval, so stopping is immediate."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self.closing:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r or self.closing:
                        return
                    self._handle_request_noblock()  # type: ignore[attr-defined]

    def wake(self) -> None:
        self.closing = True
        self.stopped.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def close_connections(self) -> None:
        """Shut down every open client connection, waking handler threads blocked in recv."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def server_close(self) -> None:
        super().server_close()  # closes the listening socket
        self.join_handlers()
        self._wake_r.close()
        self._wake_w.close()
        if self._reserve_fd is not None:
            os.close(self._reserve_fd)
            self._reserve_fd = None




__all__ = ["ConnectionAborted", "KeepAliveRequestHandler", "MockWSGIServer", "abort_connection"]
