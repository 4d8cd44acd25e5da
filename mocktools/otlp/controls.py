"""The collector's domain controls under /_mock/otlp/, declared on the telemetry store, for a test
driving it from another process.

GET  /_mock/otlp/spans|metrics|logs?name=..&service_name=..&trace_id=..&limit=..  received items
GET  /_mock/otlp/traces                 trace ids;  GET /_mock/otlp/traces/<id>  one trace as a tree
POST /_mock/otlp/wait                   {"signal": "traces", "n": 3, "timeout": 5, "filters": {...}}
POST /_mock/otlp/partial-success        {"signal": "traces", "rejected": 2, "message": "..", "times": 1}
DELETE /_mock/otlp/partial-success      clear every partial-success rule
"""

from __future__ import annotations

import dataclasses
from typing import Any

from werkzeug.wrappers import Request

from mocktools.control_api import MAX_WAIT
from mocktools.control_schema import STRING, ControlRoute, enum, integer, nullable, number, obj
from mocktools.errors import ApiError
from mocktools.journal import WaitInterrupted
from mocktools.wsgi_server import abort_connection
from mocktools.otlp.model import LogRecord, MetricPoint, Span, SpanNode
from mocktools.otlp.store import SIGNAL_NAMES, TelemetryStore

#: the query-string filters each listing takes (besides `limit`)
_QUERY_FILTERS = {"spans": ("name", "service_name", "trace_id", "span_id", "kind", "scope_name"),
                  "metrics": ("name", "service_name", "type", "scope_name"),
                  "logs": ("service_name", "trace_id", "span_id", "severity_text", "body", "scope_name")}
_PLURAL = {"spans": "traces", "metrics": "metrics", "logs": "logs"}
_SCALAR = {"type": ["string", "number", "boolean", "null"], "maxLength": 100_000}
_MAPPING = {"type": "object", "maxProperties": 1000, "description": "a subset of the attributes, matched exactly"}
#: `wait` filters: any scalar field of a span / metric point / log record, plus attribute subsets
_FILTER_FIELDS = sorted({f.name for cls in (Span, MetricPoint, LogRecord) for f in dataclasses.fields(cls)
                         if f.name not in ("origin", "attributes", "events", "links", "exemplars", "quantiles",
                                           "bucket_counts", "explicit_bounds")} | {"service_name", "scope_name"})
FILTERS = obj(attributes=_MAPPING, resource=_MAPPING, **{name: _SCALAR for name in _FILTER_FIELDS})


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


#: the deepest nesting a trace tree is rendered to (JSON encoders refuse ~1000 levels); spans
#: below it are listed flat in `deeper_spans`, each with its parent_span_id
MAX_TREE_DEPTH = 200


def _tree_to_dicts(roots: list[SpanNode]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trace as nested dicts (iteratively, so a 3,000-span parent chain is fine) plus the
    spans below MAX_TREE_DEPTH."""
    out: list[dict[str, Any]] = []
    deeper: list[dict[str, Any]] = []
    stack: list[tuple[SpanNode, list[dict[str, Any]], int]] = [(n, out, 1) for n in reversed(roots)]
    while stack:
        node, siblings, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            deeper.append(item_to_dict(node.span))
            stack.extend((c, siblings, depth + 1) for c in reversed(node.children))
            continue
        entry: dict[str, Any] = {"span": item_to_dict(node.span), "children": []}
        siblings.append(entry)
        stack.extend((c, entry["children"], depth + 1) for c in reversed(node.children))
    return out, deeper


def otlp_controls(store: TelemetryStore) -> list[ControlRoute]:
    def listing(kind: str) -> Any:
        def handler(limit: int = 1000, **filters: Any) -> dict[str, Any]:
            items: list[Any] = list(getattr(store, f"get_{kind}")(**filters))
            selected = items[-limit:] if limit > 0 else []
            return {"count": len(items), "returned": len(selected), kind: [item_to_dict(i) for i in selected]}

        return handler

    def trace(trace_id: str) -> dict[str, Any]:
        try:
            tr = store.get_trace(trace_id)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]), type="not_found") from None
        roots, deeper = _tree_to_dicts(tr.roots)
        return {"trace_id": tr.trace_id, "span_count": len(tr), "roots": roots, "deeper_spans": deeper}

    def wait(request: Request, signal: str = "traces", n: int = 1, timeout: float = 5.0,
             filters: dict[str, Any] | None = None) -> Any:
        try:
            items = store.wait_for(signal, n, timeout, **(filters or {}))
        except WaitInterrupted:  # the collector is stopping: go away as a stopped server does
            abort_connection(request.environ, "close")
        except TimeoutError as exc:
            return {"error": {"code": 408, "type": "timeout", "message": str(exc)}}, 408
        except TypeError as exc:  # a filter this signal's items do not have
            raise ApiError(400, f"filters: {exc}", type="invalid_field", field="filters") from None
        return {"count": len(items)}

    def set_partial_success(signal: str = "traces", rejected: int = 1, message: str = "rejected by mock",
                            times: int | None = None) -> dict[str, Any]:
        store.set_partial_success(signal, rejected, message, times=times)
        return {"ok": True, "partial_success": store.partial_success_rules()}

    def clear_partial_success() -> dict[str, Any]:
        store.clear_partial_success()
        return {"ok": True, "partial_success": store.partial_success_rules()}

    signal = enum(*SIGNAL_NAMES)
    routes = [ControlRoute(f"/_mock/otlp/{kind}", "GET", listing(kind),
                           obj(limit=integer(0, 1_000_000, default=1000), **{k: STRING for k in _QUERY_FILTERS[kind]}),
                           summary=f"Received {kind} (the newest `limit`), filtered", tag="otlp")
              for kind in _PLURAL]
    return routes + [
        ControlRoute("/_mock/otlp/traces", "GET", lambda: {"trace_ids": store.get_trace_ids()},
                     summary="Distinct trace ids in order of first arrival", tag="otlp"),
        ControlRoute("/_mock/otlp/traces/<trace_id>", "GET", trace, summary="One trace as a tree of spans",
                     responses={404: "no span of that trace arrived"}, tag="otlp"),
        ControlRoute("/_mock/otlp/wait", "POST", wait,
                     obj(signal=signal, n=integer(0, default=1), timeout=number(0.0, MAX_WAIT, default=5.0),
                         filters=nullable(FILTERS)), pass_request=True,
                     summary="Wait until `n` matching items of `signal` arrived", responses={408: "timed out"},
                     tag="otlp"),
        ControlRoute("/_mock/otlp/partial-success", "POST", set_partial_success,
                     obj(signal=signal, rejected=integer(), message=STRING, times=nullable(integer(1))),
                     summary="Answer the next exports of `signal` with partial_success", tag="otlp"),
        ControlRoute("/_mock/otlp/partial-success", "DELETE", clear_partial_success,
                     summary="Clear every partial-success rule", tag="otlp"),
    ]


__all__ = ["FILTERS", "item_to_dict", "otlp_controls"]
