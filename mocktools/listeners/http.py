"""The HTTP listener: a WSGI server from `make_http_server`, and the one place where an HTTP
request is journaled, meets the fault plan, and has its handler's errors translated.

Order per request: `/_mock/` goes to the control API untouched; otherwise read the body
(bounded), decide faults (latency, a dropped connection, an injected status), route through
`site._dispatch`, turn a `WireError` into the mock's error shape, any other exception into a
500 kept for `check()`, and journal what was answered. A handler on the asyncio engine's loop
may answer with a `Deferred` (http_connection): the request is then suspended on the loop and
translated and journaled the same way once the deferred is settled.
"""
from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NoReturn

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from .. import gc_tuning, log
from ..errors import WireError
from ..faults import FaultDecision
from ..http_connection import ConnectionAborted, Deferred, Suspend, abort_connection, close_after_response
from ..http_engines import make_http_server
from ..routing import JSONAnswer, LazyRequest, answer
from .base import Listener, serve_in_thread

if TYPE_CHECKING:
    from ..http_mock import HTTPMockServer
    from ..lifecycle import MockServerBase

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


_NO_FAULT = FaultDecision()  # never changed: what a fault-exempt path meets


class BodyTooLarge(Exception):
    pass


_NAMES: dict[str, str] = {}  # environ key -> header name ("HTTP_X_REQUEST_ID" -> "X-Request-Id")
_MAX_NAMES = 4096


def _header_name(key: str) -> str:
    name = key[5:].replace("_", "-").title()
    if len(_NAMES) < _MAX_NAMES:  # bounded: a client sending random header names cannot grow it
        _NAMES[key] = name
    return name


def headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request headers as the journal shows them (names title-cased, as werkzeug's)."""
    names = _NAMES
    headers = {names.get(key) or _header_name(key): value
               for key, value in environ.items() if key[:5] == "HTTP_"}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["Content-Length"] = environ["CONTENT_LENGTH"]
    return headers


def header_items(environ: Mapping[str, Any]) -> tuple[str, ...]:
    """`headers_of` flat, ``(name, value, name, value, ...)``: what the journal keeps (`Journal.note`)."""
    names = _NAMES
    flat: list[str] = []
    for key, value in environ.items():
        if key[:5] == "HTTP_":
            flat += (names.get(key) or _header_name(key), value)
    if environ.get("CONTENT_TYPE"):
        flat += ("Content-Type", environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        flat += ("Content-Length", environ["CONTENT_LENGTH"])
    return tuple(flat)


def status_type(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


class HTTPListener(Listener):
    """One HTTP port. With `app` it serves that WSGI app as is (a control-only port); without,
    it serves `serve()` for `site`, the HTTP mock whose routes, error shape and faults apply."""

    scheme = "http"

    def __init__(self, mock: MockServerBase, *, port: int = 0, host: str | None = None, role: str = "url",
                 app: WSGIApp | None = None, site: HTTPMockServer | None = None, engine: str | None = None) -> None:
        super().__init__(mock, port=port, host=host, role=role)
        self.engine = engine  # None: $MOCKTOOLS_HTTP_ENGINE or the default (http_engines)
        #: a running asyncio loop (another thread's) to serve on beside other servers (make_http_server)
        self.shared_loop: Any = None
        self.site = site
        self.app: WSGIApp = app if app is not None else self.serve
        self._server: Any = None
        self._thread: Any = None
        #: deferred answers whose client went away, still being worked on (loop thread; see _gone)
        self._orphans: dict[int, Callable[[], None]] = {}

    def bind_and_serve(self) -> int:
        server = make_http_server(self.host, self.requested_port, self.app, verbose=self.mock.verbose,
                                  engine=self.engine, inline=self.inline_ok if self.site is not None else None,
                                  shared_loop=self.shared_loop)
        self._thread = serve_in_thread(server.serve_until_stopped, f"mocktools-{self.mock.name}:{server.port}")
        self._server = server
        gc_tuning.freeze_if_asked()  # only with $MOCKTOOLS_GC_FREEZE: process-wide, so opt-in
        return int(server.port)

    def shutdown(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.wake()
        if thread is not None:
            thread.join()
        server.close_connections()
        server.server_close()
        orphans, self._orphans = self._orphans, {}
        for journal_stopped in orphans.values():  # deferred answers whose client had gone: cut by the stop
            journal_stopped()

    def inline_ok(self, environ: dict[str, Any]) -> bool:
        """Whether the engine may run this request on its loop thread: the site's route is marked
        `inline` and no fault can hold it (control routes may wait, so they never run inline)."""
        site = self.site
        path = environ.get("PATH_INFO") or "/"
        if site is None or path.startswith("/_mock"):
            return False
        return site.serves_inline(environ) and not site.faults.may_delay(path)

    # -- the glue ----------------------------------------------------------------------------
    def serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        site = self.site
        assert site is not None, "an HTTPListener without a site serves its own app"
        path = environ.get("PATH_INFO") or "/"
        if path == "/_mock" or path.startswith("/_mock/"):
            return site.admin(environ, start_response)
        started = environ["mocktools.started"] = time.perf_counter()
        fault: str | None = None
        response: Response | JSONAnswer
        body = b""
        try:
            body = self._read_body(environ, site.max_body_bytes)
            request = LazyRequest(environ)  # built on first use: the mock's own JSON routes rarely need it
            decision = _NO_FAULT if path in site.fault_exempt_paths else site.faults.decide(path)
            if decision.latency > 0:
                site.stopping.wait(decision.latency)
                if site.stopping.is_set():  # stopped while held: go away as a stopped server does
                    self._record(environ, path, body, None, started, "stopped")
                    abort_connection(environ, "close")
            fault = decision.fault
            if fault or decision.latency:
                log.fault_applied(self.mock, environ.get("REQUEST_METHOD", ""), path, decision)
            if decision.connection:
                self._record(environ, path, body, None, started, fault)
                abort_connection(environ, decision.connection)
            if decision.status is not None:
                response = site.fault_response(request, decision)
            else:
                response = self.dispatch(request, environ)
        except BodyTooLarge:
            close_after_response(environ)
            response = site.error_response(
                413, f"request body exceeds the limit of {site.max_body_bytes} bytes", type="payload_too_large")
        if type(response) is Deferred:
            return self._answer_later(response, request, environ, start_response, path, body, started, fault)
        self._record(environ, path, body, response.status_code, started, fault)
        return response(environ, start_response)

    def dispatch(self, request: Request, environ: dict[str, Any]) -> Response | JSONAnswer:
        """Route through the site; translate what its handlers raise (the only place that does).
        A handler on the loop may return a `Deferred` (http_connection): `serve` answers it later."""
        site = self.site
        assert site is not None
        try:
            response = site._dispatch(request, environ)
        except ConnectionAborted:  # dropped on purpose (a stub, or a handler seeing stop()), already journaled
            raise
        except Exception as exc:  # noqa: BLE001 - translated (a bug in the mock: a 500 kept for check())
            return self._translate(exc, request)
        return self._guarded(response)

    def _guarded(self, response: Any) -> Any:
        if isinstance(response, Response) and response.is_streamed:
            response.response = self._guard_stream(response.response)  # type: ignore[arg-type]
        return response

    def _translate(self, exc: Exception, request: Request) -> Response:
        """What a handler raised, as the mock's error answer."""
        site = self.site
        assert site is not None
        if isinstance(exc, WireError):
            return site.error_response(exc.wire_status, exc.message, type=exc.type, headers=exc.headers, **exc.extra)
        if isinstance(exc, HTTPException):
            headers = dict(exc.get_headers())
            headers.pop("Content-Type", None)
            code = exc.code or 500
            return site.error_response(code, f"{exc.description} ({request.method} {request.path})",
                                       type=status_type(code), headers=headers)
        site.record_error(exc)
        return site.error_response(500, f"mock handler raised {type(exc).__name__}: {exc}", type="mock_internal_error")

    def _settled(self, deferred: Deferred, request: Request) -> Response | JSONAnswer:
        """A settled Deferred's answer, translated as `dispatch` translates (a drop re-raised)."""
        error = deferred.error
        if error is None:
            value = deferred.value  # anything a handler may return
            return self._guarded(value if isinstance(value, (Response, JSONAnswer)) else answer(value))  # type: ignore[no-any-return]
        if isinstance(error, ConnectionAborted) or not isinstance(error, Exception):
            raise error  # dropped on purpose, already journaled
        return self._translate(error, request)

    def _answer_later(self, deferred: Deferred, request: Request, environ: dict[str, Any],
                      start_response: Callable[..., Any], path: str, body: bytes, started: float,
                      fault: str | None) -> Iterator[Any]:
        """The body of a deferred answer: suspended (on the loop) until it is settled, then
        journaled and answered as `serve` does. Closed while suspended: the server stops (the
        work is cancelled, the request journaled as dropped) or the client went away (the work
        goes on and is journaled with its status when it is answered, as on a worker)."""
        if not deferred.done:
            suspend = Suspend()
            deferred.then(suspend.resume)
            try:
                yield suspend
            except GeneratorExit:
                self._gone(deferred, request, environ, path, body, started, fault)
                raise
        response = self._settled(deferred, request)
        self._record(environ, path, body, response.status_code, started, fault)
        app_iter = response(environ, start_response)
        try:
            yield from app_iter
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()

    def _gone(self, deferred: Deferred, request: Request, environ: dict[str, Any], path: str, body: bytes,
              started: float, fault: str | None) -> None:
        if self.mock.stopping.is_set():
            deferred.cancel()
            self._record(environ, path, body, None, started, "stopped")
            return

        def journal() -> None:
            orphans.pop(id(deferred), None)
            try:
                status = self._settled(deferred, request).status_code
            except BaseException:  # noqa: BLE001 - dropped on purpose: already journaled
                return
            self._record(environ, path, body, status, started, fault)
        orphans = self._orphans  # journaled as stopped if the server stops first (shutdown)
        orphans[id(deferred)] = lambda: self._record(environ, path, body, None, started, "stopped")
        deferred.then(journal)

    def drop(self, environ: dict[str, Any], fault: str, kind: str = "close") -> NoReturn:
        """Journal this request as answered by a dropped connection, then drop it: for a handler
        that must go away as a stopped server does (it was held while the mock stopped)."""
        stream = environ.get("wsgi.input")
        body = stream.getvalue() if isinstance(stream, io.BytesIO) else b""
        self._record(environ, environ.get("PATH_INFO") or "/", body, None,
                     environ.get("mocktools.started", time.perf_counter()), fault)
        abort_connection(environ, kind)
        raise AssertionError("unreachable")  # abort_connection always raises

    def _guard_stream(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from chunks
            if self.mock.stopping.is_set():  # cut by stop(): no terminating chunk, so it looks incomplete
                raise ConnectionAborted("stopped")
        except (GeneratorExit, ConnectionAborted):  # a client gone, or a connection fault on purpose
            raise
        except Exception as exc:
            self.mock.record_error(exc)
            raise

    @staticmethod
    def _read_body(environ: dict[str, Any], limit: int) -> bytes:
        """Read the whole body (bounded), and leave a re-readable copy for the handler."""
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                size = int(length)
            except ValueError:
                size = 0
            if size > limit:
                raise BodyTooLarge()
        elif not environ.get("wsgi.input_terminated"):
            return b""
        data = environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            raise BodyTooLarge()
        environ["wsgi.input"] = io.BytesIO(data)
        environ["mocktools.body"] = data  # what LazyRequest.get_data answers
        environ["CONTENT_LENGTH"] = str(len(data))
        environ["wsgi.input_terminated"] = True  # the body is whole now, whatever the framing was
        return data

    def _record(self, environ: dict[str, Any], path: str, body: bytes, status: int | None,
                started: float, fault: str | None) -> None:
        mock = self.mock
        method = environ.get("REQUEST_METHOD", "")
        duration = time.perf_counter() - started
        mock.journal.note(mock.clock.time(), method, path, environ.get("QUERY_STRING", ""), header_items(environ),
                          body, status, duration, fault, environ.get("mocktools.meta"))
        log.request(mock, method, path, status, duration, fault)


__all__ = ["HTTPListener", "WSGIApp", "header_items", "headers_of", "status_type"]
