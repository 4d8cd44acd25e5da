"""Agent-era scripting controls: turns (text, tool calls, JSON, functions) queued per turn, in
Python and under ``/_mock/vllm/`` (kept apart from controls.py, which holds the basic ones)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..control_schema import BOOLEAN, STRING, ControlRoute, array, nullable, obj
from ..faults import ControlValueError
from .turns import turn_from_dict

if TYPE_CHECKING:
    from .engine import Engine


class ScriptControls:
    """Mixed into MockVLLMServer."""

    engine: Engine
    responses_store: bool

    def enqueue_turns(self, turns: Sequence[Any]) -> None:
        """Queue assistant turns, one per request, for an agent loop.

        Each is a string (text), ``Turn(...)``, ``tool_call(name, **arguments)`` (arguments omitted:
        generated from the tool's schema), a list of tool calls (parallel), ``json_reply(value)``, or a
        function of the GenerationRequest returning one of these (None: fall through to the default).
        """
        self.engine.script.enqueue_replies(turns)

    def set_responses_store(self, enabled: bool = True) -> None:
        """Store Responses API results (vLLM's ``VLLM_ENABLE_RESPONSES_API_STORE=1``)."""
        self.responses_store = bool(enabled)


_CALL = obj(["name"], name={"type": "string", "minLength": 1, "maxLength": 1000},
            arguments={"anyOf": [{"type": "object"}, STRING]}, id={"type": "string", "minLength": 1,
                                                                  "maxLength": 1000})
_TURN = {"anyOf": [STRING, obj(text=nullable(STRING), json={}, reasoning=nullable(STRING),
                               tool_calls=array(_CALL, max_items=128))]}


def script_controls(mock: Any) -> list[ControlRoute]:
    """``POST /_mock/vllm/turns`` and ``/_mock/vllm/responses-store``, declared with their schemas."""
    def turns(turns: list[Any]) -> dict[str, Any]:
        try:
            parsed = [turn_from_dict(t, f"turns[{i}]") for i, t in enumerate(turns)]
        except (TypeError, ValueError) as exc:
            raise ControlValueError("turns", str(exc)) from None
        mock.enqueue_turns(parsed)
        return {"ok": True, "queued": len(parsed)}

    return [
        ControlRoute("/_mock/vllm/turns", "POST", turns, obj(["turns"], turns=array(_TURN, min_items=1)),
                     summary="Queue assistant turns (text, json, reasoning, tool_calls), one per request",
                     tag="vllm"),
        ControlRoute("/_mock/vllm/responses-store", "POST", mock.set_responses_store,
                     obj(["enabled"], enabled=BOOLEAN),
                     summary="Store Responses API results (VLLM_ENABLE_RESPONSES_API_STORE=1)", tag="vllm"),
    ]
