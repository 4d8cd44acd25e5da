"""The real OpenTelemetry Python SDK + OTLP/HTTP exporters, unmodified, against MockOTLPCollector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from mocktools.otlp import MockOTLPCollector

RESOURCE = Resource.create({"service.name": "shop", "service.version": "2.0"})


@pytest.fixture(scope="module")
def collector() -> Iterator[MockOTLPCollector]:
    with MockOTLPCollector(grpc_port=None) as mock:
        yield mock


@pytest.fixture()
def otlp(collector: MockOTLPCollector) -> Iterator[MockOTLPCollector]:
    collector.reset()
    yield collector
    collector.check()


def make_tracer(otlp: MockOTLPCollector, **exporter_kwargs: object) -> tuple[trace_api.Tracer, TracerProvider]:
    exporter = OTLPSpanExporter(endpoint=otlp.endpoint("traces"), timeout=5, **exporter_kwargs)  # type: ignore[arg-type]
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("shop.checkout", "0.1"), provider


def run_checkout(tracer: trace_api.Tracer) -> str:
    with tracer.start_as_current_span("POST /checkout", kind=trace_api.SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/checkout")
        with tracer.start_as_current_span("reserve-stock") as reserve:
            reserve.add_event("reserved", {"sku": "A-1", "qty": 2})
        with tracer.start_as_current_span("charge-card", kind=trace_api.SpanKind.CLIENT) as charge:
            charge.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "card declined"))
        return format(root.get_span_context().trace_id, "032x")


@pytest.mark.parametrize("compression", [None, Compression.Gzip, Compression.Deflate])
def test_traces_exported_and_decoded(otlp: MockOTLPCollector, compression: Compression | None) -> None:
    tracer, provider = make_tracer(otlp, compression=compression, headers={"X-Api-Key": "k1"})
    trace_id = run_checkout(tracer)
    provider.shutdown()
    spans = otlp.wait_for_spans(3, timeout=5, service_name="shop")
    assert {s.name for s in spans} == {"POST /checkout", "reserve-stock", "charge-card"}
    tree = otlp.get_trace(trace_id)
    assert tree.format().splitlines() == ["POST /checkout", "  reserve-stock", "  charge-card"]
    root = tree.root
    assert root is not None and root.kind == "SERVER" and root.attributes == {"http.route": "/checkout"}
    assert root.resource["service.version"] == "2.0" and root.scope.name == "shop.checkout"
    charge = tree.find("charge-card")[0]
    assert charge.status_code == "ERROR" and charge.status_message == "card declined" and charge.kind == "CLIENT"
    assert tree.find("reserve-stock")[0].events[0].attributes == {"sku": "A-1", "qty": 2}
    raw = otlp.get_raw_requests("traces")
    assert all(r.encoding == "protobuf" for r in raw)
    assert raw[0].headers["user-agent"].startswith("OTel-OTLP-Exporter-Python/")
    assert raw[0].headers["x-api-key"] == "k1"
    assert raw[0].content_encoding == (compression.value if compression else None)


def test_metrics_exported(otlp: MockOTLPCollector) -> None:
    exporter = OTLPMetricExporter(endpoint=otlp.endpoint("metrics"), timeout=5, compression=Compression.Gzip)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("shop.metrics")
    orders = meter.create_counter("orders_total", unit="1", description="orders placed")
    latency = meter.create_histogram("checkout_latency", unit="ms")
    orders.add(2, {"region": "eu"})
    orders.add(1, {"region": "us"})
    for ms in (5, 15, 250):
        latency.record(ms, {"route": "/checkout"})
    provider.force_flush()
    provider.shutdown()
    points = otlp.wait_for_metrics(2, timeout=5, name="orders_total")
    by_region = {p.attributes["region"]: p.value for p in points}
    assert by_region == {"eu": 2, "us": 1}
    assert points[0].type == "sum" and points[0].is_monotonic and points[0].description == "orders placed"
    hist = otlp.get_metrics(name="checkout_latency")[0]
    assert hist.count == 3 and hist.sum == 270 and hist.min == 5 and hist.max == 250
    assert hist.service_name == "shop"


def test_logs_exported(otlp: MockOTLPCollector) -> None:
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=otlp.endpoint("logs"), timeout=5)))
    tracer, tprovider = make_tracer(otlp)
    logger = provider.get_logger("shop.logs")
    with tracer.start_as_current_span("job") as span:
        logger.emit(body="payment failed", severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                    attributes={"order.id": 42})
        trace_id = format(span.get_span_context().trace_id, "032x")
    logger.emit(body={"event": "done", "items": [1, 2]}, severity_number=SeverityNumber.INFO)
    provider.shutdown()
    tprovider.shutdown()
    logs = otlp.wait_for_logs(2, timeout=5)
    err = otlp.get_logs(severity_text="ERROR")[0]
    assert err.body == "payment failed" and err.attributes == {"order.id": 42} and err.trace_id == trace_id
    assert err.span_id == otlp.get_spans(name="job")[0].span_id
    assert logs[1].body == {"event": "done", "items": [1, 2]} and logs[1].severity_number == 9


@pytest.mark.parametrize("status", [503, 429, 502, 504])
def test_retry_after_transient_failures_delivers_each_span_once(otlp: MockOTLPCollector, status: int) -> None:
    otlp.set_failure_count(2, status=status, retry_after=0)
    tracer, provider = make_tracer(otlp)
    run_checkout(tracer)  # SimpleSpanProcessor exports each span as it ends
    provider.shutdown()
    spans = otlp.wait_for_spans(3, timeout=5)
    assert len({s.span_id for s in spans}) == len(spans) == 3  # none twice
    assert [c.status for c in otlp.calls[:3]] == [status, status, 200]
    assert otlp.get_call_count("/v1/traces") == 5


def test_429_retry_after_is_honoured(otlp: MockOTLPCollector) -> None:
    otlp.set_failure_count(1, status=429, retry_after=1)
    exporter = OTLPSpanExporter(endpoint=otlp.endpoint("traces"), timeout=5)
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("throttled"):
        pass
    provider.shutdown()
    first, second = otlp.calls
    assert (first.status, first.fault, second.status) == (429, "status:429", 200)
    assert second.time - first.time >= 0.9  # the exporter waited for Retry-After
    assert len(otlp.get_spans(name="throttled")) == 1


def test_non_retryable_status_drops_the_batch(otlp: MockOTLPCollector) -> None:
    otlp.set_permanent_failure(status=500)
    exporter = OTLPSpanExporter(endpoint=otlp.endpoint("traces"), timeout=5)
    with TracerProvider().get_tracer("t").start_as_current_span("x") as span:
        readable = span
    assert exporter.export([readable]) == SpanExportResult.FAILURE  # type: ignore[list-item]
    assert otlp.get_call_count() == 1 and otlp.get_spans() == []
    otlp.set_success()
    assert exporter.export([readable]) == SpanExportResult.SUCCESS  # type: ignore[list-item]
    assert [s.name for s in otlp.get_spans()] == ["x"]
    exporter.shutdown()


def test_connection_reset_is_resent(otlp: MockOTLPCollector) -> None:
    otlp.set_connection_fault("reset", count=1)
    tracer, provider = make_tracer(otlp)
    with tracer.start_as_current_span("after-reset"):
        pass
    provider.shutdown()
    assert len(otlp.wait_for_spans(1, timeout=5, name="after-reset")) == 1
    assert [c.status for c in otlp.calls] == [None, 200]


def test_partial_success_is_accepted_by_the_exporter(otlp: MockOTLPCollector) -> None:
    otlp.set_partial_success("traces", rejected=1, message="span too large")
    tracer, provider = make_tracer(otlp)
    run_checkout(tracer)
    provider.shutdown()
    assert otlp.get_call_count() == 3  # 200 with partial_success: the exporter does not retry
    assert otlp.get_spans() == []  # one span per request, each rejected
    assert otlp.store.counts()["traces"]["rejected"] == 3


def test_sdk_spans_as_otlp_json_decode_like_protobuf(otlp: MockOTLPCollector) -> None:
    import json

    import requests
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mocktools.otlp.codec import message_to_otlp_json

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    run_checkout(provider.get_tracer("shop.checkout", "0.1"))
    provider.shutdown()
    request = encode_spans(memory.get_finished_spans())
    doc = message_to_otlp_json(request)
    first = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first["traceId"]) == 32 and isinstance(first["kind"], int)  # hex ids, integer enums
    headers = {"Content-Type": "application/x-protobuf"}
    assert requests.post(otlp.endpoint("traces"), data=request.SerializeToString(), headers=headers,
                         timeout=5).status_code == 200
    r = requests.post(otlp.endpoint("traces"), data=json.dumps(doc), headers={"Content-Type": "application/json"},
                      timeout=5)
    assert r.status_code == 200 and r.json() == {}
    by_encoding: dict[str, list] = {"protobuf": [], "json": []}
    for span in otlp.get_spans():
        by_encoding[span.origin.encoding].append(span)

    def strip(s: object) -> tuple:
        return (s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.attributes, s.events,  # type: ignore[attr-defined]
                s.status_code, s.start_time_unix_nano, s.resource, s.scope)  # type: ignore[attr-defined]

    assert [strip(s) for s in by_encoding["json"]] == [strip(s) for s in by_encoding["protobuf"]]
    assert len(by_encoding["json"]) == 3
