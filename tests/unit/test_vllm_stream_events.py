"""A stream's common chunks sent as pre-framed events are the same bytes as their dicts encoded."""
from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocktools.errors import ApiError
from mocktools.vllm import chat_render, responses
from mocktools.vllm.engine import Engine
from mocktools.vllm.stream_codec import EventTemplate, EventTemplates, OpenAICodec

from .test_vllm_render_json import EXTRAS, PROMPTS, _engines

CODEC = OpenAICodec()
BASE = {"id": "cmpl-é\u2028", "object": "text_completion", "created": 1700000000, "model": "mock-llm"}


def _text_chunk(index: int, piece: str) -> dict[str, Any]:
    return {**BASE, "choices": [{"index": index, "text": piece, "logprobs": None, "finish_reason": None,
                                 "stop_reason": None}]}


@settings(max_examples=300, deadline=None)
@given(piece=st.text(), index=st.integers(min_value=0, max_value=200))
def test_a_template_writes_what_the_encoder_writes(piece: str, index: int) -> None:
    assert EventTemplates(_text_chunk).event(index, piece) == CODEC.encode(_text_chunk(index, piece))


def test_a_chunk_holding_the_sentinel_elsewhere_gets_no_template() -> None:
    def chunk(index: int, piece: str) -> dict[str, Any]:
        return {**_text_chunk(index, piece), "model": EventTemplate.SENTINEL}
    assert EventTemplate.of(chunk(0, EventTemplate.SENTINEL)) is None
    assert EventTemplates(chunk).event(0, "x") == chunk(0, "x")  # the chunk itself, encoded later as before


def _events(engine: Engine, job: Any, framed: bool) -> list[tuple[int, bytes, bool]]:
    if job.kind == "chat":
        chunks = chat_render.chat_stream_chunks(
            job.rid, job.created, job.model, job.outputs, job.prompt_tokens, engine.tokenizer, job.style,
            include_usage=job.include_usage, continuous_usage=job.continuous_usage, framed=framed)
    else:
        chunks = responses.stream_chunks(
            job.rid, job.created, job.model, job.outputs, job.prompt_tokens, engine.tokenizer,
            include_usage=job.include_usage, continuous_usage=job.continuous_usage, echo_texts=job.echo_texts,
            framed=framed)
    return [(step, chunk if type(chunk) is bytes else CODEC.encode(chunk), type(chunk) is bytes)  # as Engine.stream
            for step, chunk in chunks]


STREAMING = [{"stream": True}, {"stream": True, "stream_options": {"include_usage": True}},
             {"stream": True, "stream_options": {"include_usage": True, "continuous_usage_stats": True}}]


@pytest.mark.parametrize("engine", _engines(), ids=["plain", "tools+reasoning"])
@pytest.mark.parametrize("kind", ["chat", "completion"])
def test_framed_streams_match_the_encoded_dicts(engine: Engine, kind: str) -> None:
    checked = framed_events = 0
    for prompt, extra, streaming in itertools.product(PROMPTS, EXTRAS, STREAMING):
        if kind == "chat":
            body: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}], **extra, **streaming}
        else:
            body = {"prompt": prompt, **{k: v for k, v in extra.items() if k in ("max_tokens", "n", "seed",
                    "temperature", "stop", "stop_token_ids", "ignore_eos")}, **streaming, "echo": len(prompt) > 20}
            if "logprobs" in extra:
                body["logprobs"] = 2
        try:
            job = engine.prepare(kind, body, "rid-é")
        except ApiError:  # a body this server refuses (e.g. tools without a parser)
            continue
        got, expected = _events(engine, job, framed=True), _events(engine, job, framed=False)
        assert [event[:2] for event in got] == [event[:2] for event in expected], body
        assert not any(event[2] for event in expected)
        checked += 1
        framed_events += sum(event[2] for event in got)
    assert checked >= 30
    assert framed_events > 500
