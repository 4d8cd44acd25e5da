"""The httptools callbacks of an asyncio-engine connection: one `Exchange` per request head.

Parsing runs on the loop thread inside `feed_data`; the callbacks only record (limits checked as
the head arrives, header names turned into environ keys at once) and queue the exchange; the
protocol (`aio_protocol.HTTPProtocol`) decides where each request runs.
"""
from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any, cast

from .aio_exchange import HIGH_WATER, Body, Exchange
from .http_framing import FramingError, wants_close
from .wsgi_environ import HEADER_KEYS, environ_key

if TYPE_CHECKING:
    from .aio_protocol import HTTPProtocol
    from .aio_server import AsyncHTTPServer

_DISCARD_LIMIT = 16 << 20  # unread body the server will still read past to keep a connection
_PIPELINE_DEPTH = 16       # parsed requests waiting behind the active one before reading pauses
_INF = float("inf")
_FRAMING_KEYS = frozenset({"HTTP_TRANSFER_ENCODING", "CONTENT_LENGTH", "HTTP_CONNECTION", "HTTP_EXPECT"})
_VERSIONS = {"1.1": (1, 1), "1.0": (1, 0)}
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}


class RequestParsing:
    """The parser side of `HTTPProtocol` (a mixin: the state lives on the protocol)."""

    server: AsyncHTTPServer
    parser: Any
    queue: collections.deque[Exchange]
    parsing: Exchange | None
    waiting: tuple[Exchange, dict[str, Any]] | None
    phase: str
    deadline: float
    paused: bool
    closing: bool
    _url: bytes
    _headers: list[tuple[str, str]]
    _head_bytes: int
    _max_header_bytes: int  # the server's limits, copied per connection (read for every header)
    _max_headers: int

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def submit(self, exchange: Exchange, environ: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_message_begin(self) -> None:
        self._url, self._headers, self._head_bytes = b"", [], 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.server.limits.max_request_line:
            raise FramingError(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = self._head_bytes = self._head_bytes + len(name) + len(value) + 4
        headers = self._headers
        if size > self._max_header_bytes or len(headers) >= self._max_headers:
            raise FramingError(431, "request header fields too large")
        # environ keys straight away (HTTP_USER_AGENT; cached per distinct name)
        headers.append((HEADER_KEYS.get(name) or environ_key(name), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        parser, headers = self.parser, self._headers
        version_text = parser.get_http_version()
        version = _VERSIONS.get(version_text)
        if version is None:
            if not version_text.startswith("1."):
                raise FramingError(505, f"HTTP version {version_text} is not supported")
            version = (1, int(version_text[2:] or 0))
        chunked = length = False
        connection = expect = ""
        for key, value in headers:
            if key in _FRAMING_KEYS:
                if key == "HTTP_TRANSFER_ENCODING":
                    if version < (1, 1):
                        raise FramingError(400, "Transfer-Encoding in an HTTP/1.0 request")
                    chunked = True
                elif key == "CONTENT_LENGTH":
                    length = value.strip() not in ("0", "")
                elif key == "HTTP_CONNECTION":
                    connection = value
                else:
                    expect = value
        has_body = chunked or length
        body = Body(cast("HTTPProtocol", self), expect.strip().lower() == "100-continue") if has_body else None
        method = parser.get_method()
        exchange = Exchange(cast("HTTPProtocol", self), _METHODS.get(method) or method.decode("ascii"), self._url.decode("latin-1"),
                            version, headers, body, chunked)
        exchange.close = wants_close(version, connection) if connection or version != (1, 1) else False
        self.queue.append(exchange)
        self.parsing = exchange if has_body else None
        if has_body:
            self.phase, self.deadline = "body", time.monotonic() + self.server.limits.body_timeout
        else:
            self.phase, self.deadline = "busy", _INF

    def on_body(self, data: bytes) -> None:
        exchange = self.parsing
        if exchange is None or exchange.body is None:
            return
        self.deadline = time.monotonic() + self.server.limits.body_timeout
        if exchange.complete:  # already answered: the rest of its body is skipped
            exchange.body.received += len(data)
            if exchange.body.received > _DISCARD_LIMIT:
                self.closing = True
            return
        body = exchange.body
        body.feed(data)
        if body.size > HIGH_WATER and not self.paused and not body.reader_waiting:
            self.pause()
            if self.waiting is not None:  # too big to hold for an inline run: a worker reads it
                waiting, self.waiting = self.waiting, None
                self.submit(*waiting)
            if body.reader_waiting:  # the app began to wait for more as reading paused (Body.read)
                self.resume()

    def on_message_complete(self) -> None:
        exchange = self.parsing
        if exchange is not None and exchange.body is not None:
            exchange.body.finish()
        self.parsing = None
        self.phase, self.deadline = "busy", _INF
        if len(self.queue) > _PIPELINE_DEPTH and not self.paused:
            self.pause()


__all__ = ["RequestParsing"]
