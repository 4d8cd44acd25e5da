"""The Anthropic Messages API against the official anthropic SDK, unmodified (messages, stream, tools)."""
import json
import re

import anthropic
import jsonschema
import pytest
import requests

from mocktools.vllm import MockVLLMServer
from mocktools.vllm.turns import Turn, tool_call

WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                             "days": {"type": "integer", "minimum": 1}},
                            "required": ["city", "days"]}}
TIME = {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}}
HI = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def server():
    with MockVLLMServer(seed=4, enable_auto_tool_choice=True, tool_call_parser="hermes",
                        reasoning_parser="deepseek_r1") as m:
        yield m


@pytest.fixture
def mock(server):
    server.reset()
    yield server
    server.check()


@pytest.fixture
def client(mock):
    return anthropic.Anthropic(base_url=mock.url, api_key="EMPTY", max_retries=0, timeout=10)


def _events(resp):
    out = []
    for block in [b for b in resp.content.decode().split("\n\n") if b]:
        event_line, data_line = block.split("\n")
        data = json.loads(data_line[len("data: "):])
        assert event_line == "event: " + data["type"]
        out.append(data)
    return out


def test_text_message_with_thinking(client, mock):
    msg = client.messages.create(model="mock-llm", max_tokens=500, messages=HI)
    assert re.fullmatch("chatcmpl-[0-9a-f]{16}", msg.id) and msg.role == "assistant" and msg.model == "mock-llm"
    assert [b.type for b in msg.content] == ["thinking", "text"] and msg.stop_reason == "end_turn"
    assert msg.content[0].signature and msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    raw = requests.post(mock.url + "/v1/messages", json={"model": "mock-llm", "max_tokens": 50, "messages": HI,
                                                        "thinking": {"type": "disabled"}}).json()
    assert [b["type"] for b in raw["content"]] == ["text"] and "stop_sequence" not in raw


def test_stop_reasons(client, mock):
    mock.set_reply("one two STOP three")
    msg = client.messages.create(model="mock-llm", max_tokens=100, messages=HI, stop_sequences=["STOP"],
                                 thinking={"type": "disabled"})
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == "STOP" and msg.content[0].text == "one two "
    short = client.messages.create(model="mock-llm", max_tokens=2, messages=HI)
    assert short.stop_reason == "max_tokens" and short.usage.output_tokens == 2


def test_tool_use_and_result_turn(client, mock):
    msg = client.messages.create(model="mock-llm", max_tokens=400, messages=[
        {"role": "user", "content": "Use get_weather for Oslo"}], tools=[WEATHER, TIME])
    assert msg.stop_reason == "tool_use"
    [use] = [b for b in msg.content if b.type == "tool_use"]
    assert use.name == "get_weather" and re.fullmatch("chatcmpl-tool-[0-9a-f]{16}", use.id)
    jsonschema.validate(use.input, WEATHER["input_schema"])
    reply = client.messages.create(model="mock-llm", max_tokens=400, tools=[WEATHER, TIME], messages=[
        {"role": "user", "content": "Use get_weather for Oslo"},
        {"role": "assistant", "content": [b.model_dump() for b in msg.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "3C, snow"}]}])
    assert reply.stop_reason == "end_turn" and reply.content[-1].type == "text"
    forced = client.messages.create(model="mock-llm", max_tokens=400, messages=HI, tools=[WEATHER, TIME],
                                    tool_choice={"type": "tool", "name": "get_time"})
    assert [b.name for b in forced.content if b.type == "tool_use"] == ["get_time"]
    assert forced.stop_reason == "tool_use"
    assert mock.received_requests[-1]["tool_choice"] == "get_time"


def test_stream_event_sequence_and_sdk_accumulation(client, mock):
    mock.enqueue_turns([Turn(content="Checking.", tool_calls=(tool_call("get_weather", city="Rome", days=2),
                                                              tool_call("get_time", tz="CET")),
                             reasoning="User wants weather.")])
    r = requests.post(mock.url + "/v1/messages", json={"model": "mock-llm", "max_tokens": 400, "messages": HI,
                                                      "tools": [WEATHER, TIME], "stream": True})
    events = _events(r)
    types = [e["type"] for e in events]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"] and "ping" not in types
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1, 2, 3]
    assert [s["content_block"]["type"] for s in starts] == ["thinking", "text", "tool_use", "tool_use"]
    assert starts[2]["content_block"]["input"] == {}
    assert events[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[-2]["usage"]["output_tokens"] > 0 and events[0]["message"]["usage"]["output_tokens"] == 0
    mock.enqueue_turns([tool_call("get_weather", city="Rome", days=2)])
    with client.messages.stream(model="mock-llm", max_tokens=400, messages=HI, tools=[WEATHER]) as stream:
        final = stream.get_final_message()
    assert final.content[-1].input == {"city": "Rome", "days": 2} and final.stop_reason == "tool_use"
    text = "".join(client.messages.stream(model="mock-llm", max_tokens=50, messages=HI).__enter__().text_stream)
    assert text


def test_plain_server_refuses_tools_in_anthropic_shape():
    with MockVLLMServer() as m:
        r = requests.post(m.url + "/v1/messages", json={"model": "mock-llm", "max_tokens": 10, "messages": HI,
                                                       "tools": [WEATHER]})
        assert r.status_code == 400 and r.json() == {"type": "error", "error": {
            "type": "invalid_request_error",
            "message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'}}
        c = anthropic.Anthropic(base_url=m.url, api_key="x", max_retries=0)
        with pytest.raises(anthropic.BadRequestError):
            c.messages.create(model="mock-llm", max_tokens=10, messages=HI, tools=[WEATHER])


def test_error_shapes(mock):
    url = mock.url + "/v1/messages"
    missing = requests.post(url, json={"model": "mock-llm", "messages": HI})
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "Bad Request"
    assert missing.json()["error"]["param"] == "body.max_tokens"
    block = requests.post(url, json={"model": "mock-llm", "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "document", "source": {}}]}]})
    assert block.status_code == 400 and block.json()["error"]["type"] == "Bad Request"
    model = requests.post(url, json={"model": "nope", "max_tokens": 5, "messages": HI})
    assert model.status_code == 404 and model.json()["type"] == "error"
    assert model.json()["error"]["type"] == "not_found_error"


def test_auth_bearer_only_and_count_tokens():
    with MockVLLMServer(api_key="sekret") as m:
        ok = anthropic.Anthropic(base_url=m.url, api_key="sekret", max_retries=0)
        assert ok.messages.create(model="mock-llm", max_tokens=5, messages=HI).content
        r = requests.post(m.url + "/v1/messages", headers={"x-api-key": "sekret"},
                          json={"model": "mock-llm", "max_tokens": 5, "messages": HI})
        assert r.status_code == 401 and r.json() == {"error": "Unauthorized"}
        count = ok.messages.count_tokens(model="mock-llm", messages=HI, system="Be kind.")
        assert count.input_tokens > 0 and count.context_management["original_input_tokens"] == count.input_tokens


def test_mid_stream_faults(client, mock):
    mock.set_stream_fault("error", after_chunks=3, count=1, message="engine died", status=503)
    r = requests.post(mock.url + "/v1/messages", json={"model": "mock-llm", "max_tokens": 50, "messages": HI,
                                                      "stream": True})
    events = _events(r)
    assert events[-2] == {"type": "content_block_stop", "index": 0}
    assert events[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": "engine died"}}
    mock.set_stream_fault("error", after_chunks=3, count=1, message="engine died")
    with pytest.raises(anthropic.APIStatusError, match="engine died"), \
            client.messages.stream(model="mock-llm", max_tokens=50, messages=HI) as s:
        s.get_final_message()
    mock.set_stream_fault("truncate", after_chunks=3, count=1)
    with pytest.raises(Exception, match="incomplete chunked read"), \
            client.messages.stream(model="mock-llm", max_tokens=50, messages=HI) as s:  # a server gone mid-body
        s.get_final_message()
    mock.set_stream_fault("no_done", count=1)
    r = requests.post(mock.url + "/v1/messages", json={"model": "mock-llm", "max_tokens": 20, "messages": HI,
                                                      "stream": True})
    assert _events(r)[-1]["type"] == "message_delta"


def test_shared_faults_in_anthropic_shape(client, mock):
    mock.set_failure_count(1, status=503)
    r = requests.post(mock.url + "/v1/messages", json={"model": "mock-llm", "max_tokens": 5, "messages": HI})
    assert r.status_code == 503 and r.json()["type"] == "error" and r.json()["error"]["type"] == "overloaded_error"
    mock.set_failure_count(1, status=503)
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model="mock-llm", max_tokens=5, messages=HI)
    assert client.messages.create(model="mock-llm", max_tokens=5, messages=HI).content
