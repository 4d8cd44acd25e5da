"""The Responses API against the official openai client (create, create(stream=True), stream(), parse)."""
import json
import re

import httpx
import jsonschema
import openai
import pydantic
import pytest
import requests

from mocktools.vllm import MockVLLMServer
from mocktools.vllm.turns import tool_call

# mock_vllm (the pytest plugin), a fresh mock per test configured so
pytestmark = pytest.mark.mocktools(vllm={"seed": 2, "enable_auto_tool_choice": True, "tool_call_parser": "hermes"})

TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
         {"type": "function", "name": "get_time",
          "parameters": {"type": "object", "properties": {"tz": {"enum": ["CET", "UTC"]}}, "required": ["tz"]}}]
HEX16 = "[0-9a-f]{16}"


class Answer(pydantic.BaseModel):
    city: str
    temperature: float


def _events(resp):
    raw = resp.content.decode()
    assert "[DONE]" not in raw
    out = []
    for block in [b for b in raw.split("\n\n") if b]:
        event_line, data_line = block.split("\n")
        data = json.loads(data_line[len("data: "):])
        assert event_line == "event: " + data["type"]
        out.append(data)
    return out


def test_create_with_string_input(vllm_client, mock_vllm):
    mock_vllm.set_reply("Hello from the mock")
    r = vllm_client.responses.create(model="mock-llm", input="hi", instructions="Be brief.")
    assert re.fullmatch("resp_" + HEX16, r.id) and r.status == "completed" and r.output_text == "Hello from the mock"
    [item] = r.output
    assert item.type == "message" and re.fullmatch("msg_" + HEX16, item.id) and item.status == "completed"
    raw = requests.post(mock_vllm.url + "/v1/responses", json={"input": "hi", "max_output_tokens": 50}).json()
    assert raw["max_output_tokens"] == 50 and raw["object"] == "response" and raw["tool_choice"] == "none"
    assert "output_text" not in raw and raw["usage"]["output_tokens_details"]["reasoning_tokens"] == 0
    assert raw["usage"]["total_tokens"] == raw["usage"]["input_tokens"] + raw["usage"]["output_tokens"]


def test_function_call_then_output_item_ends_the_loop(vllm_client, mock_vllm):
    r = vllm_client.responses.create(model="mock-llm", input="What is the weather in Paris? use get_weather", tools=TOOLS)
    [call] = [o for o in r.output if o.type == "function_call"]
    assert re.fullmatch("fc_" + HEX16, call.id) and re.fullmatch("chatcmpl-tool-" + HEX16, call.call_id)
    jsonschema.validate(json.loads(call.arguments), TOOLS[0]["parameters"])
    follow = vllm_client.responses.create(model="mock-llm", tools=TOOLS, input=[
        {"role": "user", "content": "What is the weather in Paris?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "18C"}])
    assert [o.type for o in follow.output] == ["message"] and follow.output_text
    meta = mock_vllm.received_requests
    assert meta[0]["kind"] == "responses" and meta[0]["tools"] == ["get_weather", "get_time"]
    named = vllm_client.responses.create(model="mock-llm", input="x", tools=TOOLS,
                                    tool_choice={"type": "function", "name": "get_time"})
    assert [o.name for o in named.output if o.type == "function_call"] == ["get_time"]


def test_plain_server_returns_text_even_with_tools():
    with MockVLLMServer() as m:
        r = requests.post(m.url + "/v1/responses", json={"input": "get_weather", "tools": TOOLS}).json()
        assert [o["type"] for o in r["output"]] == ["message"]


def test_stream_event_sequence_exactly(mock_vllm):
    mock_vllm.enqueue_turns([tool_call("get_weather", city="Paris")])
    r = requests.post(mock_vllm.url + "/v1/responses", json={"input": "x", "tools": TOOLS, "stream": True})
    events = _events(r)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    types = [e["type"] for e in events]
    assert types[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert types[-4:] == ["response.function_call_arguments.delta", "response.function_call_arguments.done",
                          "response.output_item.done", "response.completed"]
    added = next(e for e in events if e["type"] == "response.output_item.added")["item"]
    done = next(e for e in events if e["type"] == "response.output_item.done")["item"]
    assert added["id"] == done["id"] and added["arguments"] == "" and json.loads(done["arguments"]) == {
        "city": "Paris"}
    final = events[-1]["response"]
    assert final["output"] == [done] and final["status"] == "completed" and final["usage"]["output_tokens"] > 0
    assert events[0]["response"]["id"] == final["id"] and events[0]["response"]["status"] == "in_progress"


def test_openai_stream_helpers(vllm_client, mock_vllm):
    with vllm_client.responses.stream(model="mock-llm", input="use get_weather and get_time", tools=TOOLS) as stream:
        kinds = {e.type for e in stream}
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert [o.name for o in final.output if o.type == "function_call"] == ["get_weather", "get_time"]
    mock_vllm.set_reply("streamed words here")
    text = "".join(e.delta for e in vllm_client.responses.create(model="mock-llm", input="hi", stream=True)
                   if e.type == "response.output_text.delta")
    assert text == "streamed words here"


def test_length_cut_is_incomplete(vllm_client):
    r = vllm_client.responses.create(model="mock-llm", input="hi", max_output_tokens=3)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.output[-1].status == "incomplete" and r.usage.output_tokens == 3
    events = list(vllm_client.responses.create(model="mock-llm", input="hi", max_output_tokens=3, stream=True))
    assert events[-1].type == "response.incomplete"
    with pytest.raises(RuntimeError, match="response.completed"), \
            vllm_client.responses.stream(model="mock-llm", input="hi", max_output_tokens=3) as s:
        s.get_final_response()


def test_store_off_and_on(vllm_client, mock_vllm):
    r = vllm_client.responses.create(model="mock-llm", input="remember me")
    for call in (lambda: vllm_client.responses.retrieve(r.id),
                 lambda: vllm_client.responses.create(model="mock-llm", input="x", previous_response_id=r.id)):
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert err.value.body["type"] == "invalid_request_error"
    raw = requests.get(mock_vllm.url + f"/v1/responses/{r.id}").json()
    assert raw == {"error": {"message": f"Response with id '{r.id}' not found.", "type": "invalid_request_error",
                             "param": "response_id", "code": 404}}
    with pytest.raises(openai.BadRequestError, match="VLLM_ENABLE_RESPONSES_API_STORE"):
        vllm_client.responses.create(model="mock-llm", input="x", background=True)
    assert requests.post(mock_vllm.url + "/_mock/vllm/responses-store", json={"enabled": True}).json() == {"ok": True}
    first = vllm_client.responses.create(model="mock-llm", input="remember me")
    assert vllm_client.responses.retrieve(first.id).output_text == first.output_text
    second = vllm_client.responses.create(model="mock-llm", input="and now?", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.usage.input_tokens > first.usage.input_tokens
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a synchronous response"):
        vllm_client.responses.cancel(first.id)
    assert requests.delete(mock_vllm.url + f"/v1/responses/{first.id}").status_code == 405


def test_text_format_and_parse(vllm_client):
    r = vllm_client.responses.parse(model="mock-llm", input="weather as JSON", text_format=Answer)
    assert isinstance(r.output_parsed, Answer)
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}, "required": ["n"]}
    raw = vllm_client.responses.create(model="mock-llm", input="x", text={"format": {
        "type": "json_schema", "name": "n", "schema": schema}})
    jsonschema.validate(json.loads(raw.output_text), schema)


@pytest.mark.parametrize("body, fragment", [
    ({"input": [{"type": "web_search_call", "id": "x"}]}, "Unsupported input item type: web_search_call"),
    ({"input": [{"type": "reasoning", "encrypted_content": "abc"}]}, "Encrypted content is not supported."),
    ({"input": "x", "tool_choice": "required"}, "Tool choice 'required' must be specified with 'tools' parameter."),
    ({"input": "x", "tools": [{"type": "function", "function": {"name": "f"}}]}, "function tool"),
    ({"input": "x", "text": {"format": {"type": "json_object"}}, "structured_outputs": {"json": {}}},
     "Cannot specify both structured_outputs and text.format"),
])
def test_bad_requests(mock_vllm, body, fragment):
    r = requests.post(mock_vllm.url + "/v1/responses", json=body)
    assert r.status_code == 400 and fragment in r.json()["error"]["message"]


def test_mid_stream_faults_look_like_a_real_server(vllm_client, mock_vllm):
    mock_vllm.set_stream_fault("error", after_chunks=3, count=1, message="engine died")
    events = list(vllm_client.responses.create(model="mock-llm", input="hi", stream=True))
    assert events[-1].type == "error" and events[-1].message == "engine died"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    mock_vllm.set_stream_fault("truncate", after_chunks=4, count=1)
    with pytest.raises((httpx.RemoteProtocolError, openai.APIError)):
        list(vllm_client.responses.create(model="mock-llm", input="hi", stream=True))
    mock_vllm.set_stream_fault("no_done", count=1)
    events = list(vllm_client.responses.create(model="mock-llm", input="hi", stream=True))
    assert events[-1].type == "response.output_item.done"
    text = mock_vllm.metrics_text()
    assert re.search(r'vllm:request_success_total\{[^}]*finished_reason="error"[^}]*\} 1.0', text)


def test_metrics_count_every_api(mock_vllm, vllm_client):
    import anthropic
    vllm_client.responses.create(model="mock-llm", input="hi", max_output_tokens=4)
    vllm_client.chat.completions.create(model="mock-llm", messages=[{"role": "user", "content": "x"}], max_tokens=4)
    anthropic.Anthropic(base_url=mock_vllm.url, api_key="x", max_retries=0).messages.create(
        model="mock-llm", max_tokens=4, messages=[{"role": "user", "content": "x"}])
    requests.get(mock_vllm.url + "/v1/responses/resp_0")
    text = mock_vllm.metrics_text()
    assert 'vllm:generation_tokens_total{engine="0",model_name="mock-llm"} 12.0' in text
    for line in ('http_requests_total{handler="/v1/responses",method="POST",status="2xx"} 1.0',
                 'http_requests_total{handler="/v1/messages",method="POST",status="2xx"} 1.0',
                 'http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 1.0',
                 'http_requests_total{handler="/v1/responses/{response_id}",method="GET",status="4xx"} 1.0'):
        assert line in text, line
    assert 'handler="/metrics"' not in text
