"""OTLP/HTTP wire behaviour of MockOTLPCollector over a real socket: encodings, errors, faults."""

from __future__ import annotations

import gzip
import json
import socket
import zlib
from collections.abc import Iterator

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from mocktools.otlp import MockOTLPCollector, samples
from mocktools.otlp.codec import message_to_otlp_json

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def collector() -> Iterator[MockOTLPCollector]:
    with MockOTLPCollector(grpc_port=None, max_decompressed_bytes=200_000) as mock:
        yield mock


@pytest.fixture()
def otlp(collector: MockOTLPCollector) -> Iterator[MockOTLPCollector]:
    collector.reset()
    yield collector
    collector.check()


def post(mock: MockOTLPCollector, signal: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(mock.endpoint(signal), data=body, headers=headers, timeout=5)


def test_protobuf_traces_metrics_logs(otlp: MockOTLPCollector) -> None:
    r = post(otlp, "traces", samples.batch_of_spans(4, "svc").SerializeToString(), PB)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-protobuf" and r.content == b""
    assert post(otlp, "metrics", samples.metrics_request({"m": 3}).SerializeToString(), PB).status_code == 200
    assert post(otlp, "logs", samples.logs_request(["hi"]).SerializeToString(), PB).status_code == 200
    assert len(otlp.get_spans(service_name="svc")) == 4
    assert otlp.get_metrics(name="m")[0].value == 3
    assert otlp.get_logs()[0].body == "hi"
    call = otlp.journal.last("/v1/traces")
    assert call is not None and call.meta == {"signal": "traces", "encoding": "protobuf", "accepted": 4, "rejected": 0}


def test_json_encoding_with_hex_ids_and_json_response(otlp: MockOTLPCollector) -> None:
    req = samples.batch_of_spans(2, "json-svc")
    doc = message_to_otlp_json(req)
    r = post(otlp, "traces", json.dumps(doc).encode(), {"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json" and r.json() == {}
    spans = otlp.get_spans(service_name="json-svc")
    assert spans[0].trace_id == req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert spans[1].parent_span_id == spans[0].span_id
    assert spans[0].origin.encoding == "json"
    raw = otlp.get_raw_requests("traces")[-1]
    assert raw.encoding == "json" and json.loads(raw.body) == doc and raw.message == req


def test_spec_json_example_literal(otlp: MockOTLPCollector) -> None:
    body = (
        '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},'
        '"scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C",'
        '"spanId":"eee19b7ec3c1b174","parentSpanId":"","name":"op","kind":2,'
        '"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,'
        '"attributes":[{"key":"n","value":{"intValue":"7"}}]}]}]}]}'
    )
    gz = gzip.compress(body.encode())
    r = post(otlp, "traces", gz, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json() == {}
    span = otlp.get_trace("5b8efff798038103d269b633813fc60c").root
    assert span is not None and span.span_id == "eee19b7ec3c1b174" and span.kind == "SERVER"
    assert span.service_name == "svc" and span.attributes == {"n": 7} and span.duration_ns == 1_000_000_000


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies(otlp: MockOTLPCollector, encoding: str) -> None:
    body = samples.batch_of_spans(3).SerializeToString()
    packed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    r = post(otlp, "traces", packed, {**PB, "Content-Encoding": encoding})
    assert r.status_code == 200
    raw = otlp.get_raw_requests()[-1]
    assert raw.content_encoding == encoding and raw.body == body


def test_partial_success_protobuf_and_json(otlp: MockOTLPCollector) -> None:
    otlp.set_partial_success("traces", rejected=2, message="quota exceeded", times=1)
    r = post(otlp, "traces", samples.batch_of_spans(5).SerializeToString(), PB)
    resp = ExportTraceServiceResponse.FromString(r.content)
    assert r.status_code == 200
    assert resp.partial_success.rejected_spans == 2 and resp.partial_success.error_message == "quota exceeded"
    assert len(otlp.get_spans()) == 3
    otlp.set_partial_success("logs", rejected=1, message="bad record")
    doc = message_to_otlp_json(samples.logs_request(["a", "b"]))
    r = post(otlp, "logs", json.dumps(doc).encode(), JS)
    assert r.json() == {"partialSuccess": {"rejectedLogRecords": "1", "errorMessage": "bad record"}}
    assert [rec.body for rec in otlp.get_logs()] == ["a"]


def _status(r: requests.Response) -> status_pb2.Status:
    assert r.headers["Content-Type"] == "application/x-protobuf"
    return status_pb2.Status.FromString(r.content)


def test_bad_input_errors_in_request_encoding(otlp: MockOTLPCollector) -> None:
    good = samples.batch_of_spans(1).SerializeToString()
    assert post(otlp, "traces", good, PB).status_code == 200
    r = post(otlp, "traces", b"\xff\xff\xff garbage", PB)
    assert r.status_code == 400 and "cannot decode protobuf" in _status(r).message and _status(r).code == 3
    r = post(otlp, "traces", b"not gzip", {**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 400 and "invalid gzip" in _status(r).message
    r = post(otlp, "traces", b"{broken", JS)
    assert r.status_code == 400 and r.json()["message"].startswith("malformed JSON")
    r = post(otlp, "traces", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}).encode(), JS)
    assert r.status_code == 400 and "hex" in r.json()["message"]
    r = post(otlp, "traces", good, {"Content-Type": "text/plain"})
    assert r.status_code == 415 and "unsupported Content-Type 'text/plain'" in r.json()["message"]
    r = requests.post(otlp.endpoint("traces"), data=good, timeout=5)
    assert r.status_code == 415
    r = post(otlp, "traces", good, {**PB, "Content-Encoding": "br"})
    assert r.status_code == 415 and "Content-Encoding" in _status(r).message
    assert requests.get(otlp.endpoint("logs"), timeout=5).status_code == 405
    r = post(otlp, "traces", good, PB)
    assert r.status_code == 200  # still serving
    r = requests.post(otlp.url + "/v1/profiles", data=good, headers=PB, timeout=5)
    assert r.status_code == 404 and _status(r).code == 5
    assert len(otlp.get_spans()) == 2  # nothing lost
    assert [c.status for c in otlp.calls] == [200, 400, 400, 400, 400, 415, 415, 415, 405, 200, 404]


def test_oversized_bodies(otlp: MockOTLPCollector) -> None:
    r = post(otlp, "logs", b"\0" * 250_000, PB)
    assert r.status_code == 413
    bomb = gzip.compress(b"\0" * 10_000_000)
    r = post(otlp, "logs", bomb, {**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "exceeds the limit" in _status(r).message
    assert post(otlp, "logs", samples.logs_request(["ok"]).SerializeToString(), PB).status_code == 200


def test_hostile_json_shapes(otlp: MockOTLPCollector) -> None:
    deep = "[" * 5000 + "]" * 5000
    for body in (b"[]", b"null", b'"str"', deep.encode(), b'{"resourceSpans": [{"scopeSpans": "x"}]}'):
        r = post(otlp, "traces", body, JS)
        assert r.status_code == 400, body[:40]
    r = post(otlp, "traces", b'{"resourceSpans": [], "unknown": {"deep": [1, 2]}}', JS)
    assert r.status_code == 200  # unknown fields are ignored, empty request is a success


def test_injected_faults_answer_like_a_collector(otlp: MockOTLPCollector) -> None:
    body = samples.batch_of_spans(1).SerializeToString()
    otlp.set_failure_count(1, status=503, retry_after=2)
    r = post(otlp, "traces", body, PB)
    assert r.status_code == 503 and r.headers["Retry-After"] == "2" and _status(r).code == 14
    otlp.set_rate_limit(1, window=60)
    assert post(otlp, "traces", body, PB).status_code == 200
    r = post(otlp, "traces", body, JS | {"Content-Type": "application/json"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and r.json()["code"] == 8
    otlp.set_success()
    for status in (502, 504):
        otlp.set_failure_count(1, status=status, path="/v1/traces")
        assert post(otlp, "traces", body, PB).status_code == status
    assert post(otlp, "traces", body, PB).status_code == 200
    assert len(otlp.get_spans()) == 2  # failed exports stored nothing
    assert otlp.get_call_count("/v1/traces") == 6


def test_connection_fault_then_recovery(otlp: MockOTLPCollector) -> None:
    otlp.set_connection_fault("reset", count=1)
    with pytest.raises(requests.ConnectionError):
        post(otlp, "traces", samples.batch_of_spans(1).SerializeToString(), PB)
    assert post(otlp, "traces", samples.batch_of_spans(1).SerializeToString(), PB).status_code == 200


def test_raw_socket_garbage_keeps_server_alive(otlp: MockOTLPCollector) -> None:
    host, port = otlp.host, otlp.port
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        s.recv(1024)
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                  b"Content-Length: 100\r\n\r\nshort")
        s.shutdown(socket.SHUT_WR)
        s.recv(1024)
    assert post(otlp, "traces", samples.batch_of_spans(1).SerializeToString(), PB).status_code == 200


def test_admin_api(otlp: MockOTLPCollector) -> None:
    req = samples.batch_of_spans(3, "admin-svc")
    tid = req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    post(otlp, "traces", req.SerializeToString(), PB)
    post(otlp, "logs", samples.logs_request(["x", "y"]).SerializeToString(), PB)
    post(otlp, "metrics", samples.metrics_request({"g": 1.5}).SerializeToString(), PB)
    base = otlp.url + "/_mock/otlp"
    got = requests.get(base + "/spans", params={"service_name": "admin-svc", "kind": "CLIENT"}, timeout=5).json()
    assert got["count"] == 2 and got["spans"][0]["service_name"] == "admin-svc"
    assert requests.get(base + "/logs", params={"body": "y", "limit": 5}, timeout=5).json()["count"] == 1
    assert requests.get(base + "/metrics", params={"name": "g"}, timeout=5).json()["metrics"][0]["value"] == 1.5
    assert requests.get(base + "/traces", timeout=5).json() == {"trace_ids": [tid]}
    tree = requests.get(f"{base}/traces/{tid}", timeout=5).json()
    assert tree["span_count"] == 3 and len(tree["roots"][0]["children"]) == 2
    assert requests.get(f"{base}/traces/{'0' * 32}", timeout=5).status_code == 404
    assert requests.get(base + "/spans", params={"limit": "x"}, timeout=5).status_code == 400
    r = requests.post(base + "/wait", json={"signal": "logs", "n": 2, "timeout": 1}, timeout=5)
    assert r.json() == {"count": 2}
    r = requests.post(base + "/wait", json={"signal": "logs", "n": 5, "timeout": 0.05}, timeout=5)
    assert r.status_code == 408
    assert requests.post(base + "/wait", json={"signal": "nope"}, timeout=5).status_code == 400
    assert requests.post(base + "/wait", json={"filters": {"bogus": 1}}, timeout=5).status_code == 400
    r = requests.post(base + "/partial-success", json={"signal": "logs", "rejected": 1, "message": "m"}, timeout=5)
    assert r.json()["partial_success"] == {"logs": {"rejected": 1, "message": "m", "times": None}}
    assert requests.post(base + "/partial-success", json={"colour": 1}, timeout=5).status_code == 400
    assert requests.post(base + "/partial-success", json={"signal": "x"}, timeout=5).status_code == 400
    assert requests.delete(base + "/partial-success", timeout=5).json()["partial_success"] == {}
    state = requests.get(otlp.url + "/_mock/state", timeout=5).json()
    assert state["counts"]["traces"]["accepted"] == 3 and state["grpc_endpoint"] is None


def test_subscribe_listener_and_listener_errors(otlp: MockOTLPCollector) -> None:
    seen: list[tuple[str, int]] = []
    unsubscribe = otlp.subscribe(lambda signal, items: seen.append((signal, len(items))))
    broken = otlp.subscribe(lambda signal, items: 1 / 0)
    assert post(otlp, "traces", samples.batch_of_spans(2).SerializeToString(), PB).status_code == 200
    unsubscribe()
    broken()
    post(otlp, "traces", samples.batch_of_spans(2).SerializeToString(), PB)
    assert seen == [("traces", 2)]
    with pytest.raises(Exception, match="ZeroDivisionError"):
        otlp.check()
