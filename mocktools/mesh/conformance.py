"""A tiny service for the W3C Trace Context conformance harness, built only on the public propagation
module (no mesh): proof that a user's own test service can propagate context the way a hop does.

The harness POSTs a JSON array of ``{"url": ..., "arguments": [...]}``; for each element the service
POSTs ``arguments`` to ``url`` carrying the propagated ``traceparent``/``tracestate`` (a new
parent-id per call) before answering. Run ``scripts/w3c_trace_service.py`` and point the suite at it.
"""

from __future__ import annotations

from typing import Any

import requests
from werkzeug.wrappers import Request

from ..errors import ApiError
from ..routing import Router, read_json
from ..http_mock import HTTPMockServer
from .propagation import child_context, extract, inject

__all__ = ["TraceContextTestService"]


class TraceContextTestService(HTTPMockServer):
    name = "w3c-trace-service"
    default_port = 5000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = requests.Session()
        self.restarted = 0  # incoming context that was present but invalid

    def register_routes(self, router: Router) -> None:
        router.add("/test", self.test, methods=["POST"])

    def test(self, request: Request) -> Any:
        actions = read_json(request)
        if not isinstance(actions, list) or not all(isinstance(a, dict) and isinstance(a.get("url"), str)
                                                    for a in actions):
            raise ApiError(422, "body must be a JSON array of {url, arguments}", type="invalid_body")
        incoming = extract(request.headers)
        if incoming.restarted:
            self.restarted += 1
        ctx = child_context(incoming.context)  # this service's own span
        for action in actions:
            headers = inject(child_context(ctx))  # one client span (parent-id) per outgoing call
            self.session.post(action["url"], json=action.get("arguments") or [], headers=headers, timeout=10)
        return {"trace_id": ctx.trace_id, "calls": len(actions)}
