"""HTTPMockServer: the lifecycle plus one HTTP listener, with the mock's routes and error shape.

A mock subclass declares routes in `register_routes(router)` and domain controls in
`register_admin_routes(router)`; the HTTP listener (listeners/http.py) records every call,
applies the fault plan before `_dispatch` runs, and translates what handlers raise.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from .clock import Clock
from .control_api import AdminAPI, install_root_page
from .doubles.mixin import TestDoubles
from .faults import FaultDecision
from .http_connection import Deferred
from .lifecycle import MockServerBase
from .listeners.http import HTTPListener, status_type
from .routing import JSONAnswer, Router, answer, json_response

DEFAULT_MAX_BODY = 16 * 1024 * 1024


class HTTPMockServer(TestDoubles, MockServerBase):
    """A mock served over HTTP/1.1 (keep-alive, threaded) on one port."""

    protocol: ClassVar[str] = "HTTP"
    max_body_bytes: ClassVar[int] = DEFAULT_MAX_BODY
    #: paths the fault plan never touches (health and test-reset endpoints); still journaled
    fault_exempt_paths: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 seed: int | None = None, journal_limit: int = 10_000, admin_token: str | None = None,
                 verbose: bool = False, max_body_bytes: int | None = None, engine: str | None = None) -> None:
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit,
                         admin_token=admin_token, verbose=verbose)
        if max_body_bytes is not None:
            self.max_body_bytes = max_body_bytes  # type: ignore[misc]
        self.router = Router()
        self.register_routes(self.router)
        self.admin = AdminAPI(self)
        self.register_admin_routes(self.admin.router)
        install_root_page(self)
        self.http_listener = self.add_listener(HTTPListener(self, port=self._requested_port, site=self, app=self.wsgi_app,
                                                            engine=engine))  # engine: see http_engines

    # -- hooks -------------------------------------------------------------------------------
    def register_routes(self, router: Router) -> None:
        """Add the mock's routes; a bare HTTPMockServer serves none (every path is 404)."""

    def register_admin_routes(self, router: Router) -> None:
        """Add domain controls under /_mock/; the core routes are already there."""

    def error_response(self, status: int, message: str, *, type: str | None = None,
                       headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
        """The error body every 4xx/5xx of this mock uses; override for a protocol's own shape."""
        error = {"code": status, "type": type or status_type(status), "message": message, **extra}
        return json_response({"error": error}, status, headers)

    def fault_response(self, request: Request, decision: FaultDecision) -> Response:
        """The answer to an injected status fault (Retry-After included when set)."""
        headers = {}
        if decision.retry_after is not None:
            headers["Retry-After"] = _format_retry_after(decision.retry_after)
        status = int(decision.status)
        return self.error_response(status, decision.reason, type="injected_fault", headers=headers)

    def serves_inline(self, environ: dict[str, Any]) -> bool:
        """Whether this request may run on the engine's loop thread: its own route is marked
        `inline` and no stub or user route (which may block) could answer it first."""
        return not self._doubles_active and self.router.inline(environ)

    # -- the WSGI app ------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The app the listener serves; a mock may wrap it (the listener applies the glue)."""
        return self.http_listener.serve(environ, start_response)

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response | JSONAnswer:
        """Route one request to the mock's handlers (errors are translated by the listener)."""
        answered = self.dispatch_doubles(request, environ)  # stubs, then test-added routes (doubles/)
        if answered is not None:
            return answered
        handler, args = self.router.match(environ)
        result = handler(request, **args)
        if type(result) is Deferred:  # answered later, on the loop (listener.serve)
            return result  # type: ignore[return-value]
        return answer(result)  # plain JSON skips werkzeug's Response


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


__all__ = ["DEFAULT_MAX_BODY", "HTTPMockServer"]
