"""Reasoning models (reasoning_parser=...): `reasoning` in messages and deltas, reasoning tokens in usage."""
import json

import pytest
import requests

from mocktools.vllm import MockVLLMServer
from mocktools.vllm.tokenizer import DEFAULT_TOKENIZER as T
from mocktools.vllm.turns import Turn

# mock_vllm (the pytest plugin), a fresh mock per test configured so
pytestmark = pytest.mark.mocktools(vllm={"seed": 9, "reasoning_parser": "deepseek_r1"})

ASK = [{"role": "user", "content": "Think, then answer."}]


def test_reasoning_field_and_usage(vllm_client, mock_vllm):
    mock_vllm.enqueue_turns([Turn(content="42", reasoning="Six times seven.")])
    r = vllm_client.chat.completions.create(model="mock-llm", messages=ASK)
    raw = r.choices[0].message.model_dump()
    assert raw["reasoning"] == "Six times seven." and raw["content"] == "42" and "reasoning_content" not in raw
    assert r.usage.completion_tokens_details.reasoning_tokens == len(T.encode("Six times seven."))
    default = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK}).json()
    assert default["choices"][0]["message"]["reasoning"] and default["choices"][0]["message"]["content"]
    assert default["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_reasoning_deltas_then_content(mock_vllm):
    mock_vllm.enqueue_turns([Turn(content="yes", reasoning="Let me see")])
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "stream": True,
                                                               "stream_options": {"include_usage": True}})
    chunks = [json.loads(e[6:]) for e in r.content.decode().split("\n\n") if e and e != "data: [DONE]"]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning", "") for d in deltas) == "Let me see"
    assert "".join(d.get("content") or "" for d in deltas) == "yes"
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert all("reasoning" not in d for d in deltas[first_content:])
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": len(T.encode("Let me see"))}


def test_include_reasoning_false_drops_it(vllm_client, mock_vllm):
    mock_vllm.enqueue_turns([Turn(content="ok", reasoning="hidden")])
    r = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, extra_body={"include_reasoning": False})
    assert r.choices[0].message.model_dump()["reasoning"] is None and r.choices[0].message.content == "ok"


def test_without_parser_think_stays_in_content():
    with MockVLLMServer() as m:
        m.enqueue_turns([Turn(content="ok", reasoning="thinking")])
        r = requests.post(m.url + "/v1/chat/completions", json={"messages": ASK}).json()
        assert r["choices"][0]["message"]["content"] == "<think>thinking</think>\n\nok"
        assert r["choices"][0]["message"]["reasoning"] is None and r["usage"]["completion_tokens_details"] is None


def test_responses_reasoning_item(vllm_client, mock_vllm):
    mock_vllm.enqueue_turns([Turn(content="done", reasoning="plan it")])
    r = vllm_client.responses.create(model="mock-llm", input="x")
    assert [o.type for o in r.output] == ["reasoning", "message"]
    assert r.output[0].content[0].text == "plan it" and r.output[0].summary == []
    assert r.usage.output_tokens_details.reasoning_tokens == len(T.encode("plan it"))
    mock_vllm.enqueue_turns([Turn(content="done", reasoning="plan it")])
    types = [e.type for e in vllm_client.responses.create(model="mock-llm", input="x", stream=True)]
    assert types[2:5] == ["response.output_item.added", "response.content_part.added",
                          "response.reasoning_text.delta"]
    assert "response.reasoning_text.done" in types and not any("summary" in t for t in types)


def test_reasoning_effort_is_validated(mock_vllm):
    ok = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "reasoning_effort": "low"})
    bad = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "reasoning_effort": "huge"})
    assert ok.status_code == 200 and bad.status_code == 400 and bad.json()["error"]["param"] == "body.reasoning_effort"


def test_enable_thinking_false_answers_without_reasoning(mock_vllm):
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={
        "messages": ASK, "chat_template_kwargs": {"enable_thinking": False}}).json()
    assert r["choices"][0]["message"]["reasoning"] is None and r["choices"][0]["message"]["content"]
    assert r["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}


def test_reasoning_effort_none_does_not_think(vllm_client, mock_vllm):
    chat = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, reasoning_effort="none")
    assert chat.choices[0].message.model_dump()["reasoning"] is None
    resp = vllm_client.responses.create(model="mock-llm", input="x", reasoning={"effort": "none"})
    assert [o.type for o in resp.output] == ["message"]
    assert [o.type for o in vllm_client.responses.create(model="mock-llm", input="x").output] == ["reasoning", "message"]
