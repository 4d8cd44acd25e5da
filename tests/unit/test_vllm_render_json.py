"""A chat completion written straight as JSON is the same bytes as its dict encoded."""
from __future__ import annotations

import itertools
from typing import Any

import pytest

from mocktools.errors import ApiError
from mocktools.routing import json_dumps
from mocktools.vllm import chat_plan, chat_render, protocol
from mocktools.vllm.engine import Engine
from mocktools.vllm.turns import ToolCall, Turn

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
             "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
         {"type": "function", "function": {"name": "add", "parameters": {
             "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}]
PROMPTS = ["hello there", "", "héllo wörld ✓ \u2028 \"quoted\" \\ back", "x" * 40]
EXTRAS: list[dict[str, Any]] = [
    {}, {"max_tokens": 1}, {"max_tokens": 64}, {"n": 3, "temperature": 0.5, "seed": 7}, {"stop": ["the", "."]},
    {"stop_token_ids": [2, 300]}, {"ignore_eos": True, "max_tokens": 50}, {"logprobs": True, "top_logprobs": 2},
    {"tools": TOOLS}, {"tools": TOOLS, "tool_choice": "required"}, {"tools": TOOLS, "parallel_tool_calls": False},
    {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "add"}}},
    {"reasoning_effort": "low"}, {"include_reasoning": False}, {"chat_template_kwargs": {"enable_thinking": False}},
    {"response_format": {"type": "json_object"}, "max_tokens": 200},
]


def _engines() -> list[Engine]:
    plain = Engine(protocol.ModelConfig(["mock-llm", "alias"], "mock-llm"))
    agent = Engine(protocol.ModelConfig(["m"], "m"), agent=chat_plan.AgentConfig(
        enable_auto_tool_choice=True, tool_call_parser="hermes", reasoning_parser="qwen3"))
    return [plain, agent]


@pytest.mark.parametrize("engine", _engines(), ids=["plain", "tools+reasoning"])
def test_chat_completion_json_matches_the_encoded_dict(engine: Engine) -> None:
    checked = 0
    for prompt, extra in itertools.product(PROMPTS, EXTRAS):
        body = {"messages": [{"role": "user", "content": prompt}], **extra}
        try:
            job = engine.prepare("chat", body, "rid-é")
        except ApiError:  # a body this server refuses (e.g. tools without a parser)
            continue
        if job.deferred is not None:
            continue
        expected = json_dumps(engine.render(job))
        assert chat_render.chat_completion_json(job.rid, job.created, job.model, job.outputs, job.prompt_tokens,
                                                engine.tokenizer, job.style) == expected, body
        assert engine.render_answer(job).body == expected.encode()  # type: ignore[union-attr]
        checked += 1
    assert checked >= 40


def test_scripted_turns_with_calls_and_odd_stop_reasons_match() -> None:
    engine = _engines()[1]
    turns = [Turn(content="text then a call", tool_calls=(ToolCall("add", {"a": 1, "b": 2}),)),
             Turn(content=None, tool_calls=(ToolCall("get_weather", {"city": "Zürich"}), ToolCall("add", {}))),
             "plain scripted text"]
    for turn, extra in itertools.product(turns, ({}, {"stop_token_ids": [300]}, {"n": 2}, {"max_tokens": 3})):
        engine.script.enqueue_replies([turn])
        job = engine.prepare("chat", {"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS, **extra})
        assert chat_render.chat_completion_json(job.rid, job.created, job.model, job.outputs, job.prompt_tokens,
                                                engine.tokenizer, job.style) == json_dumps(engine.render(job))


def test_a_completion_is_still_answered_as_its_dict() -> None:
    engine = _engines()[0]
    job = engine.prepare("completion", {"prompt": "hi", "max_tokens": 4})
    assert engine.render_answer(job) == engine.render(job)
