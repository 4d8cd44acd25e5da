"""A user's script exercising the public API of every mock; `mypy --strict` must pass on it.

Checked by tests/unit/test_typing.py (mypy's API, imports followed silently as for an installed
package), which also runs it: every mock on a free port, so the calls are real as well as typed.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

import requests

from mocktools import (
    CallRecord,
    FakeClock,
    MockE6DataServer,
    MockHTTPServer,
    MockOFDServer,
    MockOTLPCollector,
    MockRedisServer,
    MockRegistry,
    MockServerBase,
    MockServerConfig,
    MockServiceMesh,
    MockTerasliceServer,
    MockVLLMServer,
    start_mock_servers_async,
    stop_mock_servers,
)
from mocktools.mesh import MeshSpec, ServiceSpec
from mocktools.mesh.chaos import Scenario


def shared_controls(mock: MockServerBase) -> int:
    mock.set_failure_count(2, status=503, retry_after=timedelta(seconds=1))
    mock.set_permanent_failure(True, status=502)
    mock.set_rate_limit(5, window=timedelta(seconds=1), retry_after=2.0)
    mock.set_latency(timedelta(milliseconds=50))
    mock.set_connection_fault("reset", count=1)
    mock.set_success()
    calls: list[CallRecord] = mock.wait_for_calls(0, timeout=timedelta(seconds=1))
    mock.reset()
    mock.check()
    return mock.get_call_count() + len(calls) + len(mock.calls) + mock.port + len(mock.url)


def ofd(clock: FakeClock) -> None:
    with MockOFDServer(clock=clock, seed=1) as server:
        requests.post(f"{server.url}/ofd/v1/receipt", json={"document_id": "R-1"}, timeout=5)
        receipts: list[dict[str, object]] = server.get_received_receipts()
        duplicates: int = server.get_duplicate_count()
        print(len(receipts), duplicates, len(server.get_acknowledgements()), shared_controls(server))


def otlp() -> None:
    with MockOTLPCollector(grpc_port=None) as collector:
        endpoint: str = collector.endpoint("traces")
        spans = collector.get_spans(name="checkout")
        collector.wait_for_spans(0, timeout=timedelta(seconds=1))
        ids: list[str] = collector.get_trace_ids()
        metrics = collector.get_metrics()
        logs = collector.get_logs()
        unsubscribe = collector.subscribe(lambda signal, items: None)
        unsubscribe()
        print(endpoint, len(spans), ids, len(metrics), len(logs), collector.grpc_endpoint)


def vllm() -> None:
    with MockVLLMServer(served_model_name=["mock"], ttft=0.0) as server:
        server.set_reply("hello")
        server.enqueue_replies(["a", "b"])
        server.set_reply_table({"ping": "pong"})
        server.set_timing(ttft=timedelta(milliseconds=10), itl=0.001)
        server.set_stream_fault("truncate", after_chunks=1)
        server.clear_stream_faults()
        server.release_stalls()
        server.set_healthy(True)
        text: str = server.metrics_text()
        received: list[dict[str, object]] = server.received_requests
        print(len(text), len(received))


def teraslice(clock: FakeClock) -> None:
    with MockTerasliceServer(clock=clock, seed=7, jobs=5, nodes=3) as server:
        job: dict[str, str] = server.add_job({"name": "x"}, start=True)
        now: float = server.advance(timedelta(minutes=3))
        server.set_cluster_size(4)
        server.regenerate(seed=8)
        print(job, now, server.describe_state())


def e6data() -> None:
    with MockE6DataServer(strategy_interval=None) as server:
        server.set_query_result("select 1", [("one", "INTEGER")], [(1,)])
        server.set_query_error("boom", "failed")
        active: str = server.active_strategy
        pending: str | None = server.pending_strategy
        switched: str = server.switch_strategy(immediate=True)
        server.set_strategy_interval(timedelta(minutes=2))
        server.inject_strategy_mismatch(1)
        server.set_resume_behavior(delay=timedelta(seconds=5))
        expired: int = server.expire_sessions()
        print(active, pending, switched, expired, len(server.queries()), len(server.strategy_events))


def mesh(clock: FakeClock) -> None:
    spec = MeshSpec.from_dict({"services": {"api": {"calls": ["db"]}, "db": {}}})
    with MockServiceMesh(spec, clock=clock, seed=3) as m:
        m.add_service(ServiceSpec("cache", 2))
        m.add_dependency("api", "cache")
        m.scale("db", 2)
        scenario: Scenario = m.chaos.latency("db", 0.3)
        m.chaos.outage("cache", duration=timedelta(seconds=30))
        m.chaos.error_rate("db", 0.5)
        active = m.chaos.scenarios(active=True)
        m.chaos.clear(scenario.id)
        url: str = m.url_of("api")
        report = m.chaos.report()
        print(url, len(active), report["seed"], len(m.failed_calls()))


def http() -> None:
    with MockHTTPServer() as server:
        server.expect_request("/orders", method="POST").respond_with_json({"id": 1}, status=201)
        server.expect_oneshot_request("/once").respond_with_data("ok")
        url: str = server.url_for("/orders")
        requests.post(url, json={}, timeout=5)
        requests.get(server.url_for("/once"), timeout=5)
        server.assert_request_made(count=2)
        matching = server.get_matching_requests_count()
        calls: list[CallRecord] = server.find_calls(path="/orders")
        print(matching, len(calls), len(server.unanswered), len(server.stubs()))


def redis_mock(clock: FakeClock) -> None:
    with MockRedisServer(clock=clock) as server:
        server.set("session", "abc", ttl=timedelta(seconds=30))
        value = server.get("session")
        left: float | None = server.ttl("session")
        server.advance(timedelta(seconds=31))
        keys: list[bytes] = server.keys("*")
        received: int = server.publish("news", "hi")
        print(value, left, keys, received, server.subscribers(), len(server.commands()))


def registry() -> None:
    with MockRegistry() as group:
        ofd_mock = group.add("ofd", MockOFDServer)
        group.start()
        urls: dict[str, str] = group.urls()
        print(ofd_mock.url, urls)
    servers = asyncio.run(start_mock_servers_async([MockServerConfig("ofd", MockOFDServer, {"seed": 1})]))
    stop_mock_servers(servers)


def main() -> None:
    clock = FakeClock()
    clock.advance(timedelta(seconds=1))
    ofd(clock)
    otlp()
    vllm()
    teraslice(clock)
    e6data()
    mesh(clock)
    http()
    redis_mock(clock)
    registry()


if __name__ == "__main__":
    main()
