"""HopClient: the keep-alive HTTP/1.1 client one instance uses for its downstream calls.

Why not urllib3's PoolManager (what hops used before): per call it parsed the URL, normalized a
pool key, and parsed the response head through http.client and email.parser, ~230 us of CPU per
hop here, most of the mesh's budget (all 99 instances share one process and one GIL). This
client keeps idle connections per target (a LIFO stack, up to `maxsize` kept, as urllib3's pool
did), writes the request in one `sendall` and reads the response with httptools (the C parser the
asyncio engine uses). Calls still go over real sockets: the callee's engine, journal and
connection faults see every hop exactly as before.

Failure kinds keep urllib3's names, which the mesh reports ("connection to X failed:
NewConnectionError"): `ConnectFailed` (no connection could be made), `ConnectionBroken`
("ProtocolError": reset, closed, garbage or a truncated body), `HopTimeout` (connect or read
took longer than the call's timeout), `BadResponse` (a body that cannot be decoded).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import zlib
from typing import Any
from urllib.parse import quote

import httptools

__all__ = ["HopClient", "HopError", "ConnectFailed", "ConnectionBroken", "HopTimeout", "BadResponse",
           "USER_AGENT"]

USER_AGENT = "mocktools-mesh"
_RECV = 65536
_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class HopError(Exception):
    """A call that got no usable answer; `name` is what the mesh reports."""

    name = "HTTPError"


class ConnectFailed(HopError):
    name = "NewConnectionError"


class ConnectionBroken(HopError):
    name = "ProtocolError"


class HopTimeout(HopError):
    name = "TimeoutError"


class BadResponse(HopError):
    name = "DecodeError"


class _Reply:
    """httptools callbacks for one response."""

    __slots__ = ("body", "done", "head_done", "framed", "encoding", "head_size", "keep", "parser", "status")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = self.head_done = self.framed = self.keep = False
        self.status = 0
        self.parser: Any = None
        self.encoding = b""
        self.head_size = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size > _MAX_HEAD:
            raise ConnectionBroken("response head too large")
        lower = name.lower()
        if lower == b"content-length" or lower == b"transfer-encoding":
            self.framed = True
        elif lower == b"content-encoding":
            self.encoding = value.strip().lower()

    def on_headers_complete(self) -> None:
        self.head_done = True  # llhttp answers keep-alive only until the message completes
        self.keep = self.parser.should_keep_alive() and not self.parser.should_upgrade()
        self.status = self.parser.get_status_code()

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200 and self.status != 101:  # informational: the answer follows
            self.body.clear()
            self.head_done = self.framed = False
            self.encoding = b""
            return
        self.done = True

    def release(self) -> None:
        """Drop the parser once the exchange is over: reply -> parser -> reply (its callbacks) is a
        cycle that only the cyclic collector frees, ~8 objects per call; under /deep load they made
        ~1,800 of the ~5,500 objects each full pass found dead (bench/README.md, the mesh's tail)."""
        self.parser = None


class _Conn:
    """A blocking socket whose reads and writes time out in the kernel (SO_RCVTIMEO/SO_SNDTIMEO):
    a Python-level socket timeout would poll() before every send and recv, one more syscall, GIL
    release and thread switch per step, where all instances share one GIL."""

    __slots__ = ("sock", "timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.timeout = -1.0
        sock.settimeout(None)

    def set_timeout(self, timeout: float) -> None:
        seconds = max(timeout, 0.001)  # 0 would mean "never" to the kernel
        value = struct.pack("ll", int(seconds), int((seconds % 1) * 1_000_000))  # struct timeval
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
        except OSError:  # a platform with another timeval layout: Python's (polling) timeout
            self.sock.settimeout(seconds)
        self.timeout = timeout


class HopClient:
    """Idle keep-alive connections per (host, port), shared by the instance's threads."""

    def __init__(self, maxsize: int = 16, max_targets: int = 256) -> None:
        self.maxsize = maxsize
        self.max_targets = max_targets  # as urllib3's num_pools: instances come and go (new ports)
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._targets: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.connections_made = 0  # for tests and the bench: how often a call had to connect

    def clear(self) -> None:
        """Close every idle connection (the instance stops); connections in use close when returned."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for stack in idle.values():
            for conn in stack:
                _close(conn.sock)

    def idle_count(self, host: str, port: int) -> int:
        return len(self._idle.get((host, port), ()))

    def get(self, host: str, port: int, path: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        """GET `path` from host:port; returns (status, body). Raises a HopError subclass."""
        key = (host, port)
        request = self._request_bytes(host, port, path, headers)
        conn = self._take(key)
        if conn is None:
            conn = self._connect(host, port, timeout)
        elif conn.timeout != timeout:
            conn.set_timeout(timeout)
        try:
            status, body, keep = self._exchange(conn.sock, request)
        except BaseException:
            _close(conn.sock)
            raise
        if keep:
            self._give(key, conn)
        else:
            _close(conn.sock)
        return status, body

    # ---- connections -----------------------------------------------------------------------------
    def _take(self, key: tuple[str, int]) -> _Conn | None:
        """The most recently used idle connection that is still open (one the peer closed, or sent
        anything unasked on, is readable while idle: dropped, as urllib3 drops it)."""
        stack = self._idle.get(key)
        while stack:
            try:
                conn = stack.pop()
            except IndexError:
                return None
            if _still_open(conn.sock):
                return conn
            _close(conn.sock)  # closed or reset by the peer, or bytes nobody asked for
        return None

    def _give(self, key: tuple[str, int], conn: _Conn) -> None:
        stack = self._idle.get(key)
        if stack is None:
            stack = self._new_target(key)
        if len(stack) >= self.maxsize:
            _close(conn.sock)
        else:
            stack.append(conn)

    def _new_target(self, key: tuple[str, int]) -> list[_Conn]:
        """A stack for a target not seen (or evicted) before; past `max_targets` the oldest
        target's idle connections are closed, so stopped instances' ports do not pile up."""
        with self._lock:
            stale: list[_Conn] = []
            while len(self._idle) >= self.max_targets:
                oldest = next(iter(self._idle))
                stale.extend(self._idle.pop(oldest))
            stack = self._idle.setdefault(key, [])
        for conn in stale:
            _close(conn.sock)
        return stack

    def _connect(self, host: str, port: int, timeout: float) -> _Conn:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise HopTimeout(f"connect to {host}:{port} timed out") from exc
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {host}:{port}: {exc}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            conn.set_timeout(timeout)
        except OSError as exc:
            _close(sock)
            raise ConnectFailed(f"cannot set up the connection to {host}:{port}: {exc}") from exc
        self.connections_made += 1
        return conn

    # ---- one exchange ----------------------------------------------------------------------------
    def _request_bytes(self, host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
        start = self._targets.get(path)
        if start is None:
            if len(self._targets) > 4096:
                self._targets.clear()
            target = quote(path, safe="/%:@!$&'()*+,;=-._~?")
            start = self._targets[path] = f"GET {target} HTTP/1.1\r\n".encode("ascii")
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"Host: {authority}\r\nAccept-Encoding: identity\r\nUser-Agent: {USER_AGENT}\r\n"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"invalid header value for {name!r}")
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        return start + "".join(lines).encode("latin-1")

    def _exchange(self, sock: socket.socket, request: bytes) -> tuple[int, bytes, bool]:
        reply = _Reply()
        parser = reply.parser = httptools.HttpResponseParser(reply)
        trailing = False  # bytes after the response: answered, but this connection is not reused
        try:
            sock.sendall(request)
            size = 0
            while not reply.done:
                data = sock.recv(_RECV)
                if not data:
                    if reply.head_done and not reply.framed:
                        break  # a body delimited by the connection's end is whole now
                    raise ConnectionBroken("the connection closed before the response was complete")
                size += len(data)
                if size > _MAX_BODY + _MAX_HEAD:
                    raise ConnectionBroken("response too large")
                parser.feed_data(data)
        except (TimeoutError, BlockingIOError) as exc:  # SO_RCVTIMEO / SO_SNDTIMEO ran out
            raise HopTimeout("read timed out") from exc
        except (httptools.HttpParserError, ValueError) as exc:
            if not reply.done:
                raise ConnectionBroken(f"malformed response: {exc}") from exc
            trailing = True
        except OSError as exc:
            raise ConnectionBroken(f"{type(exc).__name__}: {exc}") from exc
        finally:
            reply.release()
        body = b"".join(reply.body)
        if reply.encoding and reply.encoding != b"identity":
            body = _decode(body, reply.encoding)
        keep = reply.done and reply.keep and not trailing
        return reply.status, body, keep


def _decode(body: bytes, encoding: bytes) -> bytes:
    """What urllib3 decoded for the caller (gzip, deflate); anything else stays as sent."""
    try:
        if encoding in (b"gzip", b"x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise BadResponse(f"cannot decode a {encoding.decode('latin-1')} body: {exc}") from exc
    return body


def _still_open(sock: socket.socket) -> bool:
    """Whether an idle connection has nothing to read: the peer neither closed it nor sent bytes."""
    try:
        if not _DONTWAIT:  # no non-blocking peek here (Windows)
            return not select.select([sock], [], [], 0)[0]
        sock.recv(1, socket.MSG_PEEK | _DONTWAIT)  # any fd number (select() stops at 1024)
    except BlockingIOError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _close(sock: Any) -> None:
    try:
        sock.close()
    except OSError:
        pass
