"""One regression test per defect of issue 17 owned here (items 5-8, 14), through real clients."""
from __future__ import annotations

import json
import threading

import openai
import pytest
import requests
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mocktools.journal import Journal
from mocktools.ofd import MockOFDServer
from mocktools.otlp import MockOTLPCollector, samples
from mocktools.otlp.store import TelemetryStore
from mocktools.teraslice import MockTerasliceServer
from mocktools.vllm import MockVLLMServer

JSON = {"Content-Type": "application/json"}


def deep(n: int) -> str:
    return "[" * n + "]" * n


# ---- item 5: Teraslice cluster size ----------------------------------------------------------
def test_teraslice_cluster_size_far_past_the_bound_is_refused() -> None:
    with MockTerasliceServer(seed=1) as ts:
        for nodes in (1e30, 10**30, 10_001, 0, "many"):  # (1.5 and true: the control-input schemas)
            answer = requests.post(f"{ts.url}/_mock/teraslice/cluster-size", json={"nodes": nodes}, timeout=10)
            assert answer.status_code == 400 and "nodes" in answer.json()["error"]["message"]
        assert requests.get(f"{ts.url}/v1/cluster/state", timeout=10).status_code == 200  # lock not held
        with pytest.raises(ValueError, match="nodes"):
            ts.cluster.set_cluster_size(10**30)  # the domain refuses it from Python too
        with pytest.raises(ValueError, match="slots_per_node"):
            ts.cluster.set_cluster_size(3, slots_per_node=10**12)
        with pytest.raises(ValueError, match="jobs"):
            ts.cluster.regenerate(jobs=10**9)
        ts.set_cluster_size(5)
        assert len(ts.cluster.nodes) == 5 and ts.errors == []


# ---- item 6: lone surrogates -----------------------------------------------------------------
@pytest.mark.parametrize("body", ['{"x": "\\ud800"}', '{"id": "\\udfff-1"}', '{"\\ud800": 1}',
                                  b'{"raw": "\xed\xa0\x80"}'])
def test_ofd_lone_surrogates_are_stored_replaced_not_500(body: str | bytes) -> None:
    with MockOFDServer() as ofd:
        answer = requests.post(f"{ofd.url}/ofd/v1/receipt", data=body, headers=JSON, timeout=10)
        assert answer.status_code == 200, answer.text
        (stored,) = ofd.get_received_receipts()
        assert "\ufffd" in json.dumps(stored, ensure_ascii=False)
        assert requests.get(f"{ofd.url}/_mock/receipts", timeout=10).status_code == 200
        assert requests.get(f"{ofd.url}/_mock/calls", timeout=10).status_code == 200
        assert ofd.errors == []


def test_teraslice_job_named_with_a_surrogate_keeps_listing_routes_working() -> None:
    with MockTerasliceServer(seed=2) as ts:
        body = '{"name": "x\\ud800", "operations": [{"_op": "a"}, {"_op": "b"}]}'
        created = requests.post(f"{ts.url}/v1/jobs", data=body, headers=JSON, timeout=10)
        assert created.status_code == 200
        job_id = created.json()["job_id"]
        ts.add_job({"name": "y\udc00"})  # from Python as well
        for path in ("/v1/jobs", f"/v1/jobs/{job_id}", "/txt/jobs", "/v1/ex", "/txt/ex"):
            assert requests.get(ts.url + path, timeout=10).status_code == 200, path
        assert requests.get(f"{ts.url}/v1/jobs/{job_id}", timeout=10).json()["name"] == "x\ufffd"
        assert ts.errors == []


# ---- item 7: deep JSON -----------------------------------------------------------------------
def test_deep_json_is_refused_with_400_and_the_journal_still_renders() -> None:
    with MockOFDServer() as ofd:
        receipt = f"{ofd.url}/ofd/v1/receipt"
        for depth in (600, 900, 990, 5000):
            answer = requests.post(receipt, data='{"a": ' + deep(depth) + "}", headers=JSON, timeout=10)
            assert answer.status_code == 400 and "nesting" in answer.json()["error"]["message"]
        assert requests.post(receipt, data='{"id": "ok", "a": ' + deep(200) + "}", headers=JSON,
                             timeout=10).status_code == 200
        calls = requests.get(f"{ofd.url}/_mock/calls", timeout=10)
        assert calls.status_code == 200 and calls.json()["count"] == 5
        assert requests.get(f"{ofd.url}/_mock/receipts", timeout=10).status_code == 200
        assert ofd.errors == []


def test_vllm_deep_json_is_a_400() -> None:
    with MockVLLMServer() as vllm:
        client = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="nesting"):
            client.completions.create(model="mock-llm", prompt="hi", extra_body={"x": json.loads(deep(600))})
        assert client.completions.create(model="mock-llm", prompt="hi", max_tokens=2).choices
        assert vllm.errors == []


# ---- item 8: OTLP ----------------------------------------------------------------------------
def test_otlp_wait_with_bad_filters_does_not_fail_export() -> None:
    with MockOTLPCollector(grpc_port=None) as collector:
        bad = requests.post(f"{collector.url}/_mock/otlp/wait", json={"n": 1, "filters": {"attributes": "x"}},
                            timeout=10)
        assert bad.status_code == 400 and "attributes" in bad.json()["error"]["message"]
        failures: list[BaseException] = []

        def park() -> None:
            try:
                collector.wait_for_spans(1, timeout=30, where=lambda span: 1 / 0)  # a filter that raises
            except BaseException as exc:  # noqa: BLE001 - inspected below
                failures.append(exc)

        waiter = threading.Thread(target=park)
        waiter.start()
        while collector.store.waiting == 0:
            waiter.join(0.005)
        provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
        exporter = OTLPSpanExporter(endpoint=collector.endpoint("traces"), timeout=5)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("t").start_as_current_span("checkout", kind=trace_api.SpanKind.SERVER):
            pass
        provider.shutdown()
        waiter.join(10)
        assert isinstance(failures[0], TypeError) and "ZeroDivisionError" in str(failures[0])
        assert [s.name for s in collector.get_spans()] == ["checkout"]  # stored once: no retry
        assert collector.journal.status_counts() == {200: 1} and collector.errors == []  # one export, 200


def test_otlp_trace_of_a_3000_span_parent_chain_renders() -> None:
    tid = samples.new_trace_id()
    spans, parent = [], b""
    for i in range(3000):
        s = samples.span(f"hop {i}", trace_id=tid, parent=parent, start=samples.BASE_NS + i)
        spans.append(s)
        parent = s.span_id
    with MockOTLPCollector(grpc_port=None) as collector:
        exported = requests.post(collector.endpoint("traces"), data=samples.trace_request(spans).SerializeToString(),
                                 headers={"Content-Type": "application/x-protobuf"}, timeout=30)
        assert exported.status_code == 200
        answer = requests.get(f"{collector.url}/_mock/otlp/traces/{tid.hex()}", timeout=30)
        assert answer.status_code == 200, answer.text[:200]
        doc = answer.json()
        seen, todo = len(doc["deeper_spans"]), list(doc["roots"])  # nested, then listed flat below the cut
        while todo:
            node = todo.pop()
            seen += 1
            todo.extend(node["children"])
        assert doc["span_count"] == seen == 3000 and len(doc["roots"]) == 1
        assert collector.get_trace(tid.hex()).walk()[-1][0] == 2999  # depth of the last hop
        assert collector.errors == []


def test_otlp_partial_success_with_a_bad_message_does_not_fail_export() -> None:
    with MockOTLPCollector(grpc_port=None) as collector:
        for body in ({"message": 123}, {"rejected": "2"}, {"rejected": 1.5}, {"times": 0}):
            answer = requests.post(f"{collector.url}/_mock/otlp/partial-success", json=body, timeout=10)
            assert answer.status_code == 400, body
        data = samples.batch_of_spans(2).SerializeToString()
        exported = requests.post(collector.endpoint("traces"), data=data,
                                 headers={"Content-Type": "application/x-protobuf"}, timeout=10)
        assert exported.status_code == 200 and len(collector.get_spans()) == 2
        rule = collector.store._rules  # a rule planted past validation still cannot fail an export
        collector.set_partial_success("traces", rejected=1, message="x")
        rule["traces"].message = 123  # type: ignore[assignment]
        exported = requests.post(collector.endpoint("traces"), data=data,
                                 headers={"Content-Type": "application/x-protobuf"}, timeout=10)
        assert exported.status_code == 200 and collector.errors == []


# ---- item 14: unbounded growth ---------------------------------------------------------------
def test_journal_window_is_bounded_by_bytes_with_exact_counters() -> None:
    journal = Journal(max_bytes=4 * 1024 * 1024, max_body_bytes=512 * 1024)
    for _ in range(100):
        journal.add(path="/big", body=b"x" * 1024 * 1024)
    limits = journal.limits()
    assert limits["bytes"] <= 4 * 1024 * 1024 and limits["records"] < 100
    assert journal.count() == journal.count("/big") == 100 and limits["dropped"] == 100 - limits["records"]
    last = journal.last()
    assert last is not None and len(last.body) == 512 * 1024 and last.size == 1024 * 1024 and last.truncated
    assert last.json is None and last.to_dict()["body_truncated"] and last.to_dict()["size"] == 1024 * 1024


def test_journal_per_path_counters_are_bounded_and_totals_exact() -> None:
    with MockOFDServer() as ofd:
        ofd.journal.set_limits(max_paths=10)
        with requests.Session() as http:
            for i in range(50):
                http.get(f"{ofd.url}/scan/{i}", timeout=10)
            http.get(f"{ofd.url}/ofd/v1/health", timeout=10)
        limits = ofd.journal.limits()
        assert limits["paths"] == 10 and limits["overflow_calls"] == 41 and ofd.get_call_count(None) == 51
        assert ofd.journal.count("/scan/3") == 1 and ofd.journal.status_counts() == {404: 50, 200: 1}
        assert ofd.journal.count("/ofd/v1/health") == 1  # past the bound: counted from the window


def test_otlp_store_is_bounded_by_bytes_with_exact_counters() -> None:
    store = TelemetryStore(max_bytes=256 * 1024, max_raw_bytes=64 * 1024)
    for _ in range(500):
        message = samples.batch_of_spans(1)
        store.ingest("traces", message, body=message.SerializeToString())
    limits = store.limits()
    assert limits["signals"]["traces"]["stored_bytes"] <= 256 * 1024 and limits["raw_bytes"] <= 64 * 1024
    counts = store.counts()["traces"]
    assert counts["accepted"] == counts["requests"] == 500
    assert counts["stored"] + limits["signals"]["traces"]["evicted"] == 500 and counts["stored"] < 500


def test_teraslice_submitted_jobs_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from mocktools.teraslice import actions

    with MockTerasliceServer(seed=4, jobs=3) as ts:
        monkeypatch.setattr(actions, "MAX_STORED_JOBS", len(ts.cluster.jobs) + 1)
        job = {"name": "j", "operations": [{"_op": "a"}, {"_op": "b"}]}
        assert requests.post(f"{ts.url}/v1/jobs", json=job, timeout=10).status_code == 200
        refused = requests.post(f"{ts.url}/v1/jobs", json=job, timeout=10)
        assert refused.status_code == 400 and "at most" in refused.text
        assert requests.get(f"{ts.url}/v1/jobs", timeout=10).status_code == 200 and ts.errors == []


def test_teraslice_deep_job_spec_renders_on_every_route() -> None:
    from mocktools.teraslice.actions import ActionError

    with MockTerasliceServer(seed=5) as ts:
        body = '{"name": "deep", "operations": [{"_op": "a"}, {"_op": "b"}], "x": ' + deep(255) + "}"
        created = requests.post(f"{ts.url}/v1/jobs", data=body, headers=JSON, timeout=10)
        assert created.status_code == 200
        job_id = created.json()["job_id"]
        for path in ("/v1/jobs", f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/ex", "/txt/jobs", "/v1/ex"):
            assert requests.get(ts.url + path, timeout=10).status_code == 200, path
        with pytest.raises(ActionError, match="deeper than 256"):
            ts.add_job({"x": json.loads(deep(600))})  # from Python too
        assert ts.errors == []
