"""Turn decoded Export*ServiceRequest messages into the friendly objects of `model`."""

from __future__ import annotations

from typing import Any, Callable

from google.protobuf.message import Message

from mocktools.otlp.model import (
    SPAN_KINDS,
    STATUS_CODES,
    TEMPORALITIES,
    Exemplar,
    LogRecord,
    MetricPoint,
    Origin,
    Scope,
    Span,
    SpanEvent,
    SpanLink,
    any_value,
    attributes,
    hex_id,
)


def _scope(pb: Any) -> Scope:
    return Scope(name=pb.name, version=pb.version, attributes=attributes(pb.attributes))


def spans_from(request: Message, seq: int, transport: str, encoding: str) -> list[Span]:
    """Every span of an ExportTraceServiceRequest, in request order."""
    out: list[Span] = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            origin = Origin(resource, _scope(ss.scope), seq, transport, encoding)
            for sp in ss.spans:
                out.append(
                    Span(
                        trace_id=hex_id(sp.trace_id),
                        span_id=hex_id(sp.span_id),
                        parent_span_id=hex_id(sp.parent_span_id),
                        name=sp.name,
                        kind=SPAN_KINDS.get(sp.kind, str(sp.kind)),
                        start_time_unix_nano=sp.start_time_unix_nano,
                        end_time_unix_nano=sp.end_time_unix_nano,
                        attributes=attributes(sp.attributes),
                        status_code=STATUS_CODES.get(sp.status.code, str(sp.status.code)),
                        status_message=sp.status.message,
                        events=[
                            SpanEvent(ev.name, ev.time_unix_nano, attributes(ev.attributes)) for ev in sp.events
                        ],
                        links=[
                            SpanLink(hex_id(ln.trace_id), hex_id(ln.span_id), ln.trace_state, attributes(ln.attributes))
                            for ln in sp.links
                        ],
                        trace_state=sp.trace_state,
                        flags=sp.flags,
                        dropped_attributes_count=sp.dropped_attributes_count,
                        dropped_events_count=sp.dropped_events_count,
                        dropped_links_count=sp.dropped_links_count,
                        origin=origin,
                    )
                )
    return out


def logs_from(request: Message, seq: int, transport: str, encoding: str) -> list[LogRecord]:
    """Every log record of an ExportLogsServiceRequest, in request order."""
    out: list[LogRecord] = []
    for rl in request.resource_logs:
        resource = attributes(rl.resource.attributes)
        for sl in rl.scope_logs:
            origin = Origin(resource, _scope(sl.scope), seq, transport, encoding)
            for lr in sl.log_records:
                out.append(
                    LogRecord(
                        body=any_value(lr.body),
                        severity_number=lr.severity_number,
                        severity_text=lr.severity_text,
                        time_unix_nano=lr.time_unix_nano,
                        observed_time_unix_nano=lr.observed_time_unix_nano,
                        attributes=attributes(lr.attributes),
                        trace_id=hex_id(lr.trace_id),
                        span_id=hex_id(lr.span_id),
                        event_name=lr.event_name,
                        flags=lr.flags,
                        dropped_attributes_count=lr.dropped_attributes_count,
                        origin=origin,
                    )
                )
    return out


def _number(dp: Any) -> int | float | None:
    kind = dp.WhichOneof("value")
    return None if kind is None else getattr(dp, kind)


def _exemplars(dp: Any) -> list[Exemplar]:
    return [
        Exemplar(
            value=_number(ex),
            time_unix_nano=ex.time_unix_nano,
            trace_id=hex_id(ex.trace_id),
            span_id=hex_id(ex.span_id),
            filtered_attributes=attributes(ex.filtered_attributes),
        )
        for ex in dp.exemplars
    ]


def _point(metric: Any, kind: str, dp: Any, origin: Origin, **extra: Any) -> MetricPoint:
    fields: dict[str, Any] = {
        "name": metric.name,
        "description": metric.description,
        "unit": metric.unit,
        "type": kind,
        "attributes": attributes(dp.attributes),
        "start_time_unix_nano": dp.start_time_unix_nano,
        "time_unix_nano": dp.time_unix_nano,
        "value": None,
        "is_monotonic": None,
        "aggregation_temporality": None,
        "count": None,
        "sum": None,
        "min": None,
        "max": None,
        "bucket_counts": [],
        "explicit_bounds": [],
        "quantiles": {},
        "exemplars": [],
        "flags": dp.flags,
        "origin": origin,
    }
    fields.update(extra)
    return MetricPoint(**fields)


def _optional(dp: Any, name: str) -> float | None:
    return getattr(dp, name) if dp.HasField(name) else None


def metric_points(metric: Any, origin: Origin) -> list[MetricPoint]:
    """The data points of one Metric message (any of the five data kinds)."""
    kind = metric.WhichOneof("data")
    if kind is None:
        return []
    data = getattr(metric, kind)
    temporality = TEMPORALITIES.get(getattr(data, "aggregation_temporality", 0), "UNSPECIFIED")
    points: list[MetricPoint] = []
    for dp in data.data_points:
        if kind == "gauge":
            points.append(_point(metric, kind, dp, origin, value=_number(dp), exemplars=_exemplars(dp)))
        elif kind == "sum":
            points.append(
                _point(
                    metric,
                    kind,
                    dp,
                    origin,
                    value=_number(dp),
                    is_monotonic=data.is_monotonic,
                    aggregation_temporality=temporality,
                    exemplars=_exemplars(dp),
                )
            )
        elif kind == "histogram":
            total = _optional(dp, "sum")
            points.append(
                _point(
                    metric,
                    kind,
                    dp,
                    origin,
                    value=total,
                    aggregation_temporality=temporality,
                    count=dp.count,
                    sum=total,
                    min=_optional(dp, "min"),
                    max=_optional(dp, "max"),
                    bucket_counts=list(dp.bucket_counts),
                    explicit_bounds=list(dp.explicit_bounds),
                    exemplars=_exemplars(dp),
                )
            )
        elif kind == "exponential_histogram":
            total = _optional(dp, "sum")
            points.append(
                _point(
                    metric,
                    kind,
                    dp,
                    origin,
                    value=total,
                    aggregation_temporality=temporality,
                    count=dp.count,
                    sum=total,
                    min=_optional(dp, "min"),
                    max=_optional(dp, "max"),
                    bucket_counts=list(dp.positive.bucket_counts),
                    exemplars=_exemplars(dp),
                )
            )
        else:  # summary
            points.append(
                _point(
                    metric,
                    kind,
                    dp,
                    origin,
                    value=dp.sum,
                    count=dp.count,
                    sum=dp.sum,
                    quantiles={q.quantile: q.value for q in dp.quantile_values},
                )
            )
    return points


def metrics_from(request: Message, seq: int, transport: str, encoding: str) -> list[MetricPoint]:
    """Every data point of an ExportMetricsServiceRequest, in request order."""
    out: list[MetricPoint] = []
    for rm in request.resource_metrics:
        resource = attributes(rm.resource.attributes)
        for sm in rm.scope_metrics:
            origin = Origin(resource, _scope(sm.scope), seq, transport, encoding)
            for metric in sm.metrics:
                out.extend(metric_points(metric, origin))
    return out


CONVERTERS: dict[str, Callable[..., list[Any]]] = {"traces": spans_from, "metrics": metrics_from, "logs": logs_from}


def count_spans(request: Message) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def count_logs(request: Message) -> int:
    return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)


def count_points(request: Message) -> int:
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total


COUNTERS = {"traces": count_spans, "metrics": count_points, "logs": count_logs}
