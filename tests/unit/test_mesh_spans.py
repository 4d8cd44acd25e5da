"""MeshSpan store (trees, completeness, waiting) and OTLP export to a collector stood up in the test."""

import threading

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from werkzeug.wrappers import Response

from mocktools.mesh.otlp_export import OTLPExportError, export_spans, spans_to_request, traces_url
from mocktools.mesh.spans import ContextEvent, MeshSpan, SpanStore

T = "ab" * 16


def chain() -> list[MeshSpan]:
    return [
        MeshSpan(T, "1" * 16, None, "GET /", "edge", "edge-1", "/", "server", 10.0, 0.5, status_code=200),
        MeshSpan(T, "2" * 16, "1" * 16, "call api", "edge", "edge-1", "/", "client", 10.1, 0.3),
        MeshSpan(T, "3" * 16, "2" * 16, "GET /x", "api", "api-1", "/x", "server", 10.2, 0.1, "error", 503,
             attributes={"retry": 2, "ratio": 0.5, "ok": False}),
    ]


def test_tree_and_completeness():
    store = SpanStore()
    for s in chain():
        store.add(s)
    roots = store.tree(T)
    assert len(roots) == 1 and [s.service for s in roots[0].walk()] == ["edge", "edge", "api"]
    assert roots[0].depth() == 3 and roots[0].to_dict()["children"][0]["children"][0]["service"] == "api"
    report = store.completeness(T, expected=[("edge", "/"), ("api", "/x")])
    assert report.complete and bool(report) and report.span_count == 3
    missing = store.completeness(T, expected=[("db", "/q")])
    assert not missing.complete and missing.missing == [("db", "/q")]
    assert store.spans(T, service="api")[0].status == "error"
    assert len(store.spans(kind="client")) == 1 and store.trace_ids() == [T]
    assert store.describe()["total_spans"] == 3


def test_orphan_detected():
    store = SpanStore()
    a, _, c = chain()
    store.add(a)
    store.add(c)  # its parent (the client span) never arrived
    report = store.completeness(T)
    assert not report.complete and report.orphans == [c] and report.roots == [a]
    assert not store.completeness("f" * 32).complete  # unknown trace: nothing recorded


def test_bounded_by_traces_and_clear():
    store = SpanStore(max_traces=2)
    for i in range(3):
        store.add(MeshSpan(f"{i:032x}", "1" * 16, None, "x", "s"))
    assert store.trace_ids() == [f"{1:032x}", f"{2:032x}"] and store.total_spans == 3
    store.add_context_event(ContextEvent(1.0, "s", "s-1", "/", "bad", None, {"traceparent": "x"}, T))
    assert store.context_events()[0].error == "bad" and store.total_context_events == 1
    store.clear()
    assert store.trace_ids() == [] and store.context_events() == [] and store.total_spans == 0


def test_wait_for_spans_wakes_on_add():
    store = SpanStore()
    t = threading.Timer(0.05, lambda: [store.add(s) for s in chain()])
    t.start()
    spans = store.wait_for_spans(T, 2, timeout=5, kind="server")
    assert len(spans) == 2
    with pytest.raises(TimeoutError):
        store.wait_for_spans(T, 9, timeout=0.05)
    t.join()


def test_span_event_and_dict():
    s = chain()[0]
    s.add_event("retry", 10.2, attempt=1)
    s.add_event("now")
    d = s.to_dict()
    assert d["events"][0] == {"name": "retry", "time": 10.2, "attributes": {"attempt": 1}} and s.end == 10.5


def test_spans_to_otlp_request():
    req = spans_to_request(chain())
    assert len(req.resource_spans) == 2
    rs = req.resource_spans[0]
    attrs = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
    assert attrs == {"service.name": "edge", "service.instance.id": "edge-1"}
    span = req.resource_spans[1].scope_spans[0].spans[0]
    assert span.trace_id.hex() == T and span.parent_span_id.hex() == "2" * 16
    assert span.start_time_unix_nano == 10_200_000_000 and span.end_time_unix_nano == 10_300_000_000
    assert span.status.code == 2 and span.kind == 2
    a = {kv.key: kv.value for kv in span.attributes}
    assert a["http.response.status_code"].int_value == 503 and a["ratio"].double_value == 0.5
    assert a["ok"].bool_value is False and a["retry"].int_value == 2
    root = req.resource_spans[0].scope_spans[0].spans[0]
    assert root.parent_span_id == b"" and req.resource_spans[0].scope_spans[0].scope.name == "mocktools.mesh"


def test_traces_url():
    assert traces_url("http://h:4318") == "http://h:4318/v1/traces"
    assert traces_url("http://h:4318/v1/traces/") == "http://h:4318/v1/traces"


def test_export_to_collector(httpserver):
    received = []

    def handler(request):
        msg = ExportTraceServiceRequest()
        msg.ParseFromString(request.get_data())
        received.append((request.headers.get("Content-Type"), msg))
        return Response(ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf")

    httpserver.expect_request("/v1/traces", method="POST").respond_with_handler(handler)
    assert export_spans(chain(), httpserver.url_for("/"), headers={"x-tenant": "t"}) == 3
    ctype, msg = received[0]
    assert ctype == "application/x-protobuf"
    ids = {s.span_id.hex() for rs in msg.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert ids == {"1" * 16, "2" * 16, "3" * 16}
    assert export_spans([], httpserver.url_for("/")) == 0


def test_export_errors(httpserver):
    httpserver.expect_request("/bad/v1/traces").respond_with_data("nope", status=400)
    with pytest.raises(OTLPExportError) as exc:
        export_spans(chain(), httpserver.url_for("/bad"))
    assert exc.value.status == 400
    partial = ExportTraceServiceResponse()
    partial.partial_success.rejected_spans = 2
    partial.partial_success.error_message = "too old"
    httpserver.expect_request("/partial/v1/traces").respond_with_data(
        partial.SerializeToString(), content_type="application/x-protobuf")
    with pytest.raises(OTLPExportError, match="rejected 2 spans: too old"):
        export_spans(chain(), httpserver.url_for("/partial"))
    httpserver.expect_request("/junk/v1/traces").respond_with_data(b"\xff\xff", content_type="application/x-protobuf")
    assert export_spans(chain(), httpserver.url_for("/junk")) == 3
    with pytest.raises(OTLPExportError, match="failed"):
        export_spans(chain(), "http://127.0.0.1:1", timeout=1)


def test_subscribe_and_unsubscribe():
    store = SpanStore()
    got = []
    unsubscribe = store.subscribe(got.append)
    store.add(chain()[0])
    unsubscribe()
    unsubscribe()  # twice is harmless
    store.add(chain()[1])
    assert [s.span_id for s in got] == ["1" * 16]


def test_totals_count_every_span_by_kind_even_when_evicted():
    store = SpanStore(max_traces=1)
    for i in range(3):
        for s in chain():
            s.trace_id = f"{i:032x}"
            store.add(s)
    assert len(store.trace_ids()) == 1  # two traces evicted, their spans still counted
    assert store.totals() == {"server": 6, "server_error": 3, "client": 3, "client_error": 0}
    store.clear()
    assert store.totals() == {"server": 0, "server_error": 0, "client": 0, "client_error": 0}


def test_stored_spans_come_back_equal_and_cost_full_collections_nothing():
    """The store keeps plain tuples (spans.py _pack): a query rebuilds equal MeshSpans, and a stored
    span whose attributes are plain values is no object the collector walks (CPython untracks it)."""
    import gc
    import sys

    store, spans = SpanStore(), chain()
    spans[1].add_event("retry", 10.2, attempt=1)
    for s in spans:
        store.add(s)
    assert store.spans(T) == spans and store.spans(T) is not store.spans(T)
    assert store.wait_for_spans(T, 1, kind="client") == [spans[1]]
    assert store.spans(T)[2].attributes == {"retry": 2, "ratio": 0.5, "ok": False}
    store.spans(T)[2].attributes["x"] = 1  # a query's span is a copy: the store keeps what was recorded
    store.spans(T)[1].events.clear()
    assert "x" not in store.spans(T)[2].attributes and store.spans(T)[1].events == spans[1].events
    if sys.implementation.name == "cpython":
        gc.collect()
        records = store._traces[T]
        assert [gc.is_tracked(r) for r in records] == [False, True, False]  # events keep their list
