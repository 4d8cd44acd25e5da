"""OTLP/gRPC side of MockOTLPCollector, driven by opentelemetry-exporter-otlp-proto-grpc and raw stubs."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
import requests
from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mocktools.errors import MockStartError
from mocktools.otlp import MockOTLPCollector, samples

RESOURCE = Resource.create({"service.name": "grpc-svc"})
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture(scope="module")
def collector() -> Iterator[MockOTLPCollector]:
    with MockOTLPCollector() as mock:
        yield mock


@pytest.fixture()
def otlp(collector: MockOTLPCollector) -> Iterator[MockOTLPCollector]:
    collector.reset()
    yield collector
    collector.check()


@pytest.fixture()
def stub(collector: MockOTLPCollector) -> Iterator[trace_service_pb2_grpc.TraceServiceStub]:
    assert collector.grpc is not None
    with grpc.insecure_channel(collector.grpc.target) as channel:
        yield trace_service_pb2_grpc.TraceServiceStub(channel)


def tracer_for(otlp: MockOTLPCollector, **kwargs: object) -> tuple[trace_api.Tracer, TracerProvider]:
    exporter = OTLPSpanExporter(endpoint=otlp.grpc_endpoint, insecure=True, timeout=5, **kwargs)  # type: ignore[arg-type]
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("grpc.test"), provider


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip])
def test_grpc_exporter_traces(otlp: MockOTLPCollector, compression: grpc.Compression | None) -> None:
    tracer, provider = tracer_for(otlp, compression=compression, headers=(("x-tenant", "t1"),))
    with tracer.start_as_current_span("parent", kind=trace_api.SpanKind.SERVER) as parent:
        with tracer.start_as_current_span("child"):
            pass
        trace_id = format(parent.get_span_context().trace_id, "032x")
    provider.shutdown()
    otlp.wait_for_spans(2, timeout=5)
    tree = otlp.get_trace(trace_id)
    assert tree.format().splitlines() == ["parent", "  child"]
    assert tree.root is not None and tree.root.origin.transport == "grpc" and tree.root.service_name == "grpc-svc"
    raw = otlp.get_raw_requests("traces")[0]
    assert raw.transport == "grpc" and raw.headers["x-tenant"] == "t1"
    call = otlp.calls[0]
    assert call.path == TRACE_EXPORT and call.status == 0 and call.meta["accepted"] == 1


def test_grpc_exporter_metrics_and_logs(otlp: MockOTLPCollector) -> None:
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=otlp.grpc_endpoint, insecure=True, timeout=5), export_interval_millis=3_600_000
    )
    meters = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meters.get_meter("m").create_counter("jobs").add(4, {"q": "a"})
    meters.shutdown()
    logs = LoggerProvider(resource=RESOURCE)
    logs.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=otlp.grpc_endpoint, insecure=True, timeout=5))
    )
    logs.get_logger("l").emit(body="over grpc", severity_number=SeverityNumber.WARN, severity_text="WARN")
    logs.shutdown()
    assert otlp.wait_for_metrics(1, timeout=5, name="jobs")[0].value == 4
    rec = otlp.wait_for_logs(1, timeout=5)[0]
    assert rec.body == "over grpc" and rec.severity_number == 13 and rec.origin.transport == "grpc"


@pytest.mark.parametrize("status", [503, 429])
def test_grpc_exporter_retries_with_retry_info(otlp: MockOTLPCollector, status: int) -> None:
    otlp.set_failure_count(2, status=status, retry_after=0)
    tracer, provider = tracer_for(otlp)
    with tracer.start_as_current_span("retried"):
        pass
    provider.shutdown()
    spans = otlp.wait_for_spans(1, timeout=5, name="retried")
    assert len(spans) == 1
    expected = grpc.StatusCode.UNAVAILABLE if status == 503 else grpc.StatusCode.RESOURCE_EXHAUSTED
    assert [c.status for c in otlp.calls] == [expected.value[0]] * 2 + [0]
    assert [c.meta["grpc_code"] for c in otlp.calls][:2] == [expected.name] * 2


def test_grpc_non_retryable_and_connection_fault(otlp: MockOTLPCollector) -> None:
    otlp.set_failure_count(1, status=400)
    tracer, provider = tracer_for(otlp)
    with tracer.start_as_current_span("dropped"):
        pass
    otlp.set_connection_fault("reset", count=1)
    otlp.set_failure_count(0)
    with tracer.start_as_current_span("after-fault"):
        pass  # UNAVAILABLE without RetryInfo: the exporter backs off ~1 s, then succeeds
    provider.shutdown()
    assert [s.name for s in otlp.get_spans()] == ["after-fault"]
    assert [c.meta["grpc_code"] for c in otlp.calls] == ["INVALID_ARGUMENT", "UNAVAILABLE", "OK"]


def test_raw_stub_partial_success_and_errors(otlp: MockOTLPCollector, stub: trace_service_pb2_grpc.TraceServiceStub) -> None:
    otlp.set_partial_success("traces", rejected=1, message="dropped one", times=1)
    resp = stub.Export(samples.batch_of_spans(3), timeout=5)
    assert resp.partial_success.rejected_spans == 1 and resp.partial_success.error_message == "dropped one"
    assert len(otlp.get_spans()) == 2
    otlp.set_failure_count(1, status=429, retry_after=1.5)
    with pytest.raises(grpc.RpcError) as exc:
        stub.Export(samples.batch_of_spans(1), timeout=5)
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(exc.value.trailing_metadata())
    from google.rpc.error_details_pb2 import RetryInfo

    info = RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert (info.retry_delay.seconds, info.retry_delay.nanos) == (1, 500_000_000)
    otlp.set_failure_count(1, status=grpc.StatusCode.DATA_LOSS)
    with pytest.raises(grpc.RpcError) as exc2:
        stub.Export(samples.batch_of_spans(1), timeout=5)
    assert exc2.value.code() == grpc.StatusCode.DATA_LOSS


def test_one_fault_plan_and_journal_for_both_transports(
    otlp: MockOTLPCollector, stub: trace_service_pb2_grpc.TraceServiceStub
) -> None:
    body = samples.batch_of_spans(1).SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    otlp.set_failure_count(2, status=503, path="*trace*")  # matches /v1/traces and TraceService/Export
    with pytest.raises(grpc.RpcError):
        stub.Export(samples.batch_of_spans(1), timeout=5)
    assert requests.post(otlp.endpoint("traces"), data=body, headers=headers, timeout=5).status_code == 503
    assert requests.post(otlp.endpoint("traces"), data=body, headers=headers, timeout=5).status_code == 200
    stub.Export(samples.batch_of_spans(1), timeout=5)
    assert [c.path for c in otlp.calls] == [TRACE_EXPORT, "/v1/traces", "/v1/traces", TRACE_EXPORT]
    assert {s.origin.transport for s in otlp.get_spans()} == {"http", "grpc"}
    assert otlp.get_call_count(TRACE_EXPORT) == 2


def test_handler_bug_is_internal_and_reported(otlp: MockOTLPCollector, stub: trace_service_pb2_grpc.TraceServiceStub) -> None:
    otlp.subscribe(lambda s, items: None)
    original = otlp.store.ingest

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("store exploded")

    otlp.store.ingest = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(grpc.RpcError) as exc:
            stub.Export(samples.batch_of_spans(1), timeout=5)
    finally:
        otlp.store.ingest = original  # type: ignore[method-assign]
    assert exc.value.code() == grpc.StatusCode.INTERNAL
    with pytest.raises(Exception, match="store exploded"):
        otlp.check()
    stub.Export(samples.batch_of_spans(1), timeout=5)


def test_grpc_port_conflict_and_disabled_grpc() -> None:
    with MockOTLPCollector() as first:
        with pytest.raises(MockStartError, match="OTLP/gRPC"):
            MockOTLPCollector(grpc_port=first.grpc_port).start()
    with MockOTLPCollector(grpc_port=None) as http_only:
        assert http_only.grpc_port is None and http_only.grpc_endpoint is None
        assert http_only.describe_state()["grpc_endpoint"] is None
    again = MockOTLPCollector()
    again.start()
    port = again.grpc_port
    again.stop()
    again.stop()
    assert port and again.grpc_port == 0 and not again.running
