"""HTTPMockServer: the lifecycle on werkzeug, with journal, faults and errors applied once for all.

A mock subclass declares routes in `register_routes(router)`; this layer records every call,
applies the fault plan before the handler runs, turns handler exceptions into 500s kept for
`check()`, and serves the `/_mock/` control API.
"""
from __future__ import annotations

import io
import threading
import time
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, cast

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from . import log
from .control_api import AdminAPI
from .errors import ApiError
from .faults import FaultDecision
from .routing import Router, json_response, to_response
from .http_engines import make_http_server
from .wsgi_server import ConnectionAborted, MockWSGIServer, abort_connection
from .lifecycle import MockServerBase

DEFAULT_MAX_BODY = 16 * 1024 * 1024


def _headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): value
               for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    return headers


class _BodyTooLarge(Exception):
    pass


class HTTPMockServer(MockServerBase):
    """A mock served over HTTP/1.1 by werkzeug's threaded server in a daemon thread."""

    max_body_bytes: ClassVar[int] = DEFAULT_MAX_BODY
    #: paths the fault plan never touches (health and test-reset endpoints); still journaled
    fault_exempt_paths: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, max_body_bytes: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        if max_body_bytes is not None:
            self.max_body_bytes = max_body_bytes  # type: ignore[misc]  # per-instance override of the class default
        self.router = Router()
        self.register_routes(self.router)
        self.admin = AdminAPI(self)
        self.register_admin_routes(self.admin.router)
        self._server: MockWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- hooks -------------------------------------------------------------------------------
    def register_routes(self, router: Router) -> None:
        """Add the mock's routes; a bare HTTPMockServer serves none (every path is 404)."""

    def register_admin_routes(self, router: Router) -> None:
        """Add domain controls under /_mock/; the core routes are already there."""

    def error_response(self, status: int, message: str, *, type: str | None = None,
                       headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
        """The error body every 4xx/5xx of this mock uses; override for a protocol's own shape."""
        error = {"code": status, "type": type or _status_type(status), "message": message, **extra}
        return json_response({"error": error}, status, headers)

    def fault_response(self, request: Request, decision: FaultDecision) -> Response:
        """The answer to an injected status fault (Retry-After included when set)."""
        headers = {}
        if decision.retry_after is not None:
            headers["Retry-After"] = _format_retry_after(decision.retry_after)
        status = int(decision.status)
        return self.error_response(status, decision.reason, type="injected_fault", headers=headers)

    # -- lifecycle ---------------------------------------------------------------------------
    def _open(self) -> int:
        server = make_http_server(self.host, self._requested_port, self.wsgi_app, verbose=self.verbose)
        thread = threading.Thread(target=server.serve_until_stopped, daemon=True,
                                  name=f"mocktools-{self.name}:{server.port}")
        thread.start()
        self._server, self._thread = server, thread
        return int(server.port)

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.wake()
        if thread is not None:
            thread.join()
        server.close_connections()
        server.server_close()

    # -- the WSGI app ------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/_mock" or path.startswith("/_mock/"):
            return self.admin(environ, start_response)
        started = time.perf_counter()
        fault: str | None = None
        body = b""
        try:
            body = self._read_body(environ)
            request = Request(environ)
            decision = FaultDecision() if path in self.fault_exempt_paths else self.faults.decide(path)
            if decision.latency > 0:
                self.stopping.wait(decision.latency)
            fault = decision.fault
            log.fault_applied(self, environ.get("REQUEST_METHOD", ""), path, decision)
            if decision.connection:
                self._record(environ, path, body, None, started, fault)
                abort_connection(environ, decision.connection)
            if decision.status is not None:
                response = self.fault_response(request, decision)
            else:
                response = self._dispatch(request, environ)
        except _BodyTooLarge:
            environ["mocktools.handler"].close_connection = True
            response = self.error_response(
                413, f"request body exceeds the limit of {self.max_body_bytes} bytes", type="payload_too_large")
        self._record(environ, path, body, response.status_code, started, fault)
        return response(environ, start_response)

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """Read the whole body (bounded), and leave a re-readable copy for the handler."""
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                size = int(length)
            except ValueError:
                size = 0
            if size > self.max_body_bytes:
                raise _BodyTooLarge()
        elif not environ.get("wsgi.input_terminated"):
            return b""
        data = stream.read(self.max_body_bytes + 1)
        if len(data) > self.max_body_bytes:
            raise _BodyTooLarge()
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ["wsgi.input_terminated"] = True  # the body is whole now, whatever the framing was
        return data

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        try:
            handler, args = self.router.match(environ)
            response = to_response(handler(request, **args))
        except ApiError as exc:
            return self.error_response(exc.status, exc.message, type=exc.type, headers=exc.headers, **exc.extra)
        except HTTPException as exc:
            headers = dict(exc.get_headers())
            headers.pop("Content-Type", None)
            return self.error_response(exc.code or 500, f"{exc.description} ({request.method} {request.path})",
                                       type=_status_type(exc.code or 500), headers=headers)
        except Exception as exc:  # a bug in the mock itself: answer 500, keep it for check()
            self.record_error(exc)
            return self.error_response(500, f"mock handler raised {type(exc).__name__}: {exc}",
                                       type="mock_internal_error")
        if response.is_streamed:
            response.response = self._guard_stream(cast("Iterable[bytes]", response.response))
        return response

    def _guard_stream(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from chunks
        except (GeneratorExit, ConnectionAborted):  # a client gone, or a connection fault on purpose
            raise
        except Exception as exc:
            self.record_error(exc)
            raise

    def _record(self, environ: dict[str, Any], path: str, body: bytes, status: int | None,
                started: float, fault: str | None) -> None:
        self.journal.add(time=self.clock.time(), method=environ.get("REQUEST_METHOD", ""), path=path,
                         query=environ.get("QUERY_STRING", ""), headers=_headers_of(environ), body=body,
                         status=status, duration=time.perf_counter() - started, fault=fault,
                         meta=environ.get("mocktools.meta"))
        log.request(self, environ.get("REQUEST_METHOD", ""), path, status, time.perf_counter() - started, fault)


def _status_type(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


__all__ = ["HTTPMockServer", "DEFAULT_MAX_BODY"]
