"""vLLM-specific controls under /_mock/vllm/, so another process can script the mock."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from werkzeug.wrappers import Request

from ..errors import ApiError
from ..routing import Router, read_json_object

if TYPE_CHECKING:
    from .mock import MockVLLMServer


def _setter(fn: Callable[..., Any], allowed: tuple[str, ...]) -> Callable[[Request], Any]:
    def handler(request: Request) -> dict[str, Any]:
        body = read_json_object(request) if request.get_data(cache=True).strip() else {}
        unknown = set(body) - set(allowed)
        if unknown:
            raise ApiError(400, f"unknown fields: {sorted(unknown)}; allowed: {sorted(allowed)}",
                           type="bad_request")
        try:
            fn(**body)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), type="bad_request") from None
        return {"ok": True}
    return handler


def register_vllm_admin(mock: "MockVLLMServer", router: Router) -> None:
    add = router.add
    add("/_mock/vllm/reply", _setter(mock.set_reply, ("text",)), methods=["POST"])
    add("/_mock/vllm/replies", _setter(mock.enqueue_replies, ("texts",)), methods=["POST"])
    add("/_mock/vllm/reply-table", _setter(mock.set_reply_table, ("table",)), methods=["POST"])
    add("/_mock/vllm/timing", _setter(mock.set_timing, ("ttft", "itl")), methods=["POST"])
    add("/_mock/vllm/max-num-seqs", _setter(mock.set_max_num_seqs, ("n",)), methods=["POST"])
    add("/_mock/vllm/stream-fault", _setter(mock.set_stream_fault, (
        "kind", "after_chunks", "count", "message", "status", "stall_seconds")), methods=["POST"])
    add("/_mock/vllm/stream-fault/clear", _setter(mock.clear_stream_faults, ()), methods=["POST"])
    add("/_mock/vllm/release-stalls", _setter(mock.release_stalls, ()), methods=["POST"])
    add("/_mock/vllm/health", _setter(mock.set_healthy, ("healthy",)), methods=["POST"])
    add("/_mock/vllm/requests", lambda request: {"requests": mock.received_requests})
