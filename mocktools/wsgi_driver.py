"""Runs one WSGI request and frames its response; both engines drive the app through it.

A response with a known Content-Length is buffered and handed to the sink as one write (head and
body together: one syscall, one packet); a streamed response is sent chunk by chunk as the app
yields it, so SSE tokens leave when they are made.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .http_connection import ConnectionAborted
from .http_framing import FramingError, ResponseHead, error_bytes, response_head

_MAX_BUFFER = 1 << 20


class Sink(Protocol):
    def send(self, data: bytes, final: bool) -> None:
        """Write bytes to the client; `final` marks the end of this response. Raises
        ConnectionError once the client is gone."""

    @property
    def close_requested(self) -> bool:
        """Whether the app asked (through the connection handle) to close after this response."""


def run_request(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], sink: Sink, *,
                close: bool, http10: bool, verbose: bool = False) -> bool:
    """Serve one request through `app`; returns whether the connection must close afterwards.

    `verbose` prints an access-log line per request to stderr (`mocktools serve --verbose`)."""
    if verbose:
        try:
            return run_request(app, environ, sink, close=close, http10=http10)
        finally:
            status = environ.get("mocktools.status", "-")
            sys.stderr.write(f'{environ.get("REMOTE_ADDR", "-")} - - [{time.strftime("%d/%b/%Y %H:%M:%S")}] '
                             f'"{environ.get("REQUEST_METHOD")} {environ.get("REQUEST_URI")} '
                             f'{environ.get("SERVER_PROTOCOL")}" {status}\n')
    head_request = environ["REQUEST_METHOD"] == "HEAD"
    state: list[Any] = [None, None]  # status, headers
    head: ResponseHead | None = None
    pending: list[bytes] = []
    sent = buffered = 0
    started = False  # bytes of this response reached the sink

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        if exc_info and head is not None:
            raise exc_info[1].with_traceback(exc_info[2])
        state[0], state[1] = status, headers
        environ["mocktools.status"] = status[:3]
        return write

    def begin() -> ResponseHead:
        nonlocal head
        if state[0] is None:
            raise RuntimeError("the WSGI app did not call start_response")
        head = response_head(state[0], state[1], head_request=head_request, close=close or sink.close_requested,
                             http10=http10)
        pending.append(head.data)
        return head

    def write(data: bytes) -> None:
        nonlocal sent, buffered
        h = head or begin()
        if not data or head_request or h.length == 0:
            return
        if h.chunked:
            pending.extend((b"%x\r\n" % len(data), data, b"\r\n"))
        else:
            pending.append(data)
        sent += len(data)
        buffered += len(data)
        if h.length is None or buffered > _MAX_BUFFER:  # streamed: each piece leaves as it is made
            buffered = 0
            flush(False)

    def flush(final: bool) -> None:
        nonlocal started
        started = True
        data = b"".join(pending)
        pending.clear()
        sink.send(data, final)

    try:
        app_iter = app(environ, start_response)
        try:
            for chunk in app_iter:
                write(chunk)
            h = head or begin()
            if h.chunked:
                pending.append(b"0\r\n\r\n")
            flush(True)
        finally:
            closer = getattr(app_iter, "close", None)
            if closer is not None:
                closer()
    except ConnectionAborted:
        return True
    except FramingError as exc:
        if not started:
            _send_quietly(sink, error_bytes(exc.status, exc.message, exc.type, head_only=head_request))
        return True
    except TimeoutError:
        if not started:
            _send_quietly(sink, error_bytes(408, "timed out reading the request body", head_only=head_request))
        return True
    except (ConnectionError, OSError):
        return True
    except Exception as exc:  # noqa: BLE001
        # The app failed: before the response began that is a 500; after it, the only honest
        # answer is to drop the connection (the mock layer already turned handler errors into 500s).
        if not started:
            _send_quietly(sink, error_bytes(500, f"the WSGI app raised {type(exc).__name__}",
                                            head_only=head_request))
        return True
    assert head is not None
    return head.close


def _send_quietly(sink: Sink, data: bytes) -> None:
    try:
        sink.send(data, True)
    except (ConnectionError, OSError):
        pass


__all__ = ["Sink", "run_request"]
