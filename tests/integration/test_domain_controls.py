"""Every package's /_mock/<name>/ controls validate with their declared schema (issue 17 items 2,
5 and 8): junk answers 400 naming the field, and the mock keeps serving its real clients."""
from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from mocktools import FakeClock, HTTPMockServer
from mocktools.control_schema import ControlRoute, integer, obj
from mocktools.e6data import MockE6DataServer
from mocktools.mesh import MockServiceMesh
from mocktools.otlp import MockOTLPCollector, samples
from mocktools.teraslice import MockTerasliceServer
from mocktools.vllm import MockVLLMServer

CHAT = {"model": "mock-llm", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def _bad(url: str, body: str, field: str, method: str = "POST") -> None:
    answer = requests.request(method, url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == field


def test_issue17_item2_vllm_replies_texts_string_is_refused_not_queued_per_character() -> None:
    with MockVLLMServer() as vllm:
        _bad(f"{vllm.url}/_mock/vllm/replies", '{"texts": "abc"}', "texts")
        _bad(f"{vllm.url}/_mock/vllm/replies", '{"texts": ["ok", 3]}', "texts.1")
        assert vllm.engine.describe()["replies"] == vllm.engine.script.describe()
        answer = requests.post(f"{vllm.url}/v1/chat/completions", json=CHAT, timeout=5).json()
        assert answer["choices"][0]["message"]["content"] not in ("a", "b", "c")


@pytest.mark.parametrize("body, field", [('{"itl": 1e10}', "itl"), ('{"ttft": -1}', "ttft"), ('{"itl": NaN}', "itl"),
                                         ('{"ttft": "0.1"}', "ttft")])
def test_issue17_item1_vllm_timing_out_of_range_is_refused_and_completions_still_answer(body: str, field: str) -> None:
    with MockVLLMServer() as vllm:
        _bad(f"{vllm.url}/_mock/vllm/timing", body, field)
        assert requests.post(f"{vllm.url}/v1/chat/completions", json=CHAT, timeout=5).status_code == 200


@pytest.mark.parametrize("route, body, field", [
    ("/max-num-seqs", '{"n": 1.5}', "n"), ("/max-num-seqs", '{"n": 0}', "n"), ("/health", '{"healthy": "false"}', "healthy"),
    ("/stream-fault", '{"kind": "error", "status": 99}', "status"),
    ("/stream-fault", '{"kind": "stall", "stall_seconds": 1e400}', "stall_seconds"),
    ("/reply", '{"text": 5}', "text"), ("/reply-table", '{"table": {"a": 1}}', "table.a")])
def test_vllm_controls_refuse_junk_naming_the_field(route: str, body: str, field: str) -> None:
    with MockVLLMServer() as vllm:
        _bad(f"{vllm.url}/_mock/vllm{route}", body, field)
        assert requests.get(f"{vllm.url}/health", timeout=5).status_code == 200


def test_issue17_item5_teraslice_cluster_size_1e30_is_refused_at_once() -> None:
    with MockTerasliceServer(clock=FakeClock(), seed=1) as ts:
        started = time.perf_counter()
        _bad(f"{ts.url}/_mock/teraslice/cluster-size", '{"nodes": 1e30}', "nodes")
        _bad(f"{ts.url}/_mock/teraslice/cluster-size", '{"nodes": 1.5}', "nodes")
        _bad(f"{ts.url}/_mock/teraslice/cluster-size", '{"nodes": 2, "slots_per_node": "x"}', "slots_per_node")
        _bad(f"{ts.url}/_mock/teraslice/status", '{"ex_id": "x", "status": "bogus"}', "status")
        _bad(f"{ts.url}/_mock/teraslice/jobs", '{"start": "no"}', "start")
        assert time.perf_counter() - started < 30  # generous: refused before any work, not after a 30 s loop
        assert requests.get(f"{ts.url}/v1/cluster/state", timeout=5).ok


def test_issue17_item8_otlp_partial_success_message_123_is_refused_and_exports_still_answer() -> None:
    with MockOTLPCollector() as otlp:
        _bad(f"{otlp.url}/_mock/otlp/partial-success", '{"message": 123}', "message")
        _bad(f"{otlp.url}/_mock/otlp/partial-success", '{"times": 0}', "times")
        body = samples.batch_of_spans(1).SerializeToString()
        sent = requests.post(f"{otlp.url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"},
                             timeout=5)
        assert sent.status_code == 200 and len(otlp.get_spans()) == 1


@pytest.mark.parametrize("filters, field", [({"attributes": "x"}, "filters.attributes"),
                                            ({"where": "x"}, "filters.where"),
                                            ({"name": ["a"]}, "filters.name")])
def test_issue17_item8_otlp_wait_with_bad_filters_is_refused_before_it_parks(filters: dict, field: str) -> None:
    with MockOTLPCollector() as otlp:
        answer = requests.post(f"{otlp.url}/_mock/otlp/wait", json={"filters": filters, "timeout": 5}, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"]["field"] == field
        body = samples.batch_of_spans(1).SerializeToString()
        assert requests.post(f"{otlp.url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"},
                             timeout=5).status_code == 200
        otlp.check()


def test_otlp_wait_filter_the_signal_lacks_is_a_400_naming_filters() -> None:
    with MockOTLPCollector() as otlp:
        answer = requests.post(f"{otlp.url}/_mock/otlp/wait", json={"signal": "traces", "filters": {"body": "x"}},
                               timeout=10)
        assert answer.status_code == 400 and answer.json()["error"]["field"] == "filters"


def test_e6data_controls_refuse_junk_naming_the_field() -> None:
    with MockE6DataServer(admin_port=0) as e6:
        base = f"{e6.admin_url}/_mock/e6data"
        _bad(f"{base}/inject-456", '{"count": true}', "count")
        _bad(f"{base}/batch-size", '{"rows": 1.5}', "rows")
        _bad(f"{base}/switch", '{"immediate": "yes"}', "immediate")
        _bad(f"{base}/query-result", '{"sql": "s", "columns": [1]}', "columns.0")
        _bad(f"{base}/strategy", '{"strategy": "red"}', "strategy", method="PUT")
        assert e6.engine.batch_size == 1000


def test_mesh_controls_refuse_junk_naming_the_field() -> None:
    spec: dict[str, Any] = {"services": {"a": {"endpoints": {"/": {}}}}}
    with MockServiceMesh(spec) as mesh:
        base = f"{mesh.url}/_mock/mesh"
        _bad(f"{base}/services/a/scale", '{"replicas": true}', "replicas")
        _bad(f"{base}/chaos", '{"kind": "latency", "service": "a", "seconds": 1e400}', "seconds")
        _bad(f"{base}/chaos", '{"kind": "error_rate", "service": "a", "rate": 2}', "rate")
        _bad(f"{base}/breakers/config", '{"default": {"window_size": 0}}', "default.window_size", method="PUT")
        _bad(f"{base}/export", '{"endpoint": "file:///etc/passwd"}', "endpoint")
        assert requests.get(f"{base}/graph", params={"format": "png"}, timeout=5).json()["error"]["field"] == "format"
        assert requests.get(mesh.url_of("a") + "/", timeout=5).ok


def test_a_control_is_declared_once_and_its_handler_checked_at_declaration() -> None:
    with pytest.raises(TypeError, match=r"takes no \['count'\]"):
        ControlRoute("/_mock/x", "POST", lambda n: None, obj(count=integer()))

    class Counter(HTTPMockServer):
        """A counter with one declared control."""

        def __init__(self) -> None:
            super().__init__()
            self.value = 0
            self.admin.add_controls([ControlRoute("/_mock/counter", "POST", self.bump, obj(["by"], by=integer(1, 10)),
                                                  summary="Add `by` to the counter", tag="counter")])

        def bump(self, by: int) -> dict[str, int]:
            self.value += by
            return {"value": self.value}

    with Counter() as counter:
        assert requests.post(f"{counter.url}/_mock/counter", json={"by": 2}, timeout=5).json() == {"value": 2}
        _bad(f"{counter.url}/_mock/counter", '{"by": 11}', "by")
        doc = requests.get(f"{counter.url}/_mock/openapi.json", timeout=5).json()
        assert doc["paths"]["/_mock/counter"]["post"]["summary"] == "Add `by` to the counter"


def test_issue17_item8_otlp_trace_of_a_3000_span_parent_chain_answers() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from mocktools.otlp.samples import new_trace_id, span

    tid, spans, parent = new_trace_id(), [], b""
    for i in range(3000):
        item = span(f"s{i}", trace_id=tid, parent=parent, start=1_000 + i)
        spans.append(item)
        parent = item.span_id
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.extend(spans)
    with MockOTLPCollector() as otlp:
        assert requests.post(f"{otlp.url}/v1/traces", data=request.SerializeToString(),
                             headers={"Content-Type": "application/x-protobuf"}, timeout=10).status_code == 200
        tree = requests.get(f"{otlp.url}/_mock/otlp/traces/{tid.hex()}", timeout=10)
        assert tree.status_code == 200
        body = tree.json()
        assert body["span_count"] == 3000 and len(body["deeper_spans"]) == 3000 - 200
        depth, node = 1, body["roots"][0]
        while node["children"]:
            depth, node = depth + 1, node["children"][0]
        assert depth == 200 and body["deeper_spans"][0]["parent_span_id"] == node["span"]["span_id"]
