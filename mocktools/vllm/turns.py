"""What one assistant turn says: reasoning, text, tool calls. Scripts queue these per turn.

A scripted reply may be a plain string (text), a :class:`Turn`, a :class:`ToolCall` (one call),
a list of ToolCalls (parallel calls), :func:`json_reply` (JSON text) or a function of the request
returning any of these. Anything else is refused with :class:`UnservableReply`, never sent as its
Python repr.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class UnservableReply(TypeError):
    """A scripted reply (or reply function result) the mock cannot turn into a response."""


@dataclass(frozen=True)
class ToolCall:
    """One function call. ``arguments`` None: generated from the tool's JSON schema."""

    name: str
    arguments: Mapping[str, Any] | str | None = None
    id: str | None = None

    def arguments_json(self) -> str | None:
        if self.arguments is None:
            return None
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), ensure_ascii=False)


@dataclass(frozen=True)
class Turn:
    """One assistant turn; every part is optional."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = field(default_factory=tuple)
    reasoning: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))


def tool_call(name: str, arguments: Mapping[str, Any] | str | None = None, /, **kwargs: Any) -> ToolCall:
    """``tool_call("get_weather", city="Paris")`` or ``tool_call("f", {"x": 1})``; no arguments: generated."""
    if kwargs and arguments is not None:
        raise UnservableReply("give arguments as a mapping or as keywords, not both")
    return ToolCall(name, dict(kwargs) if kwargs else arguments)


def json_reply(value: Any) -> Turn:
    """A text turn whose content is ``value`` serialised as JSON."""
    return Turn(content=json.dumps(value, ensure_ascii=False))


def to_turn(value: Any, source: str = "scripted reply") -> Turn | None:
    """Coerce a scripted value to a Turn (None stays None: fall through)."""
    if value is None or isinstance(value, Turn):
        return value
    if isinstance(value, str):
        return Turn(content=value)
    if isinstance(value, ToolCall):
        return Turn(tool_calls=(value,))
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, ToolCall) for v in value):
        return Turn(tool_calls=tuple(value))
    raise UnservableReply(
        f"{source} returned {type(value).__name__} {_short(value)}: expected str, Turn, ToolCall, a list of "
        "ToolCall, json_reply(...) or None")


def turn_from_dict(spec: Any, where: str = "turn") -> Turn:
    """The JSON form used over HTTP: {"text"?, "reasoning"?, "json"?, "tool_calls"?: [{"name", "arguments"?}]}."""
    if isinstance(spec, str):
        return Turn(content=spec)
    if not isinstance(spec, dict):
        raise TypeError(f"{where} must be a string or an object")
    unknown = set(spec) - {"text", "reasoning", "json", "tool_calls"}
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}; allowed: json, reasoning, text, tool_calls")
    if "text" in spec and "json" in spec:
        raise ValueError(f"{where}: give 'text' or 'json', not both")
    for key in ("text", "reasoning"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise ValueError(f"{where}.{key} must be a string")
    content = json.dumps(spec["json"], ensure_ascii=False) if "json" in spec else spec.get("text")
    calls = []
    raw_calls = spec.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise TypeError(f"{where}.tool_calls must be a list")
    for i, call in enumerate(raw_calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
            raise ValueError(f"{where}.tool_calls[{i}] needs a non-empty string 'name'")
        args = call.get("arguments")
        if args is not None and not isinstance(args, (dict, str)):
            raise ValueError(f"{where}.tool_calls[{i}].arguments must be an object or a JSON string")
        calls.append(ToolCall(call["name"], args))
    if content is None and not calls and spec.get("reasoning") is None:
        raise ValueError(f"{where} is empty: give text, json, reasoning or tool_calls")
    return Turn(content=content, tool_calls=tuple(calls), reasoning=spec.get("reasoning"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
