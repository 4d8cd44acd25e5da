"""The Anthropic Messages API as vLLM 0.33 serves it (``/v1/messages``, ``/v1/messages/count_tokens``).

vLLM translates a Messages request into a chat completion and back; so does the mock, with the
same quirks: the message id is the chat id (``chatcmpl-…``), tools without ``tool_choice`` mean
``auto`` (so a server without ``--enable-auto-tool-choice`` refuses them), handler errors use
``{"type": "error", "error": {...}}`` while body-validation errors keep the OpenAI shape, and
``--api-key`` accepts only ``Authorization: Bearer`` (never ``x-api-key``).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from ..errors import ApiError
from ..routing import json_response
from . import channels, structured, tools
from .chat_plan import ChatPlan
from .engine import random_uuid
from .tokenizer import message_text
from .wire import _json_body

if TYPE_CHECKING:
    from .engine import Engine, Job
    from .mock import MockVLLMServer

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error"}
BLOCKS = ("text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking", "tool_reference",
          "tool_addition", "tool_removal")


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def guarded(mock: MockVLLMServer) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """vLLM's auth middleware (Bearer only) plus the Anthropic error shape for handler errors."""
    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        inner = mock._guard(handler)

        def run(request: Request, **kwargs: Any) -> Any:
            try:
                return inner(request, **kwargs)
            except ApiError as exc:
                if exc.type in ("Bad Request", "Unauthorized") or exc.status == 413:
                    raise  # FastAPI-level rejections keep the OpenAI shape
                return json_response({"type": "error", "error": {"type": error_type(exc.status),
                                                                 "message": exc.message}}, exc.status, exc.headers)
        return run
    return wrap


def invalid(message: str, loc: str) -> ApiError:
    return tools.schema_error(message, loc)


def read_body(request: Request, count_only: bool = False) -> dict:
    body = _json_body(request)
    for key in ("model", "messages") + (() if count_only else ("max_tokens",)):
        if key not in body:
            raise invalid("Field required", key)
    if not count_only:
        mt = body["max_tokens"]
        if isinstance(mt, bool) or not isinstance(mt, int) or mt <= 0:
            raise invalid("Input should be greater than 0", "max_tokens")
    if not isinstance(body["messages"], list):
        raise invalid("Input should be a valid list", "messages")
    return body


def _blocks(content: Any, loc: str) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid("Input should be a string or a list of content blocks", loc)
    for j, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") not in BLOCKS:
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise invalid(f"Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                          f"{', '.join(BLOCKS)}", f"{loc}.{j}")
    return content


def chat_messages(body: dict) -> list[dict]:
    out: list[dict] = []
    system = body.get("system")
    if system is not None:
        texts = [b.get("text", "") for b in _blocks(system, "system") if b.get("type") == "text"
                 and not str(b.get("text", "")).startswith("x-anthropic-billing-header")]
        out.append({"role": "system", "content": "\n".join(texts)})
    for i, msg in enumerate(body["messages"]):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant", "system"):
            raise invalid("role should be 'user' or 'assistant'", f"messages.{i}.role")
        texts, calls, reasoning = [], [], None
        for block in _blocks(msg.get("content", ""), f"messages.{i}.content"):
            kind = block["type"]
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "image":
                texts.append("[image]")
            elif kind == "tool_use":
                calls.append({"id": str(block.get("id", "")), "type": "function",
                              "function": {"name": str(block.get("name", "")),
                                           "arguments": json.dumps(block.get("input", {}))}})
            elif kind == "tool_result":
                result = block.get("content", "")
                text = result if isinstance(result, str) else message_text(
                    [b for b in result if isinstance(b, dict)] if isinstance(result, list) else [])
                out.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text})
            elif kind == "thinking":
                reasoning = str(block.get("thinking", ""))
        if texts or calls or reasoning is not None:
            entry: dict[str, Any] = {"role": msg["role"], "content": "\n".join(texts) if texts else None}
            if calls:
                entry["tool_calls"] = calls
            if reasoning is not None:
                entry["reasoning"] = reasoning
            out.append(entry)
    return out


def tool_config(body: dict, parser_enabled: bool) -> tools.ToolConfig:
    raw = body.get("tools") or []
    if not isinstance(raw, list):
        raise invalid("Input should be a valid list", "tools")
    specs = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise invalid("Field required", f"tools.{i}.name")
        raw_schema = t.get("input_schema")
        schema: dict[str, Any] = raw_schema if isinstance(raw_schema, dict) else {}
        specs.append(tools.ToolSpec(t["name"], t.get("description"), {"type": "object", **schema}))
    choice = body.get("tool_choice")
    chat: dict[str, Any] = {"tools": [s.as_chat_tool() for s in specs]} if specs else {}
    if isinstance(choice, dict):
        kind = choice.get("type")
        mapping = {"auto": "auto", "any": "required", "none": "none"}
        if kind == "tool":
            chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
        elif kind in mapping:
            chat["tool_choice"] = mapping[kind]
        else:
            raise invalid("tool_choice.type should be 'auto', 'any', 'tool' or 'none'", "tool_choice")
        if choice.get("disable_parallel_tool_use") is True:
            chat["parallel_tool_calls"] = False
    elif choice is not None:
        raise invalid("Input should be a valid dictionary", "tool_choice")
    if not specs:
        chat.pop("tool_choice", None)
    return tools.parse_chat_tools(chat, parser_enabled)


def prepare(engine: Engine, body: dict) -> tuple[Job, ChatPlan]:
    model = engine.config.resolve(body.get("model"))
    thinking = body.get("thinking")
    include = True
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled", "adaptive"):
            raise invalid("thinking.type should be 'enabled', 'disabled' or 'adaptive'", "thinking")
        budget = thinking.get("budget_tokens")
        if thinking["type"] == "enabled" and (not isinstance(budget, int) or budget < 1024
                                               or budget >= body["max_tokens"]):
            raise invalid("budget_tokens must be >= 1024 and less than max_tokens", "thinking.budget_tokens")
        include = thinking["type"] != "disabled"
    cfg = tool_config(body, engine.agent.tools_enabled)
    fmt = (body.get("output_config") or {}).get("format") if isinstance(body.get("output_config"), dict) else None
    constraint = None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and cfg.choice not in ("required", "named"):
        constraint = structured.Constraint("json", fmt.get("schema", {"type": "object"}), "output_config")
    plan = ChatPlan(tools.normalize_messages(chat_messages(body)), cfg, constraint, include,
                    engine.agent.reasoning_parser is not None, thinking=include)
    if constraint is not None:
        plan.deferred = structured.compile_error(constraint)
    sampling: dict[str, Any] = {k: body[k] for k in ("temperature", "top_p") if body.get(k) is not None}
    if body.get("stop_sequences") is not None:
        sampling["stop"] = body["stop_sequences"]
    sampling["max_tokens"] = body["max_tokens"]
    job = engine.prepare_plan("messages", model, plan, sampling, stream=body.get("stream") is True,
                              rid="chatcmpl-" + random_uuid())
    if job.deferred is not None:
        raise job.deferred
    job.meta["api"] = "anthropic"
    return job, plan


def _stop(out: Any, parsed: channels.Parsed) -> tuple[str, str | None]:
    if out.finish_reason == "length":
        return "max_tokens", None
    if parsed.calls and all(c["complete"] for c in parsed.calls):
        return "tool_use", None
    if isinstance(out.stop_reason, str):
        return "stop_sequence", out.stop_reason
    return "end_turn", None


def _input(arguments: str) -> Any:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def message_object(job: Job, plan: ChatPlan) -> dict[str, Any]:
    out = job.outputs[0]
    parsed = channels.parse(out)
    calls = parsed.calls if plan.tools.parallel else parsed.calls[:1]
    content: list[dict[str, Any]] = []
    if parsed.reasoning and plan.include_reasoning:
        content.append({"type": "thinking", "thinking": parsed.reasoning, "signature": uuid.uuid4().hex})
    if parsed.content:
        content.append({"type": "text", "text": parsed.content})
    for c in calls:
        content.append({"type": "tool_use", "id": c["id"], "name": c["name"], "input": _input(c["arguments"])})
    reason, sequence = _stop(out, parsed)
    msg: dict[str, Any] = {"id": job.rid, "type": "message", "role": "assistant", "model": job.model,
                           "content": content or [{"type": "text", "text": ""}], "stop_reason": reason}
    if sequence is not None:
        msg["stop_sequence"] = sequence
    msg["usage"] = {"input_tokens": job.prompt_tokens, "output_tokens": len(out.token_ids)}
    return msg


def stream_events(job: Job, plan: ChatPlan) -> Iterator[tuple[int, dict[str, Any]]]:
    """message_start, one content block per part (thinking, text, tool_use…), message_delta, message_stop."""
    out = job.outputs[0]
    yield 0, {"type": "message_start", "message": {
        "id": job.rid, "type": "message", "role": "assistant", "content": [], "model": job.model,
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": job.prompt_tokens, "output_tokens": 0}}}
    ends = channels.header_ends(out)
    state: dict[str, Any] = {"kind": None, "index": -1}

    def close(step: int) -> Iterator[tuple[int, dict[str, Any]]]:
        if state["kind"] == "thinking":
            yield step, {"type": "content_block_delta", "delta": {"type": "signature_delta",
                                                                  "signature": uuid.uuid4().hex},
                         "index": state["index"]}
        if state["kind"] is not None:
            yield step, {"type": "content_block_stop", "index": state["index"]}
        state["kind"] = None

    def open_block(step: int, kind: str, block: dict) -> Iterator[tuple[int, dict[str, Any]]]:
        yield from close(step)
        state["kind"], state["index"] = kind, state["index"] + 1
        yield step, {"type": "content_block_start", "content_block": block, "index": state["index"]}

    last = 0
    for i, piece in enumerate(out.pieces):
        step = last = i + 1
        lab = channels.label(out, i)
        if lab == "r" and piece and plan.include_reasoning:
            if state["kind"] != "thinking":
                yield from open_block(step, "thinking", {"type": "thinking", "thinking": ""})
            yield step, {"type": "content_block_delta", "delta": {"type": "thinking_delta", "thinking": piece},
                         "index": state["index"]}
        elif lab == "c" and piece:
            if state["kind"] != "text":
                yield from open_block(step, "text", {"type": "text", "text": ""})
            yield step, {"type": "content_block_delta", "delta": {"type": "text_delta", "text": piece},
                         "index": state["index"]}
        elif isinstance(lab, tuple) and (plan.tools.parallel or lab[1] == 0):
            kind, k = lab
            if kind == "h" and ends.get(k) == i:
                cid, name = out.calls[k]
                yield from open_block(step, "tool_use", {"type": "tool_use", "id": cid, "name": name, "input": {}})
            elif kind == "a" and piece and state["kind"] == "tool_use":
                yield step, {"type": "content_block_delta", "delta": {"type": "input_json_delta",
                                                                      "partial_json": piece},
                             "index": state["index"]}
    yield from close(last)
    reason, sequence = _stop(out, channels.parse(out))
    yield -1, {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence},
               "usage": {"input_tokens": job.prompt_tokens, "output_tokens": len(out.token_ids)}}
    yield -1, {"type": "message_stop"}


def count_tokens(engine: Engine, body: dict) -> dict[str, Any]:
    engine.config.resolve(body.get("model"))
    plan = ChatPlan(tools.normalize_messages(chat_messages(body)),
                    tools.ToolConfig(tool_config({**body, "tool_choice": {"type": "none"}}, True).tools))
    n = engine.tokenizer.count(engine.tokenizer.apply_chat_template(plan.template))
    return {"input_tokens": n, "context_management": {"original_input_tokens": n}}
