"""Builders of realistic OTLP export requests for tests, scripts and benchmarks.

Not used by the collector itself: they let a test or a benchmark produce the exact
protobuf (or, via `codec.message_to_otlp_json`, OTLP/JSON) a real SDK would send.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

BASE_NS = 1_700_000_000_000_000_000


def to_any(value: Any) -> AnyValue:
    """A Python value as an OTLP AnyValue (the inverse of `model.any_value`)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, Mapping):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    if isinstance(value, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[to_any(v) for v in value]))
    if value is None:
        return AnyValue()
    return AnyValue(string_value=str(value))


def key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=to_any(v)) for k, v in attrs.items()]


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)


def span(
    name: str,
    *,
    trace_id: bytes,
    span_id: bytes | None = None,
    parent: bytes = b"",
    kind: int = Span.SPAN_KIND_INTERNAL,
    start: int = BASE_NS,
    duration: int = 1_000_000,
    attributes: Mapping[str, Any] | None = None,
    status_code: int = 0,
    status_message: str = "",
) -> Span:
    """One Span message with sensible defaults."""
    return Span(
        trace_id=trace_id,
        span_id=span_id or new_span_id(),
        parent_span_id=parent,
        name=name,
        kind=kind,  # type: ignore[arg-type]
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration,
        attributes=key_values(attributes or {}),
        status=Status(code=status_code, message=status_message),  # type: ignore[arg-type]
    )


def trace_request(
    spans: Iterable[Span], service_name: str = "test-service", scope: str = "mocktools.samples"
) -> ExportTraceServiceRequest:
    """Wrap spans in one ResourceSpans/ScopeSpans for `service_name`."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(key_values({"service.name": service_name}))
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.spans.extend(spans)
    return req


def batch_of_spans(n: int, service_name: str = "bench-service") -> ExportTraceServiceRequest:
    """`n` spans shaped like an instrumented HTTP handler's: one trace of a root and n-1 children."""
    tid = new_trace_id()
    root = span("GET /items", trace_id=tid, kind=Span.SPAN_KIND_SERVER, attributes={"http.method": "GET"})
    children = [
        span(
            f"db.query {i}",
            trace_id=tid,
            parent=root.span_id,
            kind=Span.SPAN_KIND_CLIENT,
            start=BASE_NS + i * 1000,
            attributes={"db.system": "postgresql", "db.statement": "SELECT * FROM items WHERE id = $1", "i": i},
        )
        for i in range(max(0, n - 1))
    ]
    return trace_request([root, *children][:n], service_name)


def metrics_request(
    points: Mapping[str, float | int], service_name: str = "test-service", attributes: Mapping[str, Any] | None = None
) -> ExportMetricsServiceRequest:
    """One gauge metric per (name, value), each with a single data point."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(key_values({"service.name": service_name}))
    sm = rm.scope_metrics.add()
    sm.scope.name = "mocktools.samples"
    for name, value in points.items():
        dp = NumberDataPoint(time_unix_nano=BASE_NS, attributes=key_values(attributes or {}))
        if isinstance(value, int):
            dp.as_int = value
        else:
            dp.as_double = value
        metric = Metric(name=name, unit="1")
        metric.gauge.data_points.append(dp)
        sm.metrics.append(metric)
    return req


def logs_request(
    bodies: Iterable[Any], service_name: str = "test-service", severity_text: str = "INFO", severity_number: int = 9
) -> ExportLogsServiceRequest:
    """One log record per body."""
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(key_values({"service.name": service_name}))
    sl = rl.scope_logs.add()
    sl.scope.name = "mocktools.samples"
    for i, body in enumerate(bodies):
        sl.log_records.append(
            LogRecord(
                time_unix_nano=BASE_NS + i,
                severity_text=severity_text,
                severity_number=severity_number,  # type: ignore[arg-type]
                body=to_any(body),
            )
        )
    return req
