"""The HTTP control API under /_mock/: the same controls as the Python API, for another process.

Every route is a declared `ControlRoute` (control_schema.py): its JSON Schema validates the
input (400 naming the field) and documents it in `/_mock/openapi.json` and `/_mock/docs`.
Bound to a non-loopback host, every control call needs the mock's token
(`Authorization: Bearer <token>` or `X-Mock-Token: <token>`); `requires_token` puts a public
test-reset route of a mock under the same rule.
"""
from __future__ import annotations

import functools
import hmac
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from . import faults as fp
from .control_schema import (
    BOOLEAN, PATH, RETRY_AFTER, STATUS, STRING, ControlRoute, enum, integer, nullable, number, obj)
from .errors import ApiError
from .journal import WaitInterrupted
from .routing import Router, json_response, to_response
from .wsgi_server import ConnectionAborted, abort_connection

if TYPE_CHECKING:
    from .lifecycle import MockServerBase

log = logging.getLogger("mocktools.control")
#: the longest a `/_mock/calls/wait` may park (seconds)
MAX_WAIT = 60.0
#: the largest control body (a reply table or a query result can be big; a gigabyte is not)
MAX_CONTROL_BODY = 16 * 1024 * 1024
#: the shared controls' schemas, built once
_PATH = nullable(PATH)
_CALLS = obj(limit=integer(0, 100_000, default=100), path=PATH, method=STRING)
_COUNT = obj(path=PATH)
_WAIT = obj(n=integer(0, default=1), timeout=number(0.0, MAX_WAIT, default=5.0), path=_PATH)
_FAILURE_COUNT = obj(["n"], n=integer(), status=STATUS, path=_PATH, retry_after=RETRY_AFTER)
_PERMANENT = obj(enabled=BOOLEAN, status=STATUS, path=_PATH, retry_after=RETRY_AFTER)
_RATE_LIMIT = obj(["limit"], limit=nullable(integer()), window=number(0.0, fp.MAX_WINDOW, exclusive_minimum=True),
                  path=_PATH, retry_after=RETRY_AFTER)
_LATENCY = obj(seconds=number(), distribution=enum(*fp.DISTRIBUTIONS), low=nullable(number()),
               high=nullable(number()), mean=nullable(number()), stddev=nullable(number()),
               seed=nullable(integer(-fp.MAX_SEED, fp.MAX_SEED)), path=_PATH)
_CONNECTION = obj(["kind"], kind=nullable(enum(*fp.CONNECTION_FAULTS)), count=nullable(integer()), path=_PATH)


class ControlRouter(Router):
    """The /_mock/ router: remembers each declared control (for the listing and OpenAPI), and
    the routes added the old way with `add()` (listed as undeclared)."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[ControlRoute] = []
        self.undeclared: list[tuple[str, tuple[str, ...]]] = []

    def add_control(self, route: ControlRoute) -> None:
        Router.add(self, route.path, route, methods=[route.method])
        self.controls.append(route)

    def add(self, rule: str, handler: Callable[..., Any], methods: Iterable[str] = ("GET",), *,
            inline: bool = False) -> None:
        methods = tuple(m.upper() for m in methods)
        super().add(rule, handler, methods)  # control routes never run inline (some of them wait)
        self.undeclared.append((rule, methods))


def add_controls(router: Router, routes: Iterable[ControlRoute]) -> None:
    """Mount declared controls on a mock's /_mock/ router (what every package's controls.py uses)."""
    for route in routes:
        if isinstance(router, ControlRouter):
            router.add_control(route)
        else:
            router.add(route.path, route, methods=[route.method])


def token_ok(mock: MockServerBase, request: Request) -> bool:
    """True when the mock needs no token (loopback) or the request carries it."""
    token = mock.admin_token
    if not token:
        return True
    given = request.headers.get("X-Mock-Token", "")
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return hmac.compare_digest(given.encode(), token.encode())


def requires_token(mock: MockServerBase, handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a public route that changes test state (e.g. a test-reset route) so that, off
    loopback, it needs the control token like /_mock/ does; it answers 401 in the mock's shape."""
    @functools.wraps(handler)
    def guarded(request: Request, **kwargs: Any) -> Any:
        if not token_ok(mock, request):
            raise ApiError(401, f"{request.path} changes test state and needs the mock's control token "
                                "(Authorization: Bearer <token> or X-Mock-Token)", type="unauthorized")
        return handler(request, **kwargs)
    return guarded


def shared_controls(mock: MockServerBase, api: AdminAPI) -> list[ControlRoute]:
    """The controls every mock has: journal, faults, reset, and the API's own description."""
    def faults_after(fn: Callable[..., Any]) -> Callable[..., Any]:
        def handler(**fields: Any) -> dict[str, Any]:
            fn(**fields)
            return {"ok": True, "mode": mock.faults.mode(), "faults": mock.faults.describe()}
        return handler

    def calls(limit: int = 100, path: str | None = None, method: str | None = None) -> dict[str, Any]:
        records = mock.journal.calls(path, method)
        selected = records[-limit:] if limit > 0 else []
        return {"count": mock.get_call_count(path), "returned": len(selected),
                "calls": [record.to_dict() for record in selected]}

    def wait(request: Request, n: int = 1, timeout: float = 5.0, path: str | None = None) -> Any:
        try:
            mock.wait_for_calls(n, min(timeout, api.max_wait), path)
        except WaitInterrupted:  # the mock is stopping: go away as a stopped server does
            abort_connection(request.environ, "close")
        except TimeoutError as exc:
            return {"error": {"code": 408, "type": "timeout", "message": str(exc)}}, 408
        return {"count": mock.get_call_count(path)}

    def reset() -> dict[str, Any]:
        mock.reset()
        return {"ok": True}

    from .openapi import docs_page, openapi_document

    fault_tag = "faults"
    return [
        ControlRoute("/_mock", "GET", lambda: api.listing(), summary="What this mock is, its state and every "
                     "route (public and control)", tag="about"),
        ControlRoute("/_mock/openapi.json", "GET", lambda request: openapi_document(mock, api, request.host_url),
                     summary="This control API as an OpenAPI 3.1 document", tag="about", pass_request=True),
        ControlRoute("/_mock/docs", "GET", lambda request: docs_page(mock, api, request.host_url),
                     summary="This control API as a self-contained HTML page", tag="about", pass_request=True),
        ControlRoute("/_mock/state", "GET", mock.describe_state, summary="The domain state", tag="about"),
        ControlRoute("/_mock/calls", "GET", calls, _CALLS,
                     summary="Recorded calls (the newest `limit`) and the exact count", tag="journal"),
        ControlRoute("/_mock/calls/count", "GET", lambda path=None: {"count": mock.get_call_count(path)},
                     _COUNT, summary="How many calls were received (to `path`)", tag="journal"),
        ControlRoute("/_mock/calls/wait", "POST", wait,
                     _WAIT, pass_request=True,
                     summary="Wait until `n` calls (to `path`) were received", responses={408: "timed out"},
                     tag="journal"),
        ControlRoute("/_mock/errors", "GET", lambda: {"errors": [f"{type(e).__name__}: {e}" for e in mock.errors]},
                     summary="Exceptions raised by the mock's own handlers, kept for check()", tag="journal"),
        ControlRoute("/_mock/control-errors", "GET", lambda: {"errors": list(api.control_errors)},
                     summary="Exceptions raised by control routes (never kept for check())", tag="journal"),
        ControlRoute("/_mock/faults", "GET", mock.faults.describe, summary="The active fault rules", tag=fault_tag),
        ControlRoute("/_mock/faults/failure-count", "POST", faults_after(mock.set_failure_count),
                     _FAILURE_COUNT,
                     summary="The next `n` calls fail with `status`", tag=fault_tag),
        ControlRoute("/_mock/faults/permanent-failure", "POST", faults_after(mock.set_permanent_failure),
                     _PERMANENT,
                     summary="Every call fails until disabled", tag=fault_tag),
        ControlRoute("/_mock/faults/rate-limit", "POST", faults_after(mock.set_rate_limit),
                     _RATE_LIMIT,
                     summary="`limit` calls per `window` seconds, then 429 with Retry-After (null: no limit)",
                     tag=fault_tag),
        ControlRoute("/_mock/faults/latency", "POST", faults_after(mock.set_latency),
                     _LATENCY,
                     summary="Delay calls: fixed, or seeded uniform/normal/exponential", tag=fault_tag),
        ControlRoute("/_mock/faults/connection", "POST", faults_after(mock.set_connection_fault),
                     _CONNECTION,
                     summary="Answer calls with a network fault (reset, close, garbage); null clears", tag=fault_tag),
        ControlRoute("/_mock/faults/success", "POST", faults_after(mock.set_success),
                     summary="Clear every fault", tag=fault_tag),
        ControlRoute("/_mock/reset", "POST", reset, summary="Clear faults, journal, kept errors and domain state",
                     tag="about"),
    ]


class AdminAPI:
    """A small WSGI app for /_mock/ that drives one mock's shared and domain controls."""

    def __init__(self, mock: MockServerBase) -> None:
        self.mock = mock
        self.max_wait = MAX_WAIT
        self.control_errors: deque[str] = deque(maxlen=100)
        self.router = ControlRouter()
        add_controls(self.router, shared_controls(mock, self))
        Router.add(self.router, "/", lambda request: root_page(mock, request))  # the gRPC mocks' admin port

    def add_controls(self, routes: Iterable[ControlRoute]) -> None:
        """Mount a package's domain controls (a mock calls this once its domain object exists)."""
        add_controls(self.router, routes)

    def listing(self) -> dict[str, Any]:
        status = self.mock.status()
        router = getattr(self.mock, "router", None)
        if router is not None:
            status["routes"] = [{"rule": rule, "methods": methods} for rule, methods in router.rules()]
        status["controls"] = [{"method": c.method, "path": c.path, "summary": c.summary}
                              for c in self.router.controls]
        status["controls"] += [{"method": m, "path": rule, "summary": "(undeclared)"}
                               for rule, methods in self.router.undeclared for m in methods]
        status["docs"], status["openapi"] = "/_mock/docs", "/_mock/openapi.json"
        return status

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_CONTROL_BODY
        response: Response
        if not token_ok(self.mock, request) and request.path != "/":
            response = json_response({"error": {"code": 401, "type": "unauthorized",
                                                "message": "the /_mock/ control API needs the mock's token"}}, 401)
            return response(environ, start_response)
        try:
            handler, args = self.router.match(environ)
            response = to_response(handler(request, **args))
        except ConnectionAborted:  # dropped on purpose (the mock stopped under a parked wait)
            raise
        except ApiError as exc:
            response = json_response({"error": {"code": exc.status, "type": exc.type, "message": exc.message,
                                                **exc.extra}}, exc.status, exc.headers)
        except HTTPException as exc:
            response = json_response({"error": {"code": exc.code, "type": "control_api",
                                                "message": f"{exc.description}"}}, exc.code or 500)
        except Exception as exc:  # a bug in a control route: answer 500, log it; never the user's check()
            message = f"control route {request.method} {request.path} raised {type(exc).__name__}: {exc}"
            self.control_errors.append(message)
            log.warning("%s: %s", self.mock.name, message, exc_info=exc)
            response = json_response({"error": {"code": 500, "type": "control_route_error", "message": message}}, 500)
        return response(environ, start_response)


def root_page(mock: MockServerBase, request: Request) -> Response:
    """`GET /` of a mock with no root of its own: what it is and where its docs and controls are."""
    from .openapi import root_html

    base = request.host_url.rstrip("/")
    doc = (type(mock).__doc__ or "").strip().splitlines()
    info = {"name": mock.name, "mock": type(mock).__name__, "description": doc[0] if doc else "",
            "url": base, "controls": f"{base}/_mock", "docs": f"{base}/_mock/docs",
            "openapi": f"{base}/_mock/openapi.json", "endpoints": mock.endpoints()}
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return Response(root_html(info), content_type="text/html; charset=utf-8")
    return json_response(info)


def install_root_page(mock: Any) -> None:
    """The core's additions to an HTTP mock's public routes, once they are registered: the public
    rules the mock lists in `token_protected_paths` (test-reset routes) need the control token off
    loopback, and `GET /` is an info page unless the mock routes `/` itself (never faulted)."""
    protected: frozenset[str] = getattr(mock, "token_protected_paths", frozenset())
    if protected:
        mock.router.wrap(protected, lambda handler: requires_token(mock, handler))
    if getattr(mock, "strict_unanswered", False):  # MockHTTPServer: `/` is the user's app's or stubs'
        return
    if any(rule == "/" and "GET" in methods for rule, methods in mock.router.rules()):
        return
    mock.router.add("/", lambda request: root_page(mock, request))
    mock.fault_exempt_paths = frozenset(mock.fault_exempt_paths | {"/"})


__all__ = ["MAX_WAIT", "AdminAPI", "ControlRoute", "ControlRouter", "add_controls", "install_root_page",
           "requires_token", "root_page", "token_ok"]
