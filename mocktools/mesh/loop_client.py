"""LoopClient: the hop client of an instance's event loop, for hops that run on the loop.

The same exchange as `HopClient` (hop_client.py), never blocking: idle keep-alive connections
per target (a LIFO stack, up to `maxsize` kept), the request written in one write, the answer
parsed with httptools as it arrives, and the call's timeout kept by one loop timer per client
(armed for the earliest deadline of the calls in flight: no timer made and cancelled per call).
A result comes
back through a callback (loop thread): `(status, body)` or the `HopError` the blocking client
would have raised — the same kinds, so a call fails with the same status and error either way.
Every socket it opened is closed by `close()` once the loop is done (the instance stopped).
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httptools

from .hop_client import _MAX_BODY, _MAX_HEAD, ConnectFailed, ConnectionBroken, HopClient, HopError, HopTimeout, \
    _decode, _Reply

if TYPE_CHECKING:
    from .hop_flow import Fetch

__all__ = ["LoopClient"]

Done = Callable[[Any], Any]


class LoopClient:
    """Keep-alive connections per (host, port) on one loop; used only from that loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, blocking: HopClient) -> None:
        self.loop = loop
        self.blocking = blocking  # request bytes and the connection count are shared with it
        self.maxsize, self.max_targets = blocking.maxsize, blocking.max_targets
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._sockets: set[socket.socket] = set()  # every socket still open, closed by close()
        self._conns: set[_Connection] = set()  # every connection made and not yet lost
        self._openings: set[_Opening] = set()
        self._deadlines: dict[_Connection, float] = {}  # calls in flight -> when they time out
        self._timer: Any = None
        self._timer_at = 0.0

    # the timeouts of the calls in flight: one timer, for the earliest deadline
    def watch(self, conn: _Connection, timeout: float) -> None:
        deadline = self.loop.time() + max(timeout, 0.001)
        self._deadlines[conn] = deadline
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = self.loop.call_at(deadline, self._expire), deadline

    def unwatch(self, conn: _Connection) -> None:
        self._deadlines.pop(conn, None)  # the timer stays: it re-arms for what is left when it fires

    def _expire(self) -> None:
        self._timer = None
        now = self.loop.time()
        late = [conn for conn, deadline in self._deadlines.items() if deadline <= now]
        for conn in late:
            del self._deadlines[conn]
            conn.timed_out()
        if self._deadlines and self._timer is None:  # (a call made by a timed-out flow armed it)
            at = min(self._deadlines.values())
            self._timer, self._timer_at = self.loop.call_at(at, self._expire), at

    def idle_count(self, host: str, port: int) -> int:
        return len(self._idle.get((host, port), ()))

    def fetch(self, fetch: Fetch, done: Done) -> Any:
        """Start GET `fetch.path`; `done(result)` follows on the loop, never from inside this call.
        Returns what to `cancel()` if nobody wants the answer any more."""
        request = self.blocking._request_bytes(fetch.host, fetch.port, fetch.path, fetch.headers)
        key = (fetch.host, fetch.port)
        stack = self._idle.get(key)
        if stack:
            conn = stack.pop()
            conn.send(request, fetch.timeout, done)
            return conn
        return _Opening(self, key, request, fetch.timeout, done)

    def give(self, conn: _Connection) -> None:
        stack = self._idle.get(conn.key)
        if stack is None:
            while len(self._idle) >= self.max_targets:  # as HopClient: stopped instances' ports go
                for old in self._idle.pop(next(iter(self._idle))):
                    old.close()
            stack = self._idle[conn.key] = []
        if len(stack) >= self.maxsize:
            conn.close()
        else:
            stack.append(conn)

    def forget(self, conn: _Connection) -> None:
        stack = self._idle.get(conn.key)
        if stack and conn in stack:
            stack.remove(conn)

    def close(self) -> None:
        """Close every connection this client opened: on its loop while that still runs (a loop
        shared with other servers), else its sockets directly (no transport will run again)."""
        loop = self.loop
        if loop.is_running():
            if asyncio._get_running_loop() is loop:
                self._abort_all()
                return
            done = threading.Event()

            def run() -> None:
                self._abort_all()
                loop.call_soon(done.set)  # after the aborted transports' connection_lost
            try:
                loop.call_soon_threadsafe(run)
            except RuntimeError:  # closed meanwhile
                pass
            else:
                done.wait(5)
                return
        self._idle.clear()
        for conn in self._conns:  # as the engine's own closing does: the transport is done with it
            try:
                conn.transport._sock = None
            except AttributeError:  # uvloop's transports keep no Python-level socket
                pass
        self._conns.clear()
        sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass

    def _abort_all(self) -> None:
        self._idle.clear()
        for opening in list(self._openings):
            opening.cancel()
        for conn in list(self._conns):
            conn.cancel()


class _Opening:
    """A connection being made for one request (the rare case: connections are kept alive)."""

    __slots__ = ("client", "done", "key", "request", "sock", "task", "timeout", "timer")

    def __init__(self, client: LoopClient, key: tuple[str, int], request: bytes, timeout: float, done: Done) -> None:
        self.client, self.key, self.request, self.timeout = client, key, request, timeout
        self.done: Done | None = done
        self.sock: socket.socket | None = None
        loop = client.loop
        self.timer = loop.call_later(max(timeout, 0.001), self._timed_out)
        self.task = loop.create_task(self._open())
        client._openings.add(self)

    async def _open(self) -> None:
        client, (host, port) = self.client, self.key
        loop = client.loop
        try:
            address = _address(host, port)
            sock = self.sock = socket.socket(address[0], socket.SOCK_STREAM)
            client._sockets.add(sock)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address[1])
            _, conn = await loop.create_connection(lambda: _Connection(client, self.key, sock), sock=sock)
        except OSError as exc:
            self._drop_socket()
            self._failed(ConnectFailed(f"cannot connect to {host}:{port}: {exc}"))
            return
        except asyncio.CancelledError:  # timed out or cancelled: asyncio closed the transport it made
            self._drop_socket()  # (closed here, on the loop, never under a transport being set up)
            raise
        client._openings.discard(self)
        self.timer.cancel()
        done, self.done = self.done, None
        if done is None:  # cancelled or timed out meanwhile
            conn.close()
            return
        client.blocking.connections_made += 1
        conn.send(self.request, self.timeout, done)

    def _failed(self, error: HopError) -> None:
        self.timer.cancel()
        self.client._openings.discard(self)
        done, self.done = self.done, None
        if done is not None:
            done(error)

    def _timed_out(self) -> None:
        host, port = self.key
        self.task.cancel()  # its CancelledError closes the socket
        self._failed(HopTimeout(f"connect to {host}:{port} timed out"))

    def _drop_socket(self) -> None:
        self.client._openings.discard(self)
        sock, self.sock = self.sock, None
        if sock is not None:
            self.client._sockets.discard(sock)
            sock.close()

    def cancel(self) -> None:
        """Nobody wants the answer: the task ends (and closes its socket) on the loop's next pass;
        a loop that no longer runs leaves the socket to `LoopClient.close`."""
        self.done = None
        self.timer.cancel()
        self.client._openings.discard(self)
        self.task.cancel()


def _address(host: str, port: int) -> tuple[int, tuple[Any, ...]]:
    """(family, sockaddr) without asking the loop's resolver (a thread) for an IP literal."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        return family, sockaddr
    if ip.version == 6:
        return socket.AF_INET6, (str(ip), port, 0, 0)
    return socket.AF_INET, (str(ip), port)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request on it at a time."""

    __slots__ = ("client", "done", "key", "lost", "parser", "reply", "size", "sock", "trailing", "transport")

    def __init__(self, client: LoopClient, key: tuple[str, int], sock: socket.socket) -> None:
        self.client, self.key, self.sock = client, key, sock
        self.transport: Any = None
        self.done: Done | None = None
        self.reply: _Reply | None = None
        self.parser: Any = None
        self.size = 0
        self.lost = self.trailing = False

    def send(self, request: bytes, timeout: float, done: Done) -> None:
        reply = self.reply = _Reply()
        self.parser = reply.parser = httptools.HttpResponseParser(reply)
        self.done, self.size, self.trailing = done, 0, False
        self.client.watch(self, timeout)
        self.transport.write(request)

    # asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.client._conns.add(self)

    def data_received(self, data: bytes) -> None:
        reply = self.reply
        if self.done is None or reply is None:  # bytes nobody asked for: not reusable (as HopClient)
            self.close()
            return
        self.size += len(data)
        if self.size > _MAX_BODY + _MAX_HEAD:
            self._fail(ConnectionBroken("response too large"))
            return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, ValueError) as exc:
            if not reply.done:
                self._fail(ConnectionBroken(f"malformed response: {exc}"))
                return
            self.trailing = True  # answered, but this connection is not reused
        if reply.done:
            self._answered(reply.keep and not self.trailing)

    def eof_received(self) -> bool:
        self._ended("the connection closed before the response was complete")
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = True
        self.client.forget(self)
        self.client._sockets.discard(self.sock)
        self.client._conns.discard(self)
        self._ended(f"{type(exc).__name__}: {exc}" if exc is not None
                    else "the connection closed before the response was complete")

    # the exchange
    def _ended(self, why: str) -> None:
        reply = self.reply
        if self.done is None or reply is None:
            self.client.forget(self)
            return
        if reply.head_done and not reply.framed:
            self._answered(False)  # a body delimited by the connection's end is whole now
        else:
            self._fail(ConnectionBroken(why))

    def _answered(self, keep: bool) -> None:
        reply, done = self.reply, self.done
        self.reply, self.done = None, None
        self.client.unwatch(self)
        assert reply is not None and done is not None
        reply.release()
        body = b"".join(reply.body)
        result: Any
        try:
            result = (reply.status, _decode(body, reply.encoding) if reply.encoding and
                      reply.encoding != b"identity" else body)
        except HopError as exc:
            result = exc
        if keep and not self.lost:
            self.client.give(self)  # back before the caller goes on: its next call may take it
        else:
            self.close()
        done(result)

    def _fail(self, error: HopError) -> None:
        if self.reply is not None:
            self.reply.release()
        done, self.done, self.reply = self.done, None, None
        self.client.unwatch(self)
        self.close()
        if done is not None:
            done(error)

    def timed_out(self) -> None:
        self._fail(HopTimeout("read timed out"))

    def cancel(self) -> None:
        """Nobody wants the answer any more: the connection cannot be reused."""
        if self.reply is not None:
            self.reply.release()
        self.done = self.reply = None
        self.client.unwatch(self)
        self.close()

    def close(self) -> None:
        self.client.forget(self)
        if not self.lost and self.transport is not None:
            self.lost = True
            self.transport.abort()
