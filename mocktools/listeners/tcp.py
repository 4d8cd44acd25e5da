"""The raw TCP listener: a bound socket, one daemon thread per connection, and the one place
where a framed command of any TCP protocol is journaled, meets the fault plan, and has its
handler's errors translated.

A protocol is a function `serve(conn)` that reads frames from `conn.reader` and, for each,
calls `conn.call(path, body, handler, error_reply)`: the listener decides faults for `path`
(latency; `reset`/`close`/`garbage` drop the connection; an injected status becomes the
protocol's error reply), runs `handler()` for the reply bytes, turns a `WireError` into
`error_reply(exc)`, any other exception into `error_reply` of a 500 kept for `check()`, sends
the reply and journals the call. `stop()` closes the socket, wakes and joins every thread.
"""
from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from .. import log
from ..errors import WireError
from ..faults import FaultDecision
from .base import Listener, bind_error, serve_in_thread, url_host

if TYPE_CHECKING:
    from ..lifecycle import MockServerBase

GARBAGE = b"\x00\x17garbage that is not the protocol\xff\r\n"


class ConnectionDropped(Exception):
    """The listener dropped the connection on purpose (an injected fault) or the peer left."""


class TCPConnection:
    """One client connection as a protocol sees it."""

    def __init__(self, listener: TCPListener, sock: socket.socket, peer: Any) -> None:
        self.listener = listener
        self.sock = sock
        self.peer = peer
        self.reader: BinaryIO = sock.makefile("rb")
        self.state: dict[str, Any] = {}  # per-connection protocol state (selected db, protocol version...)
        self._send_lock = threading.Lock()

    @property
    def closing(self) -> bool:
        return self.listener.closing

    def send(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError as exc:
                raise ConnectionDropped(str(exc)) from exc

    def drop(self, kind: str) -> None:
        """Break the connection as a broken network would: `reset`, `close` or `garbage`."""
        try:
            if kind == "garbage":
                self.sock.sendall(GARBAGE)
                self.sock.shutdown(socket.SHUT_RDWR)
            elif kind == "reset":  # SO_LINGER 0 makes close() send RST
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.sock.close()
            else:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise ConnectionDropped(kind)

    def call(self, path: str, body: bytes, handler: Callable[[], bytes | None],
             error_reply: Callable[[WireError], bytes], *, method: str = "TCP",
             meta: dict[str, Any] | None = None, faults: bool = True) -> None:
        """Run one command under the journal, the fault plan (unless `faults` is off, e.g. for a
        protocol's handshake) and error translation."""
        mock = self.listener.mock
        started = time.perf_counter()
        decision = mock.faults.decide(path) if faults else FaultDecision()
        log.fault_applied(mock, method, path, decision)
        if decision.latency > 0:
            mock.stopping.wait(decision.latency)
        status: int | None = 200
        reply: bytes | None = None

        def record() -> None:  # before the reply goes out, so a client that saw it sees the record
            mock.journal.add(time=mock.clock.time(), method=method, path=path, body=body, status=status,
                             duration=time.perf_counter() - started, fault=decision.fault, meta=meta,
                             headers={"peer": f"{self.peer[0]}:{self.peer[1]}"} if self.peer else None)
            log.request(mock, method, path, status, time.perf_counter() - started, decision.fault)

        if decision.connection:
            status = None
            record()
            self.drop(decision.connection)
        if decision.status is not None:
            status = int(decision.status) if str(decision.status).isdigit() else 503
            reply = error_reply(WireError(decision.reason, status=status))
        else:
            try:
                reply = handler()
            except WireError as exc:
                status = exc.wire_status
                reply = error_reply(exc)
            except ConnectionDropped:
                status = None
                record()
                raise
            except Exception as exc:  # noqa: BLE001 - a bug in the mock itself: answer, keep it for check()
                status = 500
                mock.record_error(exc)
                reply = error_reply(WireError(f"mock handler raised {type(exc).__name__}: {exc}", status=500))
        record()
        if reply:
            self.send(reply)

    def close(self) -> None:
        for closer in (self.reader.close, lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close):
            try:
                closer()
            except OSError:
                pass


Protocol = Callable[[TCPConnection], None]


class TCPListener(Listener):
    """One TCP port serving `protocol(conn)` per connection."""

    scheme = "tcp"
    #: how long stop() waits for a connection thread stuck in the mock's own code
    join_timeout = 5.0

    def __init__(self, mock: MockServerBase, protocol: Protocol, *, port: int = 0, host: str | None = None,
                 role: str = "url", scheme: str | None = None, backlog: int = 128) -> None:
        super().__init__(mock, port=port, host=host, role=role)
        self.protocol = protocol
        self.backlog = backlog
        if scheme:
            self.scheme = scheme  # type: ignore[misc]
        self.closing = False
        self._sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._conns: dict[TCPConnection, threading.Thread] = {}

    def bind_and_serve(self) -> int:
        host = url_host(self.host).strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host.strip("[]") or "0.0.0.0", self.requested_port))
            sock.listen(self.backlog)
        except OSError as exc:
            sock.close()
            raise bind_error(self.host, self.requested_port, exc) from exc
        self.closing = False
        self._sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        port = int(sock.getsockname()[1])
        self._accept_thread = serve_in_thread(self._accept_loop, f"mocktools-{self.mock.name}:{port}")
        return port

    def _accept_loop(self) -> None:
        assert self._sock is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self.closing:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r or self.closing:
                        return
                    try:
                        client, peer = self._sock.accept()
                    except OSError:
                        continue
                    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._start_connection(client, peer)

    def _start_connection(self, client: socket.socket, peer: Any) -> None:
        conn = TCPConnection(self, client, peer)
        thread = threading.Thread(target=self._serve_connection, args=(conn,), daemon=True,
                                  name=f"mocktools-{self.mock.name}-conn")
        with self._lock:
            if self.closing:
                conn.close()
                return
            self._conns[conn] = thread
        thread.start()

    def _serve_connection(self, conn: TCPConnection) -> None:
        try:
            self.protocol(conn)
        except (ConnectionDropped, OSError, ValueError):
            pass  # the peer left, a fault dropped it, or stop() closed it
        except Exception as exc:  # noqa: BLE001 - a protocol bug outside any call: keep it for check()
            if not self.closing:
                self.mock.record_error(exc)
        finally:
            conn.close()
            with self._lock:
                self._conns.pop(conn, None)

    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def shutdown(self) -> None:
        self.closing = True
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        if self._accept_thread is not None:
            self._accept_thread.join()
        for sock in (self._sock, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._sock = self._wake_r = self._wake_w = None
        self._accept_thread = None
        with self._lock:
            conns = dict(self._conns)
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in conns.values():
            thread.join(self.join_timeout)


__all__ = ["ConnectionDropped", "Protocol", "TCPConnection", "TCPListener"]
