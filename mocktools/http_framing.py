"""HTTP/1.1 framing both engines share: limits, strict RFC 9112 rules, JSON error pages, responses.

The asyncio engine parses with httptools (llhttp, strict by default); the werkzeug engine reads
from a blocking stream and uses the strict head parser and chunked reader here, so both reject
the same smuggling patterns (a header line without a colon, whitespace before the colon,
differing or malformed Content-Length, Content-Length with Transfer-Encoding) with a 400 and a
closed connection, and both answer server-level errors in the mock's JSON error shape.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import IO

HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding"})
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) HTTP/(\d)\.(\d)\r\n\Z")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r\n\Z")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class ServerLimits:
    """Per-server protections; every HTTP engine applies the same ones."""

    max_request_line: int = 65536       # longer request line: 414 (http.server's own limit)
    max_header_bytes: int = 65536       # request head larger than this: 431
    max_headers: int = 200              # more header fields: 431
    header_timeout: float = 10.0        # a request head must arrive whole within this (slowloris): 408
    body_timeout: float = 30.0          # longest silence while a request body is being read: 408
    idle_timeout: float = 300.0         # an idle keep-alive connection is closed after this
    max_connections: int = 16384        # beyond this a new connection is answered 503 and closed


DEFAULT_LIMITS = ServerLimits()


class FramingError(Exception):
    """A request the server must refuse before (or instead of) the app: answered, then closed."""

    def __init__(self, status: int, message: str, type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or status_type(status)


def status_type(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


_date_cache: tuple[int, bytes] = (0, b"")


def http_date() -> bytes:
    """The `Date` header value, formatted once per second rather than once per response."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode("ascii"))
    return _date_cache[1]


def error_bytes(status: int, message: str, type: str | None = None, *, head_only: bool = False,
                extra_headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A whole `Connection: close` response with the mock's JSON error body."""
    body = json.dumps({"error": {"code": status, "type": type or status_type(status), "message": message}},
                      separators=(",", ":")).encode()
    phrase = _phrase(status)
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, phrase), b"Server: mocktools\r\nDate: " + http_date() + b"\r\n",
             b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n" % len(body)]
    lines.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in extra_headers)
    lines.append(b"\r\n")
    if not head_only:
        lines.append(body)
    return b"".join(lines)


def _phrase(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"UNKNOWN"


class ResponseHead:
    __slots__ = ("chunked", "close", "data", "length")

    def __init__(self, data: bytes, chunked: bool, length: int | None, close: bool) -> None:
        self.data, self.chunked, self.length, self.close = data, chunked, length, close


_PLAIN, _HOP, _LENGTH, _SERVER, _DATE = range(5)
_HEADER_KINDS: dict[str, int] = {}  # response header name -> what response_head must do with it


def _header_kind(key: str) -> int:
    lower = key.lower()
    kind = (_HOP if lower in HOP_HEADERS else _LENGTH if lower == "content-length" else
            _SERVER if lower == "server" else _DATE if lower == "date" else _PLAIN)
    if len(_HEADER_KINDS) < 4096:
        _HEADER_KINDS[key] = kind
    return kind


def response_head(status: str, headers: Iterable[tuple[str, str]], *, head_request: bool,
                  close: bool, http10: bool) -> ResponseHead:
    """Serialize a WSGI status and header list; decides chunking and whether to close after it."""
    code = int(status[:3])
    parts = ["HTTP/1.1 ", status, "\r\n"]
    length: int | None = None
    seen_server = seen_date = False
    kinds = _HEADER_KINDS
    for key, value in headers:
        kind = kinds.get(key)
        if kind is None:
            kind = _header_kind(key)
        if kind:
            if kind == _HOP:
                if key.lower() == "connection" and "close" in value.lower():
                    close = True
                continue
            if kind == _LENGTH:
                try:
                    length = int(value)
                except ValueError:
                    continue
            elif kind == _SERVER:
                seen_server = True
            else:
                seen_date = True
        parts += (key, ": ", value, "\r\n")
    if not seen_server:
        parts.append("Server: mocktools\r\n")
    bodyless = head_request or 100 <= code < 200 or code in (204, 304)
    chunked = False
    if length is None and not bodyless:
        if http10:
            close = True  # HTTP/1.0 cannot chunk: the end of the body is the close
        else:
            chunked = True
            parts.append("Transfer-Encoding: chunked\r\n")
    if close:
        parts.append("Connection: close\r\n")
    elif http10:
        parts.append("Connection: keep-alive\r\n")
    data = "".join(parts).encode("latin-1")
    data = data + b"\r\n" if seen_date else b"%sDate: %s\r\n\r\n" % (data, http_date())
    return ResponseHead(data, chunked, 0 if bodyless else length, close)


def wants_close(version: tuple[int, int], connection: str) -> bool:
    """Whether the request asks the server to close after answering (RFC 9112 section 9.3)."""
    tokens = {t.strip().lower() for t in connection.split(",")} if connection else set()
    if version >= (1, 1):
        return "close" in tokens
    return "keep-alive" not in tokens


# -- the strict parser for blocking streams (the werkzeug engine) --------------------------------
@dataclass
class RequestHead:
    method: str
    target: str
    version: tuple[int, int]
    headers: list[tuple[str, str]]
    content_length: int | None
    chunked: bool


def read_request_head(rfile: IO[bytes], limits: ServerLimits = DEFAULT_LIMITS) -> RequestHead | None:
    """Read and validate one request head; None on a clean end of stream before it began."""
    line = rfile.readline(limits.max_request_line + 3)
    if line in (b"\r\n", b"\n"):  # RFC 9112 2.2: ignore one empty line before the request line
        line = rfile.readline(limits.max_request_line + 3)
    if not line:
        return None
    if len(line) > limits.max_request_line + 2 or not line.endswith(b"\n"):
        raise FramingError(414 if len(line) > limits.max_request_line else 400,
                           "request line too long" if len(line) > limits.max_request_line
                           else "request line is not terminated by CRLF")
    match = _REQUEST_LINE.match(line)
    if match is None:
        raise FramingError(400, "malformed request line")
    method, target, major, minor = match.groups()
    if major != b"1":
        raise FramingError(505, f"HTTP version {major.decode()}.{minor.decode()} is not supported")
    headers: list[tuple[str, str]] = []
    total = len(line)
    while True:
        line = rfile.readline(limits.max_header_bytes + 1)
        total += len(line)
        if total > limits.max_header_bytes or len(headers) > limits.max_headers:
            raise FramingError(431, "request header fields too large")
        if line == b"\r\n":
            break
        if not line.endswith(b"\r\n"):
            raise FramingError(400, "request head ended early or a header line is not terminated by CRLF")
        if line[:1] in (b" ", b"\t"):
            raise FramingError(400, "obsolete line folding in a header is not accepted")
        name, sep, value = line[:-2].partition(b":")
        if not sep:
            raise FramingError(400, "header line without a colon")
        if not _TOKEN.match(name):
            raise FramingError(400, "invalid header field name (whitespace before the colon?)")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise FramingError(400, "invalid character in a header value")
        headers.append((name.decode("ascii"), value.decode("latin-1")))
    version = (1, int(minor))
    length, chunked = body_framing(headers, version)
    return RequestHead(method.decode("ascii"), target.decode("latin-1"), version, headers, length, chunked)


def parse_content_length(values: list[str]) -> int:
    """RFC 9110 8.6: digits only; repeated values must all agree."""
    found: set[str] = set()
    for value in values:
        for item in value.split(","):
            item = item.strip(" \t")
            if not item.isdigit() or not item.isascii():
                raise FramingError(400, f"invalid Content-Length {value!r}")
            found.add(item.lstrip("0") or "0")
    if len(found) != 1:
        raise FramingError(400, "differing Content-Length values")
    return int(found.pop())


def body_framing(headers: list[tuple[str, str]], version: tuple[int, int]) -> tuple[int | None, bool]:
    """(content length, chunked) for a request, or FramingError for framing RFC 9112 forbids."""
    lengths = [v for k, v in headers if k.lower() == "content-length"]
    codings = [v for k, v in headers if k.lower() == "transfer-encoding"]
    if codings:
        if lengths:
            raise FramingError(400, "Content-Length together with Transfer-Encoding")
        if version < (1, 1):
            raise FramingError(400, "Transfer-Encoding in an HTTP/1.0 request")
        items = [c.strip(" \t").lower() for v in codings for c in v.split(",")]
        if items[-1] != "chunked" or items.count("chunked") != 1:
            raise FramingError(400, "Transfer-Encoding must end with a single chunked")
        if items != ["chunked"]:
            raise FramingError(501, f"transfer coding {', '.join(items[:-1])} is not implemented")
        return None, True
    if lengths:
        return parse_content_length(lengths), False
    return None, False


class LengthReader:
    """A Content-Length request body; a read past a short body fails instead of returning less."""

    def __init__(self, rfile: IO[bytes], length: int) -> None:
        self._rfile = rfile
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        want = self.remaining if size is None or size < 0 else min(size, self.remaining)
        if want <= 0:
            return b""
        data = self._rfile.read(want)
        if len(data) < want:
            self.remaining = 0
            raise FramingError(400, "request body ended before its Content-Length")
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        want = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._rfile.readline(want) if want > 0 else b""
        self.remaining -= len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(65536), b"")

    def exhaust(self) -> None:
        while self.remaining > 0 and self.read(min(self.remaining, 65536)):
            pass


class ChunkedReader:
    """A strict chunked request body (extensions skipped, trailers read and dropped)."""

    def __init__(self, rfile: IO[bytes], max_line: int = 4096) -> None:
        self._rfile = rfile
        self._left = 0
        self._done = False
        self._max_line = max_line

    def _next_chunk(self) -> None:
        line = self._rfile.readline(self._max_line)
        match = _CHUNK_SIZE.match(line)
        if match is None:
            if len(line) >= self._max_line or re.match(rb"[0-9A-Fa-f]{17}", line):
                raise FramingError(400, "chunk size overflows")
            raise FramingError(400, "invalid chunk size line")
        self._left = int(match.group(1), 16)
        if self._left == 0:
            self._done = True
            for _ in range(100):  # trailer section, ended by an empty line
                trailer = self._rfile.readline(self._max_line)
                if trailer == b"\r\n":
                    return
                if not trailer.endswith(b"\r\n") or b":" not in trailer:
                    raise FramingError(400, "invalid trailer section")
            raise FramingError(431, "too many trailer fields")

    def read(self, size: int = -1) -> bytes:
        out: list[bytes] = []
        want = size if size is not None and size >= 0 else 1 << 62
        while want > 0 and not self._done:
            if self._left == 0:
                self._next_chunk()
                continue
            data = self._rfile.read(min(self._left, want, 1 << 20))
            if not data:
                raise FramingError(400, "request body ended inside a chunk")
            out.append(data)
            self._left -= len(data)
            want -= len(data)
            if self._left == 0 and self._rfile.read(2) != b"\r\n":
                raise FramingError(400, "chunk data not followed by CRLF")
        return b"".join(out)

    def readline(self, size: int = -1) -> bytes:
        return self.read(size if size and size > 0 else 65536)

    def __iter__(self) -> ChunkedReader:
        return self

    def __next__(self) -> bytes:
        data = self.read(65536)
        if not data:
            raise StopIteration
        return data

    @property
    def done(self) -> bool:
        return self._done



def refuse_socket(conn: socket.socket, message: str) -> None:
    """Answer a connection the server will not serve with a 503 and close it (never blocks)."""
    try:
        conn.setblocking(False)
        conn.send(error_bytes(503, message, "service_unavailable", extra_headers=[("Retry-After", "1")]))
    except OSError:
        pass
    finally:
        conn.close()


def shed_one_client(listener: socket.socket, reserve_fd: int | None,
                    refuse: Callable[[socket.socket, str], None]) -> int | None:
    """Out of descriptors: free the reserve fd, accept one waiting client and answer it 503 through it,
    then take the reserve again (returned; None if it could not be had). Both engines shed this way
    instead of spinning on a listening socket that stays readable."""
    if reserve_fd is None:
        return None
    os.close(reserve_fd)
    try:
        conn, _ = listener.accept()
        refuse(conn, "the mock is out of file descriptors")
    except OSError:
        pass
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return None

__all__ = ["refuse_socket", "shed_one_client", 
    "DEFAULT_LIMITS",
    "HOP_HEADERS",
    "ChunkedReader",
    "FramingError",
    "LengthReader",
    "RequestHead",
    "ServerLimits",
    "body_framing",
    "error_bytes",
    "http_date",
    "parse_content_length",
    "read_request_head",
    "response_head",
    "status_type",
    "wants_close",
]
