"""Agent-era scripting controls: turns (text, tool calls, JSON, functions) queued per turn, in
Python and under ``/_mock/vllm/`` (kept apart from controls.py, which holds the basic ones)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from ..errors import ApiError
from ..routing import Router, read_json_object
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


def register_script_admin(mock: Any, router: Router) -> None:
    def turns(request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        if set(body) != {"turns"} or not isinstance(body["turns"], list) or not body["turns"]:
            raise ApiError(400, 'body must be {"turns": [turn, ...]} with at least one turn', type="bad_request",
                           field="turns")
        try:
            parsed = [turn_from_dict(t, f"turns[{i}]") for i, t in enumerate(body["turns"])]
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), type="bad_request", field="turns") from None
        mock.enqueue_turns(parsed)
        return {"ok": True, "queued": len(parsed)}

    def store(request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        if set(body) != {"enabled"} or not isinstance(body["enabled"], bool):
            raise ApiError(400, 'body must be {"enabled": true|false}', type="bad_request", field="enabled")
        mock.set_responses_store(body["enabled"])
        return {"ok": True}

    router.add("/_mock/vllm/turns", turns, methods=["POST"])
    router.add("/_mock/vllm/responses-store", store, methods=["POST"])
