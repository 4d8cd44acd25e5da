"""The collector's domain controls under /_mock/otlp/, for a test driving it from another process.

GET  /_mock/otlp/spans|metrics|logs?name=..&service_name=..&trace_id=..&limit=..  received items
GET  /_mock/otlp/traces                 trace ids;  GET /_mock/otlp/traces/<id>  one trace as a tree
POST /_mock/otlp/wait                   {"signal": "traces", "n": 3, "timeout": 5, "filters": {...}}
POST /_mock/otlp/partial-success        {"signal": "traces", "rejected": 2, "message": "..", "times": 1}
DELETE /_mock/otlp/partial-success      clear every partial-success rule
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from mocktools.errors import ApiError
from mocktools.routing import Router, read_json_object
from mocktools.otlp.model import SpanNode
from mocktools.otlp.store import SIGNAL_NAMES

if TYPE_CHECKING:
    from mocktools.otlp.mock import MockOTLPCollector

_QUERY_FILTERS = ("name", "service_name", "trace_id", "span_id", "kind", "type", "severity_text", "scope_name")
_PLURAL = {"spans": "traces", "metrics": "metrics", "logs": "logs"}


def item_to_dict(item: Any) -> dict[str, Any]:
    """A JSON-ready dict of a Span/MetricPoint/LogRecord, with service_name lifted to the top."""
    out = dataclasses.asdict(item)
    origin = out.pop("origin")
    out["service_name"] = item.service_name
    out["resource"] = origin["resource"]
    out["scope"] = origin["scope"]
    out["request_seq"] = origin["request_seq"]
    out["transport"] = origin["transport"]
    return out


def _node_to_dict(node: SpanNode) -> dict[str, Any]:
    return {"span": item_to_dict(node.span), "children": [_node_to_dict(c) for c in node.children]}


def _filters(request: Request, signal: str, allowed: tuple[str, ...] = _QUERY_FILTERS) -> dict[str, Any]:
    filters = {k: request.args[k] for k in allowed if k in request.args}
    if signal == "logs":
        filters.pop("name", None)
        if "body" in request.args:
            filters["body"] = request.args["body"]
    return filters


def register_otlp_admin_routes(mock: MockOTLPCollector, router: Router) -> None:


    def query(kind: str):
        signal = _PLURAL[kind]

        def handler(request: Request) -> dict[str, Any]:
            try:
                limit = int(request.args.get("limit", "1000"))
                items = mock.store._query(signal, _filters(request, signal))
            except (TypeError, ValueError) as exc:
                raise ApiError(400, str(exc), type="bad_request") from None
            selected = items[-limit:] if limit > 0 else []
            return {"count": len(items), "returned": len(selected), kind: [item_to_dict(i) for i in selected]}

        return handler

    def trace_ids(request: Request) -> dict[str, Any]:
        return {"trace_ids": mock.store.get_trace_ids()}

    def trace(request: Request, trace_id: str) -> dict[str, Any]:
        try:
            tr = mock.store.get_trace(trace_id)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]), type="not_found") from None
        return {"trace_id": tr.trace_id, "span_count": len(tr), "roots": [_node_to_dict(n) for n in tr.roots]}

    def wait(request: Request) -> Any:
        body = read_json_object(request)
        signal = body.get("signal", "traces")
        filters = body.get("filters") or {}
        if signal not in SIGNAL_NAMES or not isinstance(filters, dict):
            raise ApiError(400, f"signal must be one of {list(SIGNAL_NAMES)} and filters an object", type="bad_request")
        try:
            n, timeout = int(body.get("n", 1)), min(float(body.get("timeout", 5.0)), 60.0)
            items = mock.store.wait_for(signal, n, timeout, **filters)
        except TimeoutError as exc:
            return {"error": {"code": 408, "type": "timeout", "message": str(exc)}}, 408
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), type="bad_request") from None
        return {"count": len(items)}

    def partial_success(request: Request) -> dict[str, Any]:
        if request.method == "DELETE":
            mock.store.clear_partial_success()
        else:
            body = read_json_object(request)
            unknown = set(body) - {"signal", "rejected", "message", "times"}
            if unknown:
                raise ApiError(400, f"unknown fields: {sorted(unknown)}", type="bad_request")
            try:
                mock.store.set_partial_success(**body)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, str(exc), type="bad_request") from None
        return {"ok": True, "partial_success": mock.store.partial_success_rules()}

    for kind in _PLURAL:
        router.add(f"/_mock/otlp/{kind}", query(kind))
    router.add("/_mock/otlp/traces", trace_ids)
    router.add("/_mock/otlp/traces/<trace_id>", trace)
    router.add("/_mock/otlp/wait", wait, methods=["POST"])
    router.add("/_mock/otlp/partial-success", partial_success, methods=["POST", "DELETE"])
