"""The agent-era streams on the socket-free engine: pacing on the mock clock, cuts mid tool call."""
import json

import pytest

from mocktools.clock import FakeClock
from mocktools.vllm import Engine, anthropic_api, responses_api
from mocktools.vllm.chat_plan import AgentConfig
from mocktools.vllm.protocol import ModelConfig
from mocktools.vllm.responses_events import stream_events
from mocktools.vllm.stream_codec import AnthropicCodec, ResponsesCodec
from mocktools.vllm.tokenizer import DEFAULT_TOKENIZER as T
from mocktools.vllm.turns import Turn, tool_call

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}}}]


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def engine(clock):
    e = Engine(ModelConfig(["m"], "m"), clock=clock, agent=AgentConfig(True, "hermes", "qwen3"),
               wait=lambda s: (clock.sleep(s), False)[1])
    e.set_timing(ttft=0.5, itl=0.1)
    return e


def _drain(chunks):
    return b"".join(c for c in chunks if isinstance(c, bytes)).decode()


def test_responses_stream_is_paced_on_the_mock_clock(engine, clock):
    engine.script.enqueue_replies([Turn(content="hello world")])
    job, plan, _ = responses_api.prepare(engine, {"input": "hi", "stream": True}, engine.responses, False)
    start = clock.monotonic()
    text = _drain(engine.stream(job, chunks=stream_events(job, {"input": "hi"}, plan,
                                                          responses_api.item_ids(job.outputs[0])),
                                codec=ResponsesCodec()))
    tokens = len(T.encode("hello world")) + 1
    assert clock.monotonic() - start == pytest.approx(0.5 + 0.1 * (tokens - 1))
    assert text.count("event: response.completed") == 1
    assert 'vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.5' in engine.metrics_text()


def test_anthropic_stream_is_paced_and_counted(engine, clock):
    engine.script.enqueue_replies([Turn(content="hi there", reasoning="think")])
    body = {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "x"}], "stream": True}
    job, plan = anthropic_api.prepare(engine, body)
    start = clock.monotonic()
    text = _drain(engine.stream(job, chunks=anthropic_api.stream_events(job, plan), codec=AnthropicCodec()))
    assert clock.monotonic() - start == pytest.approx(0.5 + 0.1 * (len(job.outputs[0].token_ids) - 1))
    assert text.startswith("event: message_start") and text.rstrip().endswith('data: {"type":"message_stop"}')
    assert 'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 1.0' in \
        engine.metrics_text()


def test_a_cut_inside_a_tool_call_keeps_a_consistent_prefix(engine):
    turn = [tool_call("f", x="abcdefgh")]
    engine.script.enqueue_replies([turn, turn, turn])
    full = engine.run(engine.prepare("chat", {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS}))
    n = full["usage"]["completion_tokens"]
    assert full["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}  # a scripted turn, no thinking
    assert json.loads(full["choices"][0]["message"]["tool_calls"][0]["function"]
                                               ["arguments"]) == {"x": "abcdefgh"}
    cut = engine.run(engine.prepare("chat", {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS,
                                             "max_tokens": n - 20}))
    choice = cut["choices"][0]
    assert choice["finish_reason"] == "length"
    args = choice["message"]["tool_calls"][0]["function"]["arguments"]
    assert '{"x": "abcdefgh"}'.startswith(args) and args != '{"x": "abcdefgh"}'
    head_cut = engine.run(engine.prepare("chat", {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS,
                                                  "max_tokens": 3}))
    assert "tool_calls" not in head_cut["choices"][0]["message"]
