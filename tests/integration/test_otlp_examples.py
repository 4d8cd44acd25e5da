"""The docs' runnable example really runs, and the plugin's `mock_otlp` fixture serves both transports."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc

from mocktools.otlp import MockOTLPCollector, samples

DOC = Path(__file__).resolve().parents[2] / "docs" / "otlp.md"


def test_docs_example_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[0]
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    assert capsys.readouterr().out.splitlines() == ["POST /checkout", "  charge-card"]


def test_plugin_fixture(mock_otlp: MockOTLPCollector) -> None:
    assert mock_otlp.running and mock_otlp.get_spans() == []
    assert mock_otlp.grpc is not None
    with grpc.insecure_channel(mock_otlp.grpc.target) as channel:
        logs_service_pb2_grpc.LogsServiceStub(channel).Export(samples.logs_request(["via fixture"]), timeout=5)
    assert mock_otlp.wait_for_logs(1, timeout=5)[0].body == "via fixture"


def test_seed_style_async_harness() -> None:
    import asyncio

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from mocktools.mock_group import MockServerConfig, start_mock_servers_async, stop_mock_servers

    configs = [MockServerConfig(name="Mock OTLP Collector", server_class=MockOTLPCollector, init_kwargs={"port": 0})]
    servers = asyncio.run(start_mock_servers_async(configs))
    try:
        otlp = servers["Mock OTLP Collector"]
        assert isinstance(otlp, MockOTLPCollector) and otlp.running and otlp.grpc_port
        provider = TracerProvider(resource=Resource.create({"service.name": "harness"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp.endpoint("traces"))))
        with provider.get_tracer("h").start_as_current_span("seed-span"):
            pass
        provider.shutdown()
        assert otlp.wait_for_spans(1, timeout=5, service_name="harness")[0].name == "seed-span"
    finally:
        stop_mock_servers(servers)
    assert not servers["Mock OTLP Collector"].running
