"""The HTTP control API under /_mock/: the same controls as the Python API, for another process.

Bound to a non-loopback host, every control call needs the mock's token
(`Authorization: Bearer <token>` or `X-Mock-Token: <token>`).
"""
from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Callable, Iterable

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from .errors import ApiError
from .journal import WaitInterrupted
from .routing import Router, json_response, read_json, to_response
from .wsgi_server import ConnectionAborted, abort_connection

if TYPE_CHECKING:
    from .lifecycle import MockServerBase


def _optional_json(request: Request) -> dict[str, Any]:
    if not request.get_data(cache=True).strip():
        return {}
    body = read_json(request)
    if not isinstance(body, dict):
        raise ApiError(422, "control body must be a JSON object", type="invalid_body")
    return body


def _call(fn: Callable[..., Any], body: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(body) - set(allowed)
    if unknown:
        raise ApiError(400, f"unknown fields: {sorted(unknown)}; allowed: {sorted(allowed)}", type="bad_request")
    try:
        fn(**body)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc), type="bad_request") from None


class AdminAPI:
    """A small WSGI app for /_mock/ that drives one mock's shared controls."""

    def __init__(self, mock: "MockServerBase") -> None:
        self.mock = mock
        self.router = Router()
        add = self.router.add
        add("/_mock", self.get_status)
        add("/_mock/state", lambda request: mock.describe_state())
        add("/_mock/calls", self.get_calls)
        add("/_mock/calls/count", lambda request: {"count": mock.get_call_count(request.args.get("path"))})
        add("/_mock/calls/wait", self.wait_calls, methods=["POST"])
        add("/_mock/errors", lambda request: {"errors": [f"{type(e).__name__}: {e}" for e in mock.errors]})
        add("/_mock/faults", lambda request: mock.faults.describe())
        add("/_mock/faults/failure-count", self.fault_setter(mock.set_failure_count,
            ("n", "status", "path", "retry_after")), methods=["POST"])
        add("/_mock/faults/permanent-failure", self.fault_setter(mock.set_permanent_failure,
            ("enabled", "status", "path", "retry_after")), methods=["POST"])
        add("/_mock/faults/rate-limit", self.fault_setter(mock.set_rate_limit,
            ("limit", "window", "path", "retry_after")), methods=["POST"])
        add("/_mock/faults/latency", self.fault_setter(mock.set_latency,
            ("seconds", "distribution", "low", "high", "mean", "stddev", "seed", "path")), methods=["POST"])
        add("/_mock/faults/connection", self.fault_setter(mock.set_connection_fault,
            ("kind", "count", "path")), methods=["POST"])
        add("/_mock/faults/success", self.fault_setter(mock.set_success, ()), methods=["POST"])
        add("/_mock/reset", self.reset, methods=["POST"])

    # -- routes ------------------------------------------------------------------------------
    def get_status(self, request: Request) -> dict[str, Any]:
        status = self.mock.status()
        router = getattr(self.mock, "router", None)
        if router is not None:
            status["routes"] = [{"rule": rule, "methods": methods} for rule, methods in router.rules()]
        return status

    def get_calls(self, request: Request) -> dict[str, Any]:
        try:
            limit = int(request.args.get("limit", "100"))
        except ValueError:
            raise ApiError(400, "limit must be an integer", type="bad_request") from None
        calls = self.mock.journal.calls(request.args.get("path"), request.args.get("method"))
        selected = calls[-limit:] if limit > 0 else []
        return {"count": self.mock.get_call_count(request.args.get("path")), "returned": len(selected),
                "calls": [record.to_dict() for record in selected]}

    def wait_calls(self, request: Request) -> Any:
        body = _optional_json(request)
        try:
            n, timeout = int(body.get("n", 1)), min(float(body.get("timeout", 5.0)), 60.0)
        except (TypeError, ValueError):
            raise ApiError(400, "n must be an integer and timeout a number", type="bad_request") from None
        path = body.get("path")
        try:
            self.mock.wait_for_calls(n, timeout, path)
        except WaitInterrupted:  # the mock is stopping: go away as a stopped server does
            abort_connection(request.environ, "close")
        except TimeoutError as exc:
            return {"error": {"code": 408, "type": "timeout", "message": str(exc)}}, 408
        return {"count": self.mock.get_call_count(path)}

    def fault_setter(self, fn: Callable[..., Any], allowed: Iterable[str]) -> Callable[[Request], Any]:
        allowed = tuple(allowed)

        def handler(request: Request) -> dict[str, Any]:
            _call(fn, _optional_json(request), allowed)
            return {"ok": True, "mode": self.mock.faults.mode(), "faults": self.mock.faults.describe()}

        return handler

    def reset(self, request: Request) -> dict[str, Any]:
        self.mock.reset()
        return {"ok": True}

    # -- WSGI --------------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        token = self.mock.admin_token
        if not token:
            return True
        given = request.headers.get("X-Mock-Token", "")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        response: Response
        if not self._authorized(request):
            response = json_response({"error": {"code": 401, "type": "unauthorized",
                                                "message": "the /_mock/ control API needs the mock's token"}}, 401)
            return response(environ, start_response)
        try:
            handler, args = self.router.match(environ)
            response = to_response(handler(request, **args))
        except ConnectionAborted:  # dropped on purpose (the mock stopped under a parked wait)
            raise
        except ApiError as exc:
            response = json_response({"error": {"code": exc.status, "type": exc.type, "message": exc.message}},
                                     exc.status)
        except HTTPException as exc:
            response = json_response({"error": {"code": exc.code, "type": "control_api",
                                                "message": f"{exc.description}"}}, exc.code or 500)
        except Exception as exc:  # a bug in a control route: answer, and keep it for check()
            self.mock.record_error(exc)
            response = json_response({"error": {"code": 500, "type": "mock_internal_error",
                                                "message": f"control route raised {type(exc).__name__}: {exc}"}}, 500)
        return response(environ, start_response)


__all__ = ["AdminAPI"]
