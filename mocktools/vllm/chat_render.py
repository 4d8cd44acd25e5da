"""Chat completion bodies and stream chunks exactly as vLLM 0.33 serialises them, tools and
reasoning included (pure functions over labelled ChoiceOutputs, see channels.py)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]

from ..routing import json_dumps
from . import channels
from .generation import ChoiceOutput
from .responses import chat_logprobs, usage
from .stream_codec import EventTemplates
from .tokenizer import Tokenizer


@dataclass
class ChatStyle:
    """What shapes a chat answer beyond its tokens."""

    named_tool: bool = False  # tool_choice named a function: finish "stop"
    forced_tool: bool = False  # required or named: content "" rather than null
    parallel: bool = True
    reasoning_parser: bool = False
    include_reasoning: bool = True
    fingerprint: str | None = None


def finish_reason(out: ChoiceOutput, has_calls: bool, style: ChatStyle) -> str:
    if has_calls and out.finish_reason == "stop":
        return "stop" if style.named_tool else "tool_calls"
    return out.finish_reason


def chat_usage(prompt_tokens: int, outputs: list[ChoiceOutput], style: ChatStyle,
               produced: int | None = None) -> dict[str, Any]:
    body = usage(prompt_tokens, sum(len(o.token_ids) for o in outputs) if produced is None else produced)
    if style.reasoning_parser:
        body["completion_tokens_details"] = {"reasoning_tokens": sum(channels.parse(o).reasoning_tokens
                                                                     for o in outputs)}
    return body


def _message_parts(out: ChoiceOutput, style: ChatStyle) -> tuple[Any, list[Any], str | None]:
    """A choice's parsed channels, the tool calls it sends and its message content."""
    parsed = channels.parse(out)
    calls = parsed.calls[:1] if not style.parallel else parsed.calls
    content: str | None = parsed.content
    if calls:
        content = (content or "") if style.forced_tool else (content or None)
    return parsed, calls, content


def chat_completion(rid: str, created: int, model: str, outputs: list[ChoiceOutput], prompt_tokens: int,
                    tok: Tokenizer, style: ChatStyle) -> dict[str, Any]:
    choices = []
    for i, out in enumerate(outputs):
        parsed, calls, content = _message_parts(out, style)
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": None,
                                   "audio": None, "function_call": None}
        if calls:
            message["tool_calls"] = [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]
        message["reasoning"] = parsed.reasoning if style.include_reasoning else None
        choices.append({
            "index": i, "message": message,
            "logprobs": chat_logprobs(tok, out.logprobs) if out.logprobs is not None else None,
            "finish_reason": finish_reason(out, bool(calls), style), "stop_reason": out.stop_reason,
            "token_ids": None, "routed_experts": None, "weight_versions": None,
        })
    return {"id": rid, "object": "chat.completion", "created": created, "model": model, "choices": choices,
            "service_tier": None, "system_fingerprint": style.fingerprint,
            "usage": chat_usage(prompt_tokens, outputs, style),
            "prompt_logprobs": None, "prompt_token_ids": None, "prompt_text": None, "kv_transfer_params": None,
            "ec_transfer_params": None, "metrics": None}


def chat_completion_json(rid: str, created: int, model: str, outputs: list[ChoiceOutput], prompt_tokens: int,
                         tok: Tokenizer, style: ChatStyle) -> str:
    """``json_dumps(chat_completion(...))``, written straight from its parts: the skeleton is
    constant text and each value goes through the same encoder (a tenth of a chat answer's CPU
    went to building and walking a dict of mostly nulls; tests pin the two to the same bytes)."""
    parts = ['{"id":', _value(rid), ',"object":"chat.completion","created":', _value(created), ',"model":',
             _value(model), ',"choices":[']
    for i, out in enumerate(outputs):
        parsed, calls, content = _message_parts(out, style)
        parts += (',{"index":' if i else '{"index":', _value(i), ',"message":{"role":"assistant","content":',
                  _value(content), ',"refusal":null,"annotations":null,"audio":null,"function_call":null')
        if calls:
            parts += (',"tool_calls":', json_dumps([{"id": c["id"], "type": "function",
                                                     "function": {"name": c["name"], "arguments": c["arguments"]}}
                                                    for c in calls]))
        parts += (',"reasoning":', _value(parsed.reasoning if style.include_reasoning else None), '},"logprobs":',
                  json_dumps(chat_logprobs(tok, out.logprobs)) if out.logprobs is not None else "null",
                  ',"finish_reason":', _value(finish_reason(out, bool(calls), style)), ',"stop_reason":',
                  _value(out.stop_reason), ',"token_ids":null,"routed_experts":null,"weight_versions":null}')
    parts += ('],"service_tier":null,"system_fingerprint":', _value(style.fingerprint), ',"usage":',
              json_dumps(chat_usage(prompt_tokens, outputs, style)), ',"prompt_logprobs":null,"prompt_token_ids":null,'
              '"prompt_text":null,"kv_transfer_params":null,"ec_transfer_params":null,"metrics":null}')
    return "".join(parts)


def _value(value: Any) -> str:
    """One JSON value as `json_dumps` writes it (str and int spelled here: the common ones)."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)  # what the encoder calls for a str (ensure_ascii)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return json_dumps(value)


def _delta(out: ChoiceOutput, step: int, piece: str, ends: dict[int, int], style: ChatStyle) -> dict | None:
    """The delta of one token, or None when the parser withholds it."""
    lab = channels.label(out, step)
    if lab == "c":
        return {"content": piece} if piece else None
    if lab == "r":
        return {"reasoning": piece} if piece and style.include_reasoning else None
    if isinstance(lab, tuple):
        kind, k = lab
        if k > 0 and not style.parallel:
            return None
        if kind == "h" and ends.get(k) == step:
            cid, name = out.calls[k]
            return {"content": None, "tool_calls": [{"id": cid, "type": "function", "index": k,
                                                     "function": {"name": name}}]}
        if kind == "a" and piece:
            return {"content": None, "tool_calls": [{"index": k, "function": {"arguments": piece}}]}
    return None


def chat_stream_chunks(rid: str, created: int, model: str, outputs: list[ChoiceOutput], prompt_tokens: int,
                       tok: Tokenizer, style: ChatStyle, *, include_usage: bool, continuous_usage: bool,
                       framed: bool = True) -> Iterator[tuple[int, dict[str, Any] | bytes]]:
    """Yield (step, chunk) as chat_completion_stream_generator does: step 0 is the role chunk,
    step k the k-th token, -1 the usage chunk. The terminal chunk carries system_fingerprint.
    ``framed``: a content or reasoning delta that is not a choice's last comes as its SSE event
    already (stream_codec.EventTemplates, the same bytes; False: every chunk a dict)."""
    base = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
    produced = [0] * len(outputs)
    pending: list[tuple[int, dict[str, Any] | bytes]] = []

    def chunk_of(choices: list[dict[str, Any]], later: bool = True) -> dict[str, Any]:
        # keys in the response model's order (see _ORDER) as they are added; only the terminal
        # chunk, which gets system_fingerprint afterwards, is reordered
        chunk = {**base, "choices": choices}
        if continuous_usage:
            chunk["usage"] = chat_usage(prompt_tokens, outputs, style, sum(produced))
        if later:
            chunk["kv_transfer_params"] = None
        return chunk

    def delta_events(key: str) -> EventTemplates:
        return EventTemplates(lambda i, piece: chunk_of([{"index": i, "delta": {key: piece}, "logprobs": None,
                                                          "finish_reason": None, "token_ids": None}]))
    templates = {key: delta_events(key) for key in ("content", "reasoning")} \
        if framed and not continuous_usage else None

    def emit(step: int, chunk: dict[str, Any] | bytes) -> Iterator[tuple[int, dict[str, Any] | bytes]]:
        yield from pending
        pending[:] = [(step, chunk)]

    for i in range(len(outputs)):
        yield from emit(0, chunk_of([{"index": i, "delta": {"role": "assistant", "content": ""},
                                      "logprobs": None, "finish_reason": None}], later=False))
    ends = [channels.header_ends(o) for o in outputs]
    has_calls = [bool(channels.parse(o).calls) for o in outputs]
    steps = max((len(o.token_ids) for o in outputs), default=0)
    for step in range(steps):
        for i, out in enumerate(outputs):
            if step >= len(out.token_ids):
                continue
            produced[i] += 1
            last = step == len(out.token_ids) - 1
            piece = out.pieces[step] if step < len(out.pieces) else ""
            delta = _delta(out, step, piece, ends[i], style)
            if templates is not None and not last and out.logprobs is None and delta is not None and len(delta) == 1:
                key = "content" if "content" in delta else "reasoning" if "reasoning" in delta else None
                if key is not None:  # (emit inlined: the one chunk held back goes, this one is held)
                    if pending:
                        yield pending.pop()
                    pending.append((step + 1, templates[key].event(i, piece)))
                    continue
            lp = chat_logprobs(tok, [out.logprobs[step]]) if out.logprobs is not None else None
            if delta is None:
                if not last and lp is None:
                    continue
                delta = {"content": piece} if (last and not has_calls[i] and channels.label(out, step) == "c") \
                    else {}
            choice: dict[str, Any] = {"index": i, "delta": delta, "logprobs": lp, "finish_reason": None}
            if last:
                choice["finish_reason"] = finish_reason(out, has_calls[i], style)
                choice["stop_reason"] = out.stop_reason
            choice["token_ids"] = None
            yield from emit(step + 1, chunk_of([choice]))
    if include_usage:
        yield from emit(-1, {**base, "choices": [], "usage": chat_usage(prompt_tokens, outputs, style),
                             "kv_transfer_params": None})
    for step, chunk in pending:
        if style.fingerprint is not None:
            # the terminal chunk is a choice's last or the usage chunk: never framed
            assert type(chunk) is dict
            chunk["system_fingerprint"] = style.fingerprint
            chunk = _ordered(chunk)
        yield step, chunk


_ORDER = ("id", "object", "created", "model", "choices", "usage", "system_fingerprint", "kv_transfer_params")


def _ordered(chunk: dict[str, Any]) -> dict[str, Any]:
    """Keys in ChatCompletionStreamResponse's field order (pydantic dumps in declaration order)."""
    return {k: chunk[k] for k in _ORDER if k in chunk}
