"""vLLM's domain controls under /_mock/vllm/, declared on the engine, so another process can script
the mock (scripted replies, timing, scheduler size, mid-stream faults, health)."""
from __future__ import annotations

from typing import Any

from ..control_schema import BOOLEAN, STRING, ControlRoute, array, enum, integer, nullable, number, obj
from ..journal import Journal
from .engine import STREAM_FAULTS, Engine

#: the most sequences a scheduler may run at once (vLLM's own default is 256)
MAX_NUM_SEQS = 65_536


def vllm_controls(engine: Engine, journal: Journal) -> list[ControlRoute]:
    """The engine's controls; `journal` gives the prompts received (`GET /_mock/vllm/requests`)."""
    def set_healthy(healthy: bool = True) -> None:
        engine.healthy = healthy

    def set_max_num_seqs(n: int) -> None:
        engine.scheduler.set_max_num_seqs(n)

    def requests() -> dict[str, Any]:
        return {"requests": [c.meta for c in journal.calls() if c.meta]}

    seconds = nullable(number(title="a number of seconds from 0 to 3600", description="seconds on the mock's clock"))
    return [
        ControlRoute("/_mock/vllm/reply", "POST", engine.script.set_reply, obj(["text"], text=nullable(STRING)),
                     summary="Answer every request with `text` (null: back to generated text)", tag="vllm"),
        ControlRoute("/_mock/vllm/replies", "POST", engine.script.enqueue_replies,
                     obj(["texts"], texts=array(STRING)),
                     summary="Answer the next requests with these texts, one each, then fall back", tag="vllm"),
        ControlRoute("/_mock/vllm/reply-table", "POST", engine.script.set_reply_table,
                     obj(["table"], table=nullable({"type": "object", "additionalProperties": STRING,
                                                    "maxProperties": 10_000})),
                     summary="Replies keyed by prompt (completion prompt, last user message or rendered chat)",
                     tag="vllm"),
        ControlRoute("/_mock/vllm/timing", "POST", engine.set_timing, obj(ttft=seconds, itl=seconds),
                     summary="Time to first token and inter-token latency (null: unchanged)", tag="vllm"),
        ControlRoute("/_mock/vllm/max-num-seqs", "POST", set_max_num_seqs,
                     obj(["n"], n=integer(1, MAX_NUM_SEQS)),
                     summary="How many sequences run at once; the rest wait", tag="vllm"),
        ControlRoute("/_mock/vllm/stream-fault", "POST", engine.set_stream_fault,
                     obj(["kind"], kind=enum(*STREAM_FAULTS), after_chunks=integer(), count=nullable(integer(1)),
                         message=STRING, status=integer(400, 599), stall_seconds=seconds),
                     summary="A mid-stream fault after `after_chunks` data events, for the next `count` streams",
                     tag="vllm"),
        ControlRoute("/_mock/vllm/stream-fault/clear", "POST", engine.clear_stream_faults,
                     summary="Clear stream faults and release stalled streams", tag="vllm"),
        ControlRoute("/_mock/vllm/release-stalls", "POST", engine.release_stalls,
                     summary="Let every stalled stream continue", tag="vllm"),
        ControlRoute("/_mock/vllm/health", "POST", set_healthy, obj(healthy=BOOLEAN),
                     summary="An unhealthy engine answers /health and /ping with 503", tag="vllm"),
        ControlRoute("/_mock/vllm/requests", "GET", requests,
                     summary="Prompt and parameters of every generation request the journal holds", tag="vllm"),
    ]


__all__ = ["MAX_NUM_SEQS", "vllm_controls"]
