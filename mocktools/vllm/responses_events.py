"""The Responses API event sequence (vLLM's SimpleStreamingEventProcessor), token by token.

Yields (step, event) pairs for Engine.stream; ResponsesCodec adds ``sequence_number`` and the
``event:`` line. Every item gets ``output_item.added`` … ``output_item.done`` with the same id, and
the terminal ``response.completed`` / ``response.incomplete`` repeats exactly those items.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import channels
from .chat_plan import ChatPlan
from .responses_api import output_items, response_object, usage_object

if TYPE_CHECKING:
    from .engine import Job

Event = tuple[int, dict[str, Any]]


def stream_events(job: Job, body: dict, plan: ChatPlan, ids: dict[str, Any]) -> Iterator[Event]:
    out = job.outputs[0]
    parallel = plan.tools.parallel
    final_items = output_items(out, ids, plan.include_reasoning, parallel)
    by_id = {item["id"]: item for item in final_items}
    start = response_object(job, body, plan, "in_progress", [], None)
    yield 0, {"type": "response.created", "response": start}
    yield 0, {"type": "response.in_progress", "response": start}
    ends = channels.header_ends(out)
    state: dict[str, Any] = {"kind": None, "index": -1, "id": None, "text": [], "k": None}

    def close(step: int) -> Iterator[Event]:
        kind, idx, item_id = state["kind"], state["index"], state["id"]
        text = "".join(state["text"])
        if kind == "message":
            base = {"output_index": idx, "item_id": item_id, "content_index": 0}
            yield step, {"type": "response.output_text.done", **base, "text": text, "logprobs": []}
            yield step, {"type": "response.content_part.done", **base,
                         "part": {"type": "output_text", "text": text, "annotations": [], "logprobs": None}}
        elif kind == "reasoning":
            base = {"item_id": item_id, "output_index": idx, "content_index": 0}
            yield step, {"type": "response.reasoning_text.done", **base, "text": text}
            yield step, {"type": "response.content_part.done", **base, "part": {"text": text, "type": "reasoning_text"}}
        elif kind == "function_call":
            name = out.calls[state["k"]][1]
            yield step, {"type": "response.function_call_arguments.done", "output_index": idx, "item_id": item_id,
                         "arguments": text, "name": name}
        if kind is not None:
            yield step, {"type": "response.output_item.done", "output_index": idx, "item": by_id[item_id]}
        state.update(kind=None, id=None, text=[], k=None)

    def open_item(step: int, kind: str, item_id: str, k: int | None = None) -> Iterator[Event]:
        yield from close(step)
        state.update(kind=kind, index=state["index"] + 1, id=item_id, text=[], k=k)
        idx = state["index"]
        if kind == "message":
            yield step, {"type": "response.output_item.added", "output_index": idx,
                         "item": {"id": item_id, "type": "message", "role": "assistant", "content": [],
                                  "status": "in_progress"}}
            yield step, {"type": "response.content_part.added", "output_index": idx, "item_id": item_id,
                         "content_index": 0,
                         "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}
        elif kind == "reasoning":
            yield step, {"type": "response.output_item.added", "output_index": idx,
                         "item": {"type": "reasoning", "id": item_id, "summary": [], "status": "in_progress"}}
            yield step, {"type": "response.content_part.added", "item_id": item_id, "output_index": idx,
                         "content_index": 0, "part": {"text": "", "type": "reasoning_text"}}
        else:
            cid, name = out.calls[k or 0]
            yield step, {"type": "response.output_item.added", "output_index": idx,
                         "item": {"type": "function_call", "id": item_id, "call_id": cid, "name": name,
                                  "arguments": "", "status": "in_progress", "namespace": None}}

    last = 0
    for i, piece in enumerate(out.pieces):
        step = last = i + 1
        lab = channels.label(out, i)
        if lab == "r" and plan.include_reasoning and piece:
            if state["kind"] != "reasoning":
                yield from open_item(step, "reasoning", ids["rs"])
            state["text"].append(piece)
            yield step, {"type": "response.reasoning_text.delta", "item_id": state["id"],
                         "output_index": state["index"], "content_index": 0, "delta": piece}
        elif lab == "c" and piece:
            if state["kind"] != "message":
                yield from open_item(step, "message", ids["msg"])
            state["text"].append(piece)
            yield step, {"type": "response.output_text.delta", "output_index": state["index"],
                         "item_id": state["id"], "content_index": 0, "delta": piece, "logprobs": []}
        elif isinstance(lab, tuple) and (parallel or lab[1] == 0):
            kind, k = lab
            if kind == "h" and ends.get(k) == i:
                yield from open_item(step, "function_call", ids["fc"][k], k)
            elif kind == "a" and piece and state["kind"] == "function_call":
                state["text"].append(piece)
                yield step, {"type": "response.function_call_arguments.delta", "output_index": state["index"],
                             "item_id": state["id"], "delta": piece}
    yield from close(last)
    status = "incomplete" if out.finish_reason == "length" else "completed"
    final = response_object(job, body, plan, status, final_items, usage_object(job))
    yield -1, {"type": f"response.{status}", "response": final}
