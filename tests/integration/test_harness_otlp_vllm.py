"""The seed's E2E harness: MockOTLPCollector and MockVLLMServer started together, driven by real clients.

An instrumented "app" calls the vLLM mock through the official openai client inside a span, and
the span reaches the OTLP mock through the OpenTelemetry SDK's OTLP/HTTP exporter.
"""
from __future__ import annotations

import asyncio

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mocktools import MockServerConfig, start_mock_servers_async, stop_mock_servers
from mocktools.otlp import MockOTLPCollector
from mocktools.vllm import MockVLLMServer

MOCK_SERVERS = [
    MockServerConfig(name="Mock OTLP Collector", server_class=MockOTLPCollector, init_kwargs={"grpc_port": None}),
    MockServerConfig(name="Mock vLLM", server_class=MockVLLMServer,
                     init_kwargs={"served_model_name": "meta-llama/Llama-3.1-8B-Instruct", "seed": 1}),
]


@pytest.fixture(scope="module")
def mock_servers():
    servers = asyncio.run(start_mock_servers_async(MOCK_SERVERS))
    yield servers
    stop_mock_servers(servers)


def test_llm_call_traced_end_to_end(mock_servers) -> None:
    otlp: MockOTLPCollector = mock_servers["Mock OTLP Collector"]
    vllm: MockVLLMServer = mock_servers["Mock vLLM"]
    provider = TracerProvider(resource=Resource.create({"service.name": "chat-app"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp.endpoint("traces"))))
    tracer = provider.get_tracer("e2e")
    client = openai.OpenAI(base_url=vllm.url + "/v1", api_key="unused", max_retries=0)

    with tracer.start_as_current_span("chat") as span:
        reply = client.chat.completions.create(model="meta-llama/Llama-3.1-8B-Instruct",
                                               messages=[{"role": "user", "content": "Say hi"}], max_tokens=8)
        span.set_attribute("gen_ai.usage.output_tokens", reply.usage.completion_tokens)
        span.set_attribute("gen_ai.response.model", reply.model)
    provider.shutdown()

    [chat] = otlp.wait_for_spans(1, timeout=5, service_name="chat-app", name="chat")
    assert chat.attributes["gen_ai.response.model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert chat.attributes["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens <= 8
    assert vllm.get_call_count("/v1/chat/completions") == 1
    assert otlp.running and vllm.running and set(mock_servers) == {c.name for c in MOCK_SERVERS}


def test_failures_in_one_mock_do_not_touch_the_other(mock_servers) -> None:
    otlp, vllm = mock_servers["Mock OTLP Collector"], mock_servers["Mock vLLM"]
    vllm.set_failure_count(1, status=503)
    client = openai.OpenAI(base_url=vllm.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    assert [m.id for m in client.models.list().data] == ["meta-llama/Llama-3.1-8B-Instruct"]
    assert otlp.faults.mode() == "success"
