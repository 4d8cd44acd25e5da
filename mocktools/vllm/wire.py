"""Wire helpers shared by every vLLM route: JSON bodies as vLLM reads them, SSE responses that can
be cut mid-body, and a client-gone probe."""
from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterable, Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from ..errors import ApiError
from .engine import TRUNCATE
from .protocol import bad_request


def _json_body(request: Request) -> dict[str, Any]:
    """vLLM accepts only application/json bodies and answers every body problem with 400."""
    if request.mimetype != "application/json":
        raise bad_request("Unsupported Media Type: Only 'application/json' is allowed")
    try:
        body = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"JSON decode error: {exc}", type="Bad Request") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Input should be a valid dictionary or object to extract fields from",
                       type="Bad Request")
    return body


def _socket_alive(sock: socket.socket) -> bool:
    """False once the client has closed its end (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return not readable or sock.recv(1, socket.MSG_PEEK) != b""
    except (OSError, ValueError):
        return False


def _sse_bytes(items: Iterable[Any], sock: socket.socket | None) -> Iterator[bytes]:
    """Pass stream bytes through; on TRUNCATE shut the socket so the chunked body never completes."""
    for item in items:
        if item is TRUNCATE:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return
        yield item


def sse_response(request: Request, items: Any) -> Response:
    """A streamed ``text/event-stream`` answer over ``items(client_alive)`` (bytes or TRUNCATE)."""
    sock = request.environ.get("werkzeug.socket")
    alive = (lambda: _socket_alive(sock)) if sock is not None else None
    return Response(_sse_bytes(items(alive), sock), status=200, content_type="text/event-stream; charset=utf-8")
