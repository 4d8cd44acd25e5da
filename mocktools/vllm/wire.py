"""Wire helpers shared by every vLLM route: JSON bodies as vLLM reads them, SSE responses that can
be cut mid-body, and a client-gone probe."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from .. import safe_json
from ..errors import ApiError
from ..http_connection import ClientConnection, connection_of
from ..routing import mimetype_of
from .engine import TRUNCATE
from .protocol import bad_request


def _json_body(request: Request) -> dict[str, Any]:
    """vLLM accepts only application/json bodies and answers every body problem with 400."""
    if mimetype_of(request.environ) != "application/json":  # werkzeug's Request.mimetype, unbuilt
        raise bad_request("Unsupported Media Type: Only 'application/json' is allowed")
    try:
        body = safe_json.loads(request.get_data(cache=True) or b"")  # surrogates replaced, nesting bounded
    except ValueError as exc:
        raise ApiError(400, f"JSON decode error: {exc}", type="Bad Request") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Input should be a valid dictionary or object to extract fields from",
                       type="Bad Request")
    return body


def _sse_bytes(items: Iterable[Any], conn: ClientConnection | None) -> Iterator[bytes]:
    """Pass stream bytes through; on TRUNCATE close the connection so the chunked body never completes."""
    for item in items:
        if item is TRUNCATE:
            if conn is not None:
                conn.abort("close")
            return
        yield item


def sse_response(request: Request, items: Any) -> Response:
    """A streamed ``text/event-stream`` answer over ``items(client_alive, truncate)``: bytes (or
    `Pause`); ``truncate()`` drops the connection so the chunked body never completes (without a
    connection handle ``truncate`` is None and the items may yield TRUNCATE instead)."""
    conn = connection_of(request.environ)  # engine-agnostic (see mocktools.http_connection)
    if conn is None:
        body = _sse_bytes(items(None, None), None)
    else:
        body = items(conn.alive, lambda: conn.abort("close"))
    # direct_passthrough: the body goes to the server as is (werkzeug's per-chunk encode and
    # closing wrappers cost more than building the event itself)
    return Response(body, status=200, content_type="text/event-stream; charset=utf-8", direct_passthrough=True)
