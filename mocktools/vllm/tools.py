"""Tool calling as vLLM 0.33 does it: request validation, the server gate, next-turn messages,
and the deterministic choice of which tools a default reply calls.

The mock's "model" writes hermes markup (``<tool_call>{"name": .., "arguments": ..}</tool_call>``)
and its "parser" extracts it, so token counts include the markup exactly as they would on a
hermes model, and ``tool_choice: "none"`` leaves the markup in ``content`` as vLLM's legacy
parsers do.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..errors import ApiError
from .protocol import bad_request

#: vLLM's --tool-call-parser names; the mock emulates all of them with hermes markup.
TOOL_PARSERS = ("hermes", "llama3_json", "llama4_json", "mistral", "qwen3_coder", "qwen3_xml", "pythonic",
                "granite", "internlm", "jamba", "deepseek_v3", "deepseek_v31", "kimi_k2", "glm45", "glm47",
                "minimax_m2", "openai", "xlam", "phi4_mini_json", "hunyuan_a13b", "longcat", "mimo")
CORRECT_USAGE = 'Correct usage: {"type": "function", "function": {"name": "my_function"}}'


def validation_error(message: str, param: str) -> ApiError:
    """A VLLMValidationError: the message ends with ``(parameter=...)``."""
    return bad_request(f"{message} (parameter={param})", param)


def schema_error(message: str, loc: str) -> ApiError:
    """A pydantic body-validation failure, as vLLM's handler shapes it."""
    return ApiError(400, f"1 validation error:\n  {{'type': 'value_error', 'loc': {('body', *loc.split('.'))!r}, "
                         f"'msg': {message!r}}}", type="Bad Request", param="body." + loc)


@dataclass
class ToolSpec:
    name: str
    description: str | None = None
    parameters: dict | None = None

    def schema(self) -> dict:
        return self.parameters if isinstance(self.parameters, dict) else {"type": "object", "properties": {}}

    def as_chat_tool(self) -> dict[str, Any]:
        fn: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            fn["description"] = self.description
        if self.parameters is not None:
            fn["parameters"] = self.parameters
        return {"type": "function", "function": fn}


@dataclass
class ToolConfig:
    """The validated tool side of one request."""

    tools: list[ToolSpec] = field(default_factory=list)
    choice: str = "none"  # none | auto | required | named
    named: str | None = None
    parallel: bool = True
    extract: bool = False  # a parser turns markup into tool_calls

    def find(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)

    def describe(self) -> dict[str, Any]:
        return {"tools": [t.name for t in self.tools], "tool_choice": self.named if self.choice == "named"
                else self.choice, "parallel_tool_calls": self.parallel}


def parse_chat_tools(body: dict, parser_enabled: bool) -> ToolConfig:
    """``tools`` / ``tool_choice`` / ``parallel_tool_calls`` of a chat request, with vLLM's 400s."""
    raw_tools = body.get("tools")
    choice_raw = body.get("tool_choice", "__absent__")
    if raw_tools is not None and not isinstance(raw_tools, list):
        raise schema_error("Input should be a valid list", "tools")
    if raw_tools == []:
        raise validation_error("`tools` must not be an empty array. Either provide at least one tool or omit "
                               "the field entirely.", "tools")
    tools = [_chat_tool(t, i) for i, t in enumerate(raw_tools or [])]
    parallel = body.get("parallel_tool_calls", True)
    if parallel is not None and not isinstance(parallel, bool):
        raise schema_error("Input should be a valid boolean", "parallel_tool_calls")
    if not tools:
        if choice_raw not in ("__absent__", None, "none"):
            raise validation_error("When using `tool_choice`, `tools` must be set.", "tool_choice")
        return ToolConfig(parallel=parallel is not False)
    if choice_raw == "__absent__":
        choice_raw = "auto"
    cfg = ToolConfig(tools, parallel=parallel is not False)
    if choice_raw is None:
        cfg.choice = "none"  # explicit null: tools rendered, never extracted
        return cfg
    if isinstance(choice_raw, str):
        if choice_raw not in ("none", "auto", "required"):
            raise schema_error("Input should be 'none', 'auto', 'required' or a named tool choice",
                               "tool_choice")
        cfg.choice = choice_raw
    elif isinstance(choice_raw, dict):
        fn = choice_raw.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise validation_error(f"Invalid `tool_choice`: {json.dumps(choice_raw)}. {CORRECT_USAGE}",
                                   "tool_choice")
        if cfg.find(fn["name"]) is None:
            raise validation_error("The tool specified in `tool_choice` does not match any of the specified "
                                   "`tools`", "tool_choice")
        cfg.choice, cfg.named = "named", fn["name"]
    else:
        raise schema_error("Input should be a valid string or object", "tool_choice")
    if not parser_enabled:
        if cfg.choice == "auto":
            raise bad_request('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser '
                              "to be set")
        if cfg.choice == "required":
            raise bad_request('tool_choice="required" requires --tool-call-parser to be set')
        if cfg.choice == "named":
            raise bad_request(f'tool_choice=function "{cfg.named}" requires --tool-call-parser to be set')
    cfg.extract = parser_enabled and cfg.choice != "none"
    return cfg


def _chat_tool(tool: Any, i: int) -> ToolSpec:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        raise schema_error("Input should be a function tool {'type': 'function', 'function': {...}}",
                           f"tools.{i}")
    fn = tool.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise schema_error("Field required: function.name", f"tools.{i}.function")
    return spec_from(fn, f"tools.{i}.function")


def spec_from(fn: dict, loc: str) -> ToolSpec:
    params = fn.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise schema_error("Input should be a valid dictionary", loc + ".parameters")
    desc = fn.get("description")
    return ToolSpec(fn["name"], desc if isinstance(desc, str) else None, params)


def normalize_messages(messages: list[dict]) -> list[dict]:
    """Next-turn messages as vLLM accepts them: assistant ``tool_calls`` (arguments string or object,
    bad JSON coerced to ``{}``), ``tool`` results (string or text parts); non-function calls → 400."""
    out = []
    for i, msg in enumerate(messages):
        msg = dict(msg)
        calls = msg.get("tool_calls")
        if calls == []:
            msg.pop("tool_calls")
        elif calls is not None:
            if not isinstance(calls, list):
                raise schema_error("Input should be a valid list", f"messages.{i}.tool_calls")
            fixed = []
            for j, call in enumerate(calls):
                if not isinstance(call, dict) or call.get("type", "function") != "function" \
                        or not isinstance(call.get("function"), dict):
                    raise bad_request(f"messages[{i}].tool_calls[{j}]: only tool calls of type 'function' "
                                      "are supported", "messages")
                fn = call["function"]
                args = fn.get("arguments")
                if isinstance(args, str):
                    try:
                        args = json.loads(args)
                    except ValueError:
                        args = {}
                fixed.append({**call, "function": {"name": str(fn.get("name", "")),
                                                   "arguments": args if isinstance(args, dict) else {}}})
            msg["tool_calls"] = fixed
        if "reasoning_content" in msg and "reasoning" not in msg:
            msg["reasoning"] = msg.pop("reasoning_content")
        out.append(msg)
    return out


def call_markup(name: str, arguments: str) -> tuple[str, str, str]:
    """(head, arguments, tail) of one hermes tool call."""
    return f'<tool_call>\n{{"name": {json.dumps(name, ensure_ascii=False)}, "arguments": ', arguments, "}\n</tool_call>"


def template_messages(messages: list[dict], tools: list[ToolSpec]) -> list[dict]:
    """What the chat template sees: tool definitions as a system block, calls as hermes markup."""
    rendered = []
    if tools:
        defs = json.dumps([t.as_chat_tool() for t in tools], ensure_ascii=False)
        rendered.append({"role": "system", "content": f"# Tools\n<tools>\n{defs}\n</tools>"})
    for msg in messages:
        calls = msg.get("tool_calls") or []
        if calls:
            from .tokenizer import message_text
            parts = [message_text(msg.get("content"))] if msg.get("content") else []
            for call in calls:
                fn = call.get("function", {})
                head, args, tail = call_markup(str(fn.get("name", "")),
                                               json.dumps(fn.get("arguments", {}), ensure_ascii=False))
                parts.append(head + args + tail)
            msg = {**msg, "content": "\n".join(parts)}
        rendered.append(msg)
    return rendered


def new_call_id() -> str:
    return f"chatcmpl-tool-{uuid.uuid4().int & (2 ** 64 - 1):016x}"


def called_names(messages: list[dict]) -> list[str]:
    names = []
    for msg in messages:
        for call in msg.get("tool_calls") or []:
            names.append(str(call.get("function", {}).get("name", "")))
    return names


def choose_calls(cfg: ToolConfig, messages: list[dict], rng: random.Random) -> list[str]:
    """Names of the tools a default reply calls (empty: answer in text).

    named → that tool. After a ``tool`` result, ``auto`` answers in text (so an agent loop ends) and
    ``required`` calls the first tool not called yet. Otherwise every tool the last user message
    names (``get_weather`` or "get weather"), or one tool picked by the seed; one only when
    ``parallel_tool_calls`` is false.
    """
    if cfg.choice == "named" and cfg.named:
        return [cfg.named]
    if not cfg.extract or not cfg.tools:
        return []
    after_tool = bool(messages) and messages[-1].get("role") == "tool"
    if after_tool:
        if cfg.choice != "required":
            return []
        done = set(called_names(messages))
        fresh = [t.name for t in cfg.tools if t.name not in done]
        return [(fresh or [cfg.tools[0].name])[0]]
    from .tokenizer import message_text
    user = next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    low = user.lower()
    picks = [t.name for t in cfg.tools if t.name.lower() in low or t.name.lower().replace("_", " ") in low]
    if not picks:
        picks = [rng.choice(cfg.tools).name]
    return picks[:1] if not cfg.parallel else picks
