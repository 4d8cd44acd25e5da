"""The HTTP serving layer: werkzeug's threaded server with keep-alive, quiet logs and a fast stop.

werkzeug 3.1 closes every connection after one response and drains the socket for 10 ms after
it; this handler keeps HTTP/1.1 connections alive instead (with TCP_NODELAY, or Nagle's
algorithm meets the client's delayed ACK and every request stalls ~40 ms), and the server
tracks open connections so `stop()` can close idle keep-alive clients and join every thread.
"""
from __future__ import annotations

import errno
import selectors
import socket
import struct
import threading
from typing import IO, Any, Callable, Iterable, cast

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

from .errors import MockStartError

IDLE_TIMEOUT = 300.0
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding"}


class ConnectionAborted(Exception):
    """Raised by the app after it dropped the connection on purpose (an injected network fault)."""


class KeepAliveRequestHandler(WSGIRequestHandler):
    """A WSGI handler that serves many requests per connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: "MockWSGIServer"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ["mocktools.handler"] = self
        if not environ.get("wsgi.input_terminated"):
            length = environ.get("CONTENT_LENGTH", "")
            try:
                size = max(0, int(length)) if length else 0
            except ValueError:
                size = 0
            environ["wsgi.input"] = LimitedStream(cast("IO[bytes]", self.rfile), size)
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No werkzeug access line: mocktools.log writes one that names the mock (see log.request)."""

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def log_error(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_error(format, *args)

    def _wants_close(self) -> bool:
        return bool(self.close_connection) or self.server.closing

    def run_wsgi(self) -> None:  # noqa: C901 - one linear protocol routine
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        state: dict[str, Any] = {"status": None, "headers": None, "sent": False, "chunked": False}

        def write(data: bytes) -> None:
            if not state["sent"]:
                state["sent"] = True
                code_str, _, msg = state["status"].partition(" ")
                code = int(code_str)
                self.send_response(code, msg)
                keys = set()
                for key, value in state["headers"]:
                    lower = key.lower()
                    if lower in _HOP_HEADERS:
                        if lower == "connection" and value.lower() == "close":
                            self.close_connection = True
                        continue
                    self.send_header(key, value)
                    keys.add(lower)
                if not ("content-length" in keys or self.command == "HEAD"
                        or 100 <= code < 200 or code in (204, 304)):
                    state["chunked"] = True
                    self.send_header("Transfer-Encoding", "chunked")
                if self._wants_close():
                    self.send_header("Connection", "close")
                self.end_headers()
            if data:
                if state["chunked"]:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
            self.wfile.flush()

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            if exc_info and state["sent"]:
                raise exc_info[1].with_traceback(exc_info[2])
            state["status"], state["headers"] = status, headers
            return write

        try:
            app_iter: Iterable[bytes] = self.server.app(environ, start_response)
            try:
                for chunk in app_iter:
                    write(chunk)
                if not state["sent"]:
                    write(b"")
                if state["chunked"]:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
        except ConnectionAborted:
            self.close_connection = True
            return
        except (ConnectionError, socket.timeout, TimeoutError) as exc:
            self.close_connection = True
            self.connection_dropped(exc, environ)
            return
        except Exception:
            # The app failed after the response began: the only honest answer is to drop the
            # connection (the mock layer already turned handler errors into 500s before this).
            self.close_connection = True
            return
        self._drain_body(environ)

    def _drain_body(self, environ: dict[str, Any]) -> None:
        """Consume what is left of the request body so the next request on this connection parses."""
        stream = environ["wsgi.input"]
        try:
            if isinstance(stream, LimitedStream):
                if stream.limit - stream._pos > 16 * 1024 * 1024:
                    self.close_connection = True
                    return
                stream.exhaust()
            else:
                while stream.read(65536):
                    pass
        except (OSError, ValueError):
            self.close_connection = True


class MockWSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server with a wake-up pipe instead of polling, and tracked connections."""

    daemon_threads = True
    #: how long stop() waits for a handler stuck in the mock's own code before giving up on it
    join_timeout = 5.0

    def __init__(self, host: str, port: int, app: Callable, *, verbose: bool = False) -> None:
        self.verbose = verbose
        self.closing = False
        self._connections: set[socket.socket] = set()
        self._reset: set[socket.socket] = set()
        self._threads_started: list[threading.Thread] = []
        self._conn_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        try:
            super().__init__(host, port, app, handler=KeepAliveRequestHandler)
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

    def process_request(self, request: Any, client_address: Any) -> None:
        """One daemon thread per connection, tracked so stop() can join it (socketserver
        tracks only non-daemon threads)."""
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  daemon=True)
        with self._conn_lock:
            self._threads_started = [t for t in self._threads_started if t.is_alive()]
            self._threads_started.append(thread)
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
                    self._handle_request_noblock()  # type: ignore[attr-defined]  # socketserver internal

    def wake(self) -> None:
        self.closing = True
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


def abort_connection(environ: dict[str, Any], kind: str) -> None:
    """Drop the client connection as a broken network would: `reset`, `close` or `garbage`."""
    conn: socket.socket = environ["werkzeug.socket"]
    try:
        if kind == "garbage":
            conn.sendall(b"\x00\x17garbage that is not HTTP\xff\r\n\r\n")
            conn.shutdown(socket.SHUT_RDWR)
        elif kind == "reset":
            # SO_LINGER 0 makes close() send RST; the server skips its graceful SHUT_WR for it.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            environ["mocktools.handler"].server.mark_reset(conn)
        else:
            conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    raise ConnectionAborted(kind)


__all__ = ["MockWSGIServer", "KeepAliveRequestHandler", "ConnectionAborted", "abort_connection"]
