"""The Responses API (``POST /v1/responses``, ``GET /v1/responses/{id}``, ``…/cancel``) as vLLM 0.33
serves it on the plain (non-Harmony) path: input items → chat messages → the engine → output items.

Storage follows vLLM: off by default (``previous_response_id`` and GET answer 404, ``background``
400); ``responses_store=True`` (vLLM's ``VLLM_ENABLE_RESPONSES_API_STORE=1``) keeps the last
:data:`STORE_LIMIT` responses in memory.
"""
from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from . import channels, structured, tools
from .chat_plan import ChatPlan
from .generation import ChoiceOutput
from .protocol import bad_request
from .tokenizer import message_text

if TYPE_CHECKING:
    from .engine import Engine, Job

STORE_LIMIT = 1000


def rid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().int & (2 ** 64 - 1):016x}"


def not_found(response_id: str, param: str = "response_id") -> ApiError:
    return ApiError(404, f"Response with id '{response_id}' not found.", type="invalid_request_error", param=param)


class ResponseStore:
    """Stored responses and the messages that led to them (bounded, oldest dropped first)."""

    def __init__(self, limit: int = STORE_LIMIT) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[dict, list[dict]]] = OrderedDict()
        self.limit = limit

    def put(self, response: dict, history: list[dict]) -> None:
        with self._lock:
            self._items[response["id"]] = (response, history)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def get(self, response_id: str) -> tuple[dict, list[dict]] | None:
        with self._lock:
            return self._items.get(response_id)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def input_messages(body: dict) -> list[dict]:
    """``input`` (string or items) as chat messages, with vLLM's 400s for what it refuses."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise tools.schema_error("Input should be a string or a non-empty list of input items", "input")
    out: list[dict] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise tools.schema_error("Input should be a valid dictionary", f"input.{i}")
        kind = item.get("type", "message")
        if kind == "message" or (kind is None and "role" in item):
            role = item.get("role")
            if role not in ("user", "system", "developer", "assistant"):
                raise tools.schema_error("role should be 'user', 'system', 'developer' or 'assistant'",
                                         f"input.{i}.role")
            out.append({"role": role, "content": _content_text(item.get("content"), i)})
        elif kind == "function_call":
            call = {"id": str(item.get("call_id", "")), "type": "function",
                    "function": {"name": str(item.get("name", "")), "arguments": item.get("arguments", "{}")}}
            if out and out[-1]["role"] == "assistant" and "tool_calls" in out[-1]:
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            out.append({"role": "tool", "tool_call_id": str(item.get("call_id", "")),
                        "content": output if isinstance(output, str) else _content_text(output, i)})
        elif kind == "reasoning":
            if item.get("encrypted_content"):
                raise bad_request("Encrypted content is not supported.", "input")
            text = "".join(p.get("text", "") for p in item.get("content") or [] if isinstance(p, dict))
            out.append({"role": "assistant", "content": None, "reasoning": text})
        else:
            raise bad_request(f"Unsupported input item type: {kind}", "input")
    return out


def _content_text(content: Any, i: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return message_text([p for p in content if isinstance(p, dict)])
    raise tools.schema_error("content should be a string or a list of content parts", f"input.{i}.content")


def tool_config(body: dict, parser_enabled: bool) -> tools.ToolConfig:
    raw = body.get("tools") or []
    if not isinstance(raw, list):
        raise tools.schema_error("Input should be a valid list", "tools")
    specs = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(t.get("name"), str):
            raise tools.schema_error("Input should be a function tool {'type': 'function', 'name': ...}",
                                     f"tools.{i}")
        specs.append(tools.spec_from(t, f"tools.{i}"))
    choice = body.get("tool_choice", "auto")
    parallel = body.get("parallel_tool_calls", True) is not False
    cfg = tools.ToolConfig(specs, parallel=parallel)
    if isinstance(choice, dict):
        name = choice.get("name")
        if choice.get("type") != "function" or not isinstance(name, str):
            raise tools.schema_error("tool_choice should be 'auto', 'none', 'required' or "
                                     "{'type': 'function', 'name': ...}", "tool_choice")
        if cfg.find(name) is None:
            raise bad_request("Tool choice 'function' not found in 'tools' parameter.", "tool_choice")
        cfg.choice, cfg.named = "named", name
    elif choice in ("auto", "none", "required"):
        if choice == "required" and not specs:
            raise bad_request("Tool choice 'required' must be specified with 'tools' parameter.", "tool_choice")
        cfg.choice = choice if specs else "none"
    else:
        raise tools.schema_error("Input should be 'auto', 'none', 'required' or a function choice", "tool_choice")
    cfg.extract = parser_enabled and cfg.choice != "none"
    return cfg


def text_constraint(body: dict) -> structured.Constraint | None:
    text = body.get("text")
    so = structured.from_structured_outputs(body.get("structured_outputs"))
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is not None and so is not None:
        raise bad_request("Cannot specify both structured_outputs and text.format", "text")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("name"), str):
            raise tools.schema_error("Field required", "text.format.name")
        return structured.Constraint("json", fmt.get("schema", {"type": "object"}), "text.format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return structured.Constraint("json_object", True, "text.format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise tools.schema_error("Input should be a text, json_object or json_schema format", "text.format")
    return so


def item_ids(out: ChoiceOutput) -> dict[str, Any]:
    return {"rs": rid("rs"), "msg": rid("msg"), "fc": [rid("fc") for _ in out.calls]}


def output_items(out: ChoiceOutput, ids: dict[str, Any], include_reasoning: bool, parallel: bool) -> list[dict]:
    """reasoning → message → function_call(s), as vLLM orders them."""
    parsed = channels.parse(out)
    items: list[dict] = []
    if parsed.reasoning and include_reasoning:
        items.append({"id": ids["rs"], "summary": [], "type": "reasoning",
                      "content": [{"text": parsed.reasoning, "type": "reasoning_text"}],
                      "encrypted_content": None, "status": None})
    if parsed.content or not parsed.calls:
        content: list[dict[str, Any]] = [{"annotations": [], "text": parsed.content, "type": "output_text", "logprobs": None}] \
            if parsed.content else []
        items.append({"id": ids["msg"], "content": content, "role": "assistant", "status": "completed",
                      "type": "message", "phase": None})
    for k, call in enumerate(parsed.calls[:1] if not parallel else parsed.calls):
        items.append({"arguments": call["arguments"], "call_id": call["id"], "name": call["name"],
                      "type": "function_call", "id": ids["fc"][k], "namespace": None, "status": "completed"})
    if out.finish_reason == "length" and items:
        items[-1]["status"] = "incomplete"
    return items


def response_object(job: Job, body: dict, plan: ChatPlan, status: str, output: list[dict],
                    usage: dict | None) -> dict[str, Any]:
    tools_echo = [{"type": "function", "name": t.name, "parameters": t.parameters, "strict": None,
                   "description": t.description} for t in plan.tools.tools]
    choice: Any = plan.tools.choice if plan.tools.choice != "named" else {"type": "function",
                                                                             "name": plan.tools.named}
    text = body.get("text") if isinstance(body.get("text"), dict) else None
    return {
        "id": job.rid, "created_at": job.created,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.get("instructions"), "metadata": body.get("metadata"), "model": job.model,
        "object": "response", "output": output, "parallel_tool_calls": plan.tools.parallel,
        "temperature": float(body.get("temperature", 1.0) or 0.0), "tool_choice": choice, "tools": tools_echo,
        "top_p": float(body.get("top_p", 1.0) if body.get("top_p") is not None else 1.0), "background": False,
        "max_output_tokens": job.params.max_tokens, "max_tool_calls": body.get("max_tool_calls"),
        "previous_response_id": body.get("previous_response_id"), "prompt": None, "prompt_cache_options": None,
        "prompt_cache_key": body.get("prompt_cache_key"), "prompt_cache_retention": None,
        "reasoning": body.get("reasoning"), "safety_identifier": body.get("safety_identifier"),
        "service_tier": "auto", "status": status, "text": text, "top_logprobs": body.get("top_logprobs"),
        "truncation": "disabled", "usage": usage, "user": body.get("user"),
        "presence_penalty": float(body.get("presence_penalty") or 0.0),
        "frequency_penalty": float(body.get("frequency_penalty") or 0.0),
        "kv_transfer_params": None, "ec_transfer_params": None, "input_messages": None, "output_messages": None,
    }


def usage_object(job: Job) -> dict[str, Any]:
    out = job.outputs[0]
    generated = len(out.token_ids)
    return {"input_tokens": job.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0, "input_tokens_per_turn": [],
                                     "cached_tokens_per_turn": []},
            "output_tokens": generated,
            "output_tokens_details": {"reasoning_tokens": channels.parse(out).reasoning_tokens,
                                      "tool_output_tokens": 0, "output_tokens_per_turn": [],
                                      "tool_output_tokens_per_turn": []},
            "total_tokens": job.prompt_tokens + generated}


def prepare(engine: Engine, body: dict, store: ResponseStore,
            store_on: bool) -> tuple[Job, ChatPlan, list[dict]]:
    """Validate a create request and build its Job (no waiting yet)."""
    model = engine.config.resolve(body.get("model"))
    if body.get("prompt") is not None:
        raise bad_request("prompt template is not supported", "prompt")
    if body.get("background") is True:
        if not store_on:
            raise bad_request("This vLLM engine does not support `store=True` and therefore does not support the "
                              "background mode. To enable these features, set the environment variable "
                              "`VLLM_ENABLE_RESPONSES_API_STORE=1` when launching the vLLM server.", "background")
        raise bad_request("background mode is not simulated by the mock; send the request without it",
                          "background")
    history: list[dict] = []
    prev = body.get("previous_response_id")
    if prev is not None:
        found = store.get(prev) if store_on and isinstance(prev, str) else None
        if found is None:
            raise not_found(str(prev), "previous_response_id")
        stored, history = found
        history = history + [{"role": "assistant", "content": "".join(
            p.get("text", "") for item in stored["output"] if item["type"] == "message" for p in item["content"])}]
    messages = history + input_messages(body)
    replay = json.loads(json.dumps(messages, default=str))  # what a later previous_response_id sees
    if isinstance(body.get("instructions"), str):
        messages = [{"role": "system", "content": body["instructions"]}, *messages]
    cfg = tool_config(body, engine.agent.tools_enabled)
    constraint = None if cfg.choice in ("required", "named") else text_constraint(body)
    include = body.get("include_reasoning", True) is not False
    plan = ChatPlan(tools.normalize_messages(messages), cfg, constraint, include, engine.agent.reasoning_parser
                    is not None)
    if constraint is not None:
        plan.deferred = structured.compile_error(constraint)
    sampling = {k: body[k] for k in ("temperature", "top_p", "seed", "stop") if body.get(k) is not None}
    job = engine.prepare_plan("responses", model, plan, sampling, stream=body.get("stream") is True,
                              rid=rid("resp"), max_tokens=body.get("max_output_tokens"))
    if job.deferred is not None:
        raise job.deferred
    return job, plan, replay
