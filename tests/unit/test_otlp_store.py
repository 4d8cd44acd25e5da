"""Unit tests of the OTLP telemetry store and the friendly model (no sockets)."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mocktools.clock import FakeClock
from mocktools.otlp import samples
from mocktools.otlp.model import any_value, hex_id
from mocktools.otlp.store import TelemetryStore, build_trace

RESOURCE = Resource.create({"service.name": "checkout", "deployment.environment": "test"})


def sdk_spans() -> list:
    """Real SDK spans: checkout -> (db, http) plus an event, a link and an error status."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop", "1.2")
    with tracer.start_as_current_span("checkout", kind=trace_api.SpanKind.SERVER) as root:
        root.set_attribute("cart.items", 3)
        root.set_attribute("tags", ["a", "b"])
        root.add_event("validated", {"ok": True})
        with tracer.start_as_current_span("db", kind=trace_api.SpanKind.CLIENT) as db:
            db.set_attribute("db.system", "postgresql")
        link = trace_api.Link(root.get_span_context(), {"why": "follow"})
        with tracer.start_as_current_span("http", links=[link]) as http:
            http.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "boom"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def test_spans_from_real_sdk_are_friendly() -> None:
    store = TelemetryStore(FakeClock())
    finished = sdk_spans()
    result = store.ingest("traces", encode_spans(finished))
    assert (result.accepted, result.rejected) == (3, 0)
    root = store.get_spans(name="checkout")[0]
    assert root.kind == "SERVER" and root.is_root and root.parent_span_id is None
    assert root.service_name == "checkout"
    assert root.resource["deployment.environment"] == "test"
    assert root.scope.name == "shop" and root.scope.version == "1.2"
    assert root.attributes == {"cart.items": 3, "tags": ["a", "b"]}
    assert root.events[0].name == "validated" and root.events[0].attributes == {"ok": True}
    assert root.trace_id == format(finished[-1].context.trace_id, "032x")
    assert root.duration_ns == root.end_time_unix_nano - root.start_time_unix_nano > 0
    http = store.get_spans(name="http")[0]
    assert http.status_code == "ERROR" and http.status_message == "boom"
    assert http.links[0].span_id == root.span_id and http.links[0].attributes == {"why": "follow"}
    db = store.get_spans(kind="CLIENT")[0]
    assert db.parent_span_id == root.span_id
    assert db.origin.transport == "http" and db.origin.encoding == "protobuf"


def test_filters() -> None:
    store = TelemetryStore()
    tid = samples.new_trace_id()
    store.ingest(
        "traces",
        samples.trace_request(
            [
                samples.span("a", trace_id=tid, attributes={"k": 1, "x": "y"}),
                samples.span("b", trace_id=tid, attributes={"k": 2}),
            ],
            service_name="svc1",
        ),
    )
    store.ingest("traces", samples.trace_request([samples.span("a", trace_id=samples.new_trace_id())], "svc2"))
    assert [s.name for s in store.get_spans()] == ["a", "b", "a"]
    assert len(store.get_spans(name="a")) == 2
    assert len(store.get_spans(service_name="svc1")) == 2
    assert len(store.get_spans(trace_id=tid.hex().upper())) == 2
    assert [s.name for s in store.get_spans(attributes={"k": 2})] == ["b"]
    assert store.get_spans(attributes={"missing": None}) == []
    assert len(store.get_spans(resource={"service.name": "svc2"})) == 1
    assert len(store.get_spans(scope_name="mocktools.samples")) == 3
    assert len(store.get_spans(where=lambda s: s.attributes.get("k", 0) > 0)) == 2
    assert len(store.get_spans(name=None)) == 3  # None means "no filter"
    with pytest.raises(TypeError, match="unknown filter 'colour'"):
        store.get_spans(colour="red")


def test_get_trace_tree_orphans_and_trace_ids() -> None:
    store = TelemetryStore()
    tid = samples.new_trace_id()
    root = samples.span("root", trace_id=tid, start=100)
    child2 = samples.span("child2", trace_id=tid, parent=root.span_id, start=300)
    child1 = samples.span("child1", trace_id=tid, parent=root.span_id, start=200)
    grandchild = samples.span("grand", trace_id=tid, parent=child1.span_id, start=250)
    orphan = samples.span("orphan", trace_id=tid, parent=samples.new_span_id(), start=50)
    store.ingest("traces", samples.trace_request([child2, grandchild]))
    store.ingest("traces", samples.trace_request([root, child1, orphan]))
    tr = store.get_trace(tid.hex())
    assert len(tr) == 5
    assert tr.root is not None and tr.root.name == "root"
    assert [s.name for s in tr.orphans] == ["orphan"]
    assert tr.format().splitlines() == ["orphan", "root", "  child1", "    grand", "  child2"]
    assert [s.name for s in tr.children_of(root.span_id.hex())] == ["child1", "child2"]
    assert tr.find("grand")[0].parent_span_id == child1.span_id.hex()
    assert store.get_trace_ids() == [tid.hex()]
    with pytest.raises(KeyError, match="no spans"):
        store.get_trace("0" * 32)


def test_trace_with_cycle_duplicates_and_missing_ids_still_shows_every_span() -> None:
    tid = samples.new_trace_id()
    a_id, b_id = samples.new_span_id(), samples.new_span_id()
    a = samples.span("a", trace_id=tid, span_id=a_id, parent=b_id, start=1)
    b = samples.span("b", trace_id=tid, span_id=b_id, parent=a_id, start=2)
    selfie = samples.span("self", trace_id=tid, parent=b"", start=3)
    selfie.parent_span_id = selfie.span_id
    dup = samples.span("dup", trace_id=tid, span_id=a_id, start=4)
    noid = samples.span("noid", trace_id=tid, start=5)
    noid.span_id = b""
    store = TelemetryStore()
    store.ingest("traces", samples.trace_request([a, b, selfie, dup, noid]))
    tr = build_trace(tid.hex(), store.get_spans())
    names = sorted(span.name for _, span in tr.walk())
    assert names == ["a", "b", "dup", "noid", "self"]
    assert tr.root is None  # no single true root in this mess


def test_metrics_from_real_sdk() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("shop")
    meter.create_counter("orders", unit="1").add(5, {"region": "eu"})
    meter.create_histogram("latency", unit="ms").record(12.5, {"route": "/x"})
    meter.create_up_down_counter("queue").add(-2)
    meter.create_observable_gauge("temp", callbacks=[lambda _o: [metrics_pb2 and _Obs(21.5)]])
    data = reader.get_metrics_data()
    store = TelemetryStore()
    store.ingest("metrics", encode_metrics(data))
    orders = store.get_metrics(name="orders")[0]
    assert orders.type == "sum" and orders.value == 5 and orders.is_monotonic is True
    assert orders.aggregation_temporality == "CUMULATIVE" and orders.attributes == {"region": "eu"}
    assert orders.service_name == "checkout" and orders.scope.name == "shop" and orders.unit == "1"
    lat = store.get_metrics(name="latency")[0]
    assert lat.type == "histogram" and lat.count == 1 and lat.sum == 12.5 and lat.min == 12.5 and lat.max == 12.5
    assert len(lat.bucket_counts) == len(lat.explicit_bounds) + 1 and sum(lat.bucket_counts) == 1
    assert store.get_metrics(name="queue")[0].is_monotonic is False
    assert store.get_metrics(name="temp")[0].type == "gauge"
    assert store.get_metrics(name="temp")[0].value == 21.5
    provider.shutdown()


class _Obs:
    def __init__(self, value: float) -> None:
        from opentelemetry.metrics import Observation

        self.__class__ = Observation  # type: ignore[assignment]
        Observation.__init__(self, value)  # type: ignore[misc]


def test_exponential_histogram_summary_and_empty_metric() -> None:
    req = samples.metrics_request({})
    sm = req.resource_metrics[0].scope_metrics[0]
    eh = sm.metrics.add(name="eh")
    dp = eh.exponential_histogram.data_points.add(count=3, sum=6.0, scale=1)
    dp.positive.bucket_counts.extend([1, 2])
    ex = dp.exemplars.add(as_double=2.0, span_id=b"\x01" * 8, trace_id=b"\x02" * 16)
    ex.filtered_attributes.extend(samples.key_values({"f": 1}))
    summ = sm.metrics.add(name="summ")
    sdp = summ.summary.data_points.add(count=2, sum=3.0)
    sdp.quantile_values.add(quantile=0.5, value=1.5)
    sm.metrics.add(name="nodata")
    store = TelemetryStore()
    assert store.ingest("metrics", req).accepted == 2
    e = store.get_metrics(name="eh")[0]
    assert (e.type, e.count, e.sum, e.bucket_counts, e.min) == ("exponential_histogram", 3, 6.0, [1, 2], None)
    assert e.exemplars[0].value == 2.0 and e.exemplars[0].span_id == "01" * 8
    assert e.exemplars[0].filtered_attributes == {"f": 1}
    s = store.get_metrics(type="summary")[0]
    assert s.quantiles == {0.5: 1.5} and s.value == 3.0


def test_logs_from_real_sdk() -> None:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("shop.logs")
    logger.emit(body="payment failed", severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                attributes={"order": 7})
    logger.emit(body={"structured": [1, 2]}, severity_number=SeverityNumber.INFO)
    store = TelemetryStore()
    store.ingest("logs", encode_logs(exporter.get_finished_logs()))
    err = store.get_logs(severity_text="ERROR")[0]
    assert err.body == "payment failed" and err.attributes == {"order": 7}
    assert err.severity_number == 17 and err.service_name == "checkout" and err.scope.name == "shop.logs"
    assert store.get_logs(body={"structured": [1, 2]})
    provider.shutdown()


def test_any_value_and_hex_id_edges() -> None:
    assert any_value(samples.to_any(None)) is None
    assert any_value(samples.to_any(b"\x00")) == b"\x00"
    assert any_value(samples.to_any({"a": {"b": [1, "x"]}})) == {"a": {"b": [1, "x"]}}
    assert any_value(samples.to_any(object())).startswith("<object")
    assert hex_id(b"") is None and hex_id(b"\0" * 8) is None and hex_id(b"\x0a") == "0a"


def test_partial_success_rules() -> None:
    store = TelemetryStore()
    store.set_partial_success("traces", rejected=2, message="quota", times=1)
    res = store.ingest("traces", samples.batch_of_spans(5))
    assert (res.accepted, res.rejected, res.message) == (3, 2, "quota")
    assert [s.name for s in store.get_spans()] == ["GET /items", "db.query 0", "db.query 1"]
    res = store.ingest("traces", samples.batch_of_spans(2))  # rule used up
    assert (res.accepted, res.rejected, res.message) == (2, 0, "")
    store.set_partial_success("logs", rejected=10, message="all gone")
    assert store.ingest("logs", samples.logs_request(["a"])).rejected == 1  # capped at request size
    assert store.ingest("logs", samples.logs_request(["b"])).rejected == 1  # times=None: stays
    store.set_partial_success("metrics", rejected=0, message="warning only")
    res = store.ingest("metrics", samples.metrics_request({"m": 1}))
    assert (res.accepted, res.rejected, res.message) == (1, 0, "warning only")
    assert set(store.partial_success_rules()) == {"logs", "metrics"}
    store.clear_partial_success("logs")
    assert set(store.partial_success_rules()) == {"metrics"}
    store.clear_partial_success()
    assert store.partial_success_rules() == {}
    counts = store.counts()
    assert counts["traces"] == {"accepted": 5, "rejected": 2, "requests": 2, "stored": 5}
    with pytest.raises(ValueError):
        store.set_partial_success("profiles")
    with pytest.raises(ValueError):
        store.set_partial_success("traces", rejected=-1)
    with pytest.raises(ValueError):
        store.ingest("profiles", samples.batch_of_spans(1))


def test_raw_requests_are_kept_bounded_with_metadata() -> None:
    clock = FakeClock(start=1000.0)
    store = TelemetryStore(clock, max_raw=2)
    for i in range(3):
        clock.advance(1)
        store.ingest("logs", samples.logs_request([str(i)]), body=b"B%d" % i, headers={"x": "y"},
                     transport="grpc", encoding="json", content_encoding="gzip")
    raw = store.get_raw_requests("logs")
    assert [r.body for r in raw] == [b"B1", b"B2"]
    assert raw[-1].received_at == 1003.0 and raw[-1].headers == {"x": "y"} and raw[-1].transport == "grpc"
    assert raw[-1].message.resource_logs[0].scope_logs[0].log_records[0].body.string_value == "2"
    assert raw[-1].seq == 3 and raw[-1].accepted == 1
    assert store.get_raw_requests("traces") == []
    store.clear()
    assert store.get_raw_requests() == [] and store.get_logs() == []


def test_items_are_bounded_but_counts_exact() -> None:
    store = TelemetryStore(max_items=100)
    for _ in range(30):
        store.ingest("traces", samples.batch_of_spans(10))
    assert len(store.get_spans()) <= 100
    assert store.counts()["traces"]["accepted"] == 300


@pytest.mark.timeout(10)
def test_wait_for_spans_wakes_on_ingest_from_another_thread() -> None:
    store = TelemetryStore()
    gate = threading.Event()

    def producer() -> None:
        gate.wait()
        for _ in range(3):
            store.ingest("traces", samples.batch_of_spans(2, service_name="late"))

    t = threading.Thread(target=producer)
    t.start()
    gate.set()
    got = store.wait_for_spans(3, timeout=5, service_name="late", kind="CLIENT")
    t.join()
    assert len(got) == 3 and all(s.kind == "CLIENT" and s.service_name == "late" for s in got)
    assert len(store.wait_for_spans(6, timeout=1)) == 6


def test_wait_for_timeout_message_and_zero() -> None:
    store = TelemetryStore()
    store.ingest("logs", samples.logs_request(["x"]))
    assert [r.body for r in store.wait_for_logs(0, timeout=0)] == ["x"]  # returns every match
    with pytest.raises(TimeoutError, match=r"1 log records matching body='nope'; 0 matched, 1 log records stored"):
        store.wait_for_logs(1, timeout=0.01, body="nope")
    with pytest.raises(TimeoutError, match="no filter"):
        store.wait_for_metrics(1, timeout=0.01)


@pytest.mark.timeout(10)
def test_wait_counts_items_evicted_before_the_waiter_wakes_and_survives_clear() -> None:
    store = TelemetryStore(max_items=10)
    store.ingest("traces", samples.batch_of_spans(8, service_name="after"))

    def producer() -> None:
        while not store._waiters:  # the waiter is registered (and asleep) before we produce
            time.sleep(0.001)
        store.clear()  # forgets the 8 matches the waiter already had
        for _ in range(4):
            store.ingest("traces", samples.batch_of_spans(4, service_name="after"))

    t = threading.Thread(target=producer)
    t.start()
    got = store.wait_for_spans(16, timeout=5, service_name="after")
    t.join()
    assert len(got) == 16  # all 16 counted although at most 10 are stored
    assert len(store.get_spans()) <= 10
    assert store._waiters == []
