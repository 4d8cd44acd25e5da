"""Routes of the agent-era APIs: ``/v1/responses`` (+ GET / cancel) and ``/v1/messages`` (+ count_tokens)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from ..errors import ApiError
from ..routing import Router
from . import anthropic_api, responses_api
from .responses_events import stream_events
from .stream_codec import AnthropicCodec, ResponsesCodec
from .wire import _json_body, sse_response

if TYPE_CHECKING:
    from .mock import MockVLLMServer


def register_agentic_routes(mock: MockVLLMServer, router: Router) -> None:

    def create_response(request: Request) -> Any:
        body = _json_body(request)
        eng = mock.engine
        job, plan, replay = responses_api.prepare(eng, body, eng.responses, mock.responses_store)
        request.environ["mocktools.meta"] = job.meta
        ids = responses_api.item_ids(job.outputs[0])
        store = mock.responses_store and body.get("store", True) is not False
        if not job.stream:
            def render() -> dict[str, Any]:
                out = job.outputs[0]
                items = responses_api.output_items(out, ids, plan.include_reasoning, plan.tools.parallel)
                status = "incomplete" if out.finish_reason == "length" else "completed"
                return responses_api.response_object(job, body, plan, status, items,
                                                     responses_api.usage_object(job))

            def stored_after(resp: Any) -> None:
                if store:
                    eng.responses.put(resp, replay)
            return eng.answer(job, request.environ, render, stored_after)

        def events() -> Iterator[tuple[int, dict[str, Any]]]:
            for step, event in stream_events(job, body, plan, ids):
                if store and event["type"] in ("response.completed", "response.incomplete"):
                    eng.responses.put(event["response"], replay)
                yield step, event
        return sse_response(request, lambda alive, truncate: eng.stream(job, alive, chunks=events(),
                                                                        codec=ResponsesCodec(), truncate=truncate))

    def stored(response_id: str) -> dict[str, Any]:
        found = mock.engine.responses.get(response_id) if mock.responses_store else None
        if found is None:
            raise responses_api.not_found(response_id)
        return found[0]

    def get_response(request: Request, response_id: str) -> Any:
        resp = stored(response_id)
        if request.args.get("stream") == "true":
            raise ApiError(400, "Cannot stream a synchronous response: only background responses can be "
                                "replayed.", type="invalid_request_error", param="stream")
        return resp

    def cancel_response(request: Request, response_id: str) -> Any:
        stored(response_id)
        raise ApiError(400, "Cannot cancel a synchronous response.", type="invalid_request_error", param=None)

    def messages(request: Request) -> Any:
        eng = mock.engine
        body = anthropic_api.read_body(request)
        job, plan = anthropic_api.prepare(eng, body)
        request.environ["mocktools.meta"] = job.meta
        if not job.stream:
            return eng.answer(job, request.environ, lambda: anthropic_api.message_object(job, plan))
        chunks = anthropic_api.stream_events(job, plan)
        return sse_response(request, lambda alive, truncate: eng.stream(job, alive, chunks=chunks,
                                                                        codec=AnthropicCodec(), truncate=truncate))

    def count_tokens(request: Request) -> Any:
        body = anthropic_api.read_body(request, count_only=True)
        return anthropic_api.count_tokens(mock.engine, body)

    guard, aguard = mock._guard, anthropic_api.guarded(mock)
    router.add("/v1/responses", guard(create_response), methods=["POST"])
    router.add("/v1/responses/<response_id>", guard(get_response))
    router.add("/v1/responses/<response_id>/cancel", guard(cancel_response), methods=["POST"])
    router.add("/v1/messages", aguard(messages), methods=["POST"])
    router.add("/v1/messages/count_tokens", aguard(count_tokens), methods=["POST"], inline=True)
