"""Tool calling in /v1/chat/completions against the official openai client and raw SSE bytes."""
import json
import re

import jsonschema
import openai
import pytest
import requests

from mocktools.vllm import MockVLLMServer
from mocktools.vllm.turns import Turn, tool_call

# mock_vllm (the pytest plugin), a fresh mock per test configured so
pytestmark = pytest.mark.mocktools(vllm={"seed": 1, "enable_auto_tool_choice": True, "tool_call_parser": "hermes"})

WEATHER = {"type": "object", "properties": {"city": {"type": "string", "minLength": 2},
                                            "unit": {"enum": ["c", "f"]},
                                            "days": {"type": "integer", "minimum": 1, "maximum": 7}},
           "required": ["city", "unit"], "additionalProperties": False}
TIME = {"type": "object", "properties": {"tz": {"type": "string", "pattern": "^[A-Z]{3}$"}}, "required": ["tz"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER}},
         {"type": "function", "function": {"name": "get_time", "parameters": TIME}}]
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
BOTH = [{"role": "user", "content": "Use get_weather and get_time, please."}]
TOOL_ID = re.compile(r"^chatcmpl-tool-[0-9a-f]{16}$")
PLAIN = pytest.mark.mocktools(vllm={"enable_auto_tool_choice": False, "tool_call_parser": None})  # no parser


def _sse(resp):
    events = [e for e in resp.content.decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    return [json.loads(e[6:]) for e in events[:-1]]


@pytest.mark.parametrize("choice, message", [
    (None, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'),
    ("auto", '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'),
    ("required", 'tool_choice="required" requires --tool-call-parser to be set'),
    ({"type": "function", "function": {"name": "get_weather"}},
     'tool_choice=function "get_weather" requires --tool-call-parser to be set'),
])
@PLAIN
def test_plain_server_refuses_tool_choice_as_vllm_does(mock_vllm, choice, message):
    body = {"messages": ASK, "tools": TOOLS, **({} if choice is None else {"tool_choice": choice})}
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json=body, timeout=10)
    assert r.status_code == 400
    assert r.json() == {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}


@PLAIN
def test_plain_server_tool_choice_none_answers_text(mock_vllm):
    c = openai.OpenAI(base_url=mock_vllm.url + "/v1", api_key="x", max_retries=0)
    r = c.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS, tool_choice="none")
    assert r.choices[0].message.tool_calls is None and r.choices[0].message.content
    raw = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "tools": TOOLS,
                                                                  "tool_choice": None}).json()
    assert "tool_calls" not in raw["choices"][0]["message"]  # omitted when empty (vLLM 0.33)
    assert raw["system_fingerprint"].startswith("vllm-0.33.0-") and raw["usage"]["completion_tokens_details"] is None


def test_auto_call_non_stream_shape(vllm_client, mock_vllm):
    r = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls
    assert TOOL_ID.match(call.id) and call.type == "function" and call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)
    raw = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "tools": TOOLS}).json()
    assert list(raw["choices"][0]["message"]["tool_calls"][0]["function"]) == ["name", "arguments"]
    again = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS)
    assert again.choices[0].message.tool_calls[0].function.arguments == call.function.arguments  # deterministic
    meta = mock_vllm.received_requests[-1]
    assert meta["tools"] == ["get_weather", "get_time"] and meta["tool_choice"] == "auto"


def test_parallel_calls_and_parallel_false(vllm_client):
    r = vllm_client.chat.completions.create(model="mock-llm", messages=BOTH, tools=TOOLS)
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"] and calls[0].id != calls[1].id
    jsonschema.validate(json.loads(calls[1].function.arguments), TIME)
    one = vllm_client.chat.completions.create(model="mock-llm", messages=BOTH, tools=TOOLS, parallel_tool_calls=False)
    assert [c.function.name for c in one.choices[0].message.tool_calls] == ["get_weather"]


def test_named_and_required(vllm_client):
    named = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS,
                                           tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert named.choices[0].finish_reason == "stop" and named.choices[0].message.content == ""
    assert named.choices[0].message.tool_calls[0].function.name == "get_time"
    req = vllm_client.chat.completions.create(model="mock-llm", messages=[{"role": "user", "content": "x"}],
                                         tools=TOOLS, tool_choice="required")
    assert req.choices[0].finish_reason == "tool_calls" and req.choices[0].message.content == ""
    assert len(req.choices[0].message.tool_calls) == 1


def test_stream_delta_sequence_exactly_as_vllm(mock_vllm):
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": BOTH, "tools": TOOLS, "stream": True,
                                                               "stream_options": {"include_usage": True}})
    chunks = _sse(r)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    entries = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    firsts = {}
    for e in entries:
        if e["index"] not in firsts:
            firsts[e["index"]] = e
            assert set(e) == {"id", "type", "index", "function"} and set(e["function"]) == {"name"}
            assert TOOL_ID.match(e["id"])
        else:
            assert set(e) == {"index", "function"} and set(e["function"]) == {"arguments"}
    assert [firsts[i]["function"]["name"] for i in sorted(firsts)] == ["get_weather", "get_time"]
    last = chunks[-2]["choices"][0]
    assert last["delta"] == {} and last["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["system_fingerprint"].startswith("vllm-0.33.0-")
    assert "system_fingerprint" not in chunks[-2]


def test_openai_stream_helper_accumulates_parallel_calls(vllm_client):
    with vllm_client.chat.completions.stream(model="mock-llm", messages=BOTH, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    jsonschema.validate(json.loads(calls[0].function.arguments), WEATHER)
    plain = list(vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS, stream=True))
    assert plain[-1].choices[0].finish_reason == "tool_calls"


def test_next_turn_answers_in_text_so_the_loop_ends(vllm_client):
    first = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS)
    msg = first.choices[0].message
    history = ASK + [msg.model_dump(exclude_none=True)] + [
        {"role": "tool", "tool_call_id": c.id, "content": "18C, sunny"} for c in msg.tool_calls]
    second = vllm_client.chat.completions.create(model="mock-llm", messages=history, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content and second.usage.prompt_tokens > first.usage.prompt_tokens
    bad_args = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "x", "type": "function", "function": {"name": "get_time", "arguments": "not json"}}]},
        {"role": "tool", "tool_call_id": "x", "content": [{"type": "text", "text": "noon"}]}]
    ok = vllm_client.chat.completions.create(model="mock-llm", messages=ASK + bad_args, tools=TOOLS)
    assert ok.choices[0].finish_reason == "stop"


def test_scripted_turns_python_and_http(vllm_client, mock_vllm):
    mock_vllm.enqueue_turns([tool_call("get_weather", city="Paris", unit="c"),
                        [tool_call("get_time", tz="CET"), tool_call("get_weather")],
                        Turn(content="Let me check.", tool_calls=(tool_call("get_time", {"tz": "UTC"}),)),
                        "It is 18C in Paris."])
    a = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS).choices[0].message
    assert json.loads(a.tool_calls[0].function.arguments) == {"city": "Paris", "unit": "c"}
    b = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS).choices[0].message
    assert [c.function.name for c in b.tool_calls] == ["get_time", "get_weather"]
    jsonschema.validate(json.loads(b.tool_calls[1].function.arguments), WEATHER)
    c = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS).choices[0].message
    assert c.content == "Let me check." and c.tool_calls[0].function.arguments == '{"tz": "UTC"}'
    d = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS).choices[0]
    assert d.message.content == "It is 18C in Paris." and d.finish_reason == "stop"
    r = requests.post(mock_vllm.url + "/_mock/vllm/turns", json={"turns": [
        {"tool_calls": [{"name": "get_time", "arguments": {"tz": "EST"}}]}, {"json": {"a": 1}}]})
    assert r.json() == {"ok": True, "queued": 2}
    e = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS).choices[0].message
    assert e.tool_calls[0].function.arguments == '{"tz": "EST"}'
    assert vllm_client.chat.completions.create(model="mock-llm", messages=ASK).choices[0].message.content == '{"a": 1}'
    bad = requests.post(mock_vllm.url + "/_mock/vllm/turns", json={"turns": [{"tool_calls": [{"arguments": {}}]}]})
    assert bad.status_code == 400 and "name" in bad.json()["error"]["message"]


def test_tool_choice_none_leaves_markup_in_content(vllm_client, mock_vllm):
    mock_vllm.enqueue_turns([tool_call("get_time", tz="CET")])
    r = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS, tool_choice="none")
    assert r.choices[0].message.tool_calls is None
    assert r.choices[0].message.content.startswith("<tool_call>") and '"tz": "CET"' in r.choices[0].message.content


def test_unservable_reply_function_is_a_clear_error(mock_vllm):
    mock_vllm.reset()
    mock_vllm.set_reply_function(lambda req: object())
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK})
    assert r.status_code == 500 and "reply function returned object" in r.json()["error"]["message"]
    assert "<object object" not in r.text.split("returned object")[0]
    with pytest.raises(Exception, match="reply function returned object"):
        mock_vllm.check()
    mock_vllm.reset()


def test_length_cut_keeps_finish_length(vllm_client):
    r = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, tools=TOOLS, max_tokens=20)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 20


@pytest.mark.parametrize("body, message, param", [
    ({"tools": []}, ("`tools` must not be an empty array. Either provide at least one tool or omit the field "
                    "entirely. (parameter=tools)"), "tools"),
    ({"tool_choice": "auto"}, "When using `tool_choice`, `tools` must be set. (parameter=tool_choice)",
     "tool_choice"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "The tool specified in `tool_choice` does not match any of the specified `tools` (parameter=tool_choice)",
     "tool_choice"),
])
def test_tool_validation_errors(mock_vllm, body, message, param):
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, **body})
    assert r.status_code == 400 and r.json()["error"] == {"message": message, "type": "BadRequestError",
                                                          "param": param, "code": 400}
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "tools": TOOLS,
                                                               "tool_choice": {"type": "function"}})
    assert r.status_code == 400 and 'Correct usage: {"type": "function"' in r.json()["error"]["message"]
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK + [
        {"role": "assistant", "tool_calls": [{"id": "1", "type": "custom", "function": {"name": "x"}}]}]})
    assert r.status_code == 400


def test_cli_flags_enable_tool_calls():
    import argparse
    parser = argparse.ArgumentParser()
    MockVLLMServer.cli_arguments(parser)
    args = parser.parse_args(["--enable-auto-tool-choice", "--tool-call-parser", "hermes"])
    with MockVLLMServer.from_cli(args, port=0) as m:
        r = requests.post(m.url + "/v1/chat/completions", json={"messages": ASK, "tools": TOOLS}).json()
        assert r["choices"][0]["finish_reason"] == "tool_calls"
    with pytest.raises(ValueError):
        MockVLLMServer(enable_auto_tool_choice=True)


def test_unsatisfiable_tool_schema(mock_vllm):
    bad = [{"type": "function", "function": {"name": "f", "parameters": {"type": "integer", "minimum": 5,
                                                                         "maximum": 1}}}]
    auto = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "tools": bad}).json()
    assert auto["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"
    forced = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "tools": bad,
                                                                    "tool_choice": "required"})
    assert forced.status_code == 400 and "Failed to transform json schema" in forced.json()["error"]["message"]


def test_tool_header_chunk_bytes(mock_vllm):
    mock_vllm.enqueue_turns([tool_call("get_time", tz="CET")])
    raw = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "tools": TOOLS,
                                                                 "stream": True}).content.decode()
    header = next(e for e in raw.split("\n\n") if '"tool_calls"' in e)
    chunk = json.loads(header[6:])
    call_id = chunk["choices"][0]["delta"]["tool_calls"][0]["id"]
    expected = ('data: {"id":"ID","object":"chat.completion.chunk","created":CREATED,"model":"mock-llm",'
                '"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"id":"CALL","type":"function",'
                '"index":0,"function":{"name":"get_time"}}]},"logprobs":null,"finish_reason":null,'
                '"token_ids":null}],"kv_transfer_params":null}')
    assert header == expected.replace("ID", chunk["id"], 1).replace("CREATED", str(chunk["created"])).replace(
        "CALL", call_id)


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_vllm_json_schema_gen import SCHEMAS


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), SCHEMAS, min_size=1, max_size=3), st.integers(0, 99))
def test_generated_arguments_validate_for_hypothesis_schemas(mock_vllm, props, seed):
    params = {"type": "object", "properties": props, "required": sorted(props)}
    tool = [{"type": "function", "function": {"name": "f", "parameters": params}}]
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={
        "messages": ASK, "tools": tool, "tool_choice": {"type": "function", "function": {"name": "f"}},
        "seed": seed}, timeout=10).json()
    args = json.loads(r["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
    jsonschema.validate(args, params, format_checker=jsonschema.FormatChecker())


def test_logprobs_cover_withheld_markup(mock_vllm):
    mock_vllm.enqueue_turns([tool_call("get_time", tz="CET")])
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "tools": TOOLS, "stream": True,
                                                               "logprobs": True, "stream_options": {
                                                                   "include_usage": True}})
    chunks = _sse(r)
    with_lp = [c for c in chunks if c["choices"] and c["choices"][0]["logprobs"] is not None]
    assert len(with_lp) == chunks[-1]["usage"]["completion_tokens"]  # every token, markup included
    assert any(c["choices"][0]["delta"] == {} for c in with_lp[:-1])  # withheld markup: empty delta


def test_n_choices_each_call_a_tool(vllm_client):
    r = vllm_client.chat.completions.create(model="mock-llm", messages=BOTH, tools=TOOLS, n=2)
    assert [len(c.message.tool_calls) for c in r.choices] == [2, 2]
    assert r.choices[0].message.tool_calls[0].id != r.choices[1].message.tool_calls[0].id


def test_parse_with_pydantic_function_tools(vllm_client):
    import pydantic

    class GetWeather(pydantic.BaseModel):
        city: str
        days: int

    tool = openai.pydantic_function_tool(GetWeather)
    msgs = [{"role": "user", "content": "GetWeather for Rome"}]
    r = vllm_client.chat.completions.parse(model="mock-llm", messages=msgs, tools=[tool])
    assert isinstance(r.choices[0].message.tool_calls[0].function.parsed_arguments, GetWeather)
    with vllm_client.chat.completions.stream(model="mock-llm", messages=msgs, tools=[tool]) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.tool_calls[0].function.parsed_arguments, GetWeather)
