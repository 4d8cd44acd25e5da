"""The simulated inference engine: validation -> generation -> admission -> timed output -> metrics.

Socket-free: the wire layer hands it parsed JSON and a ``wait(seconds) -> stopped`` function, and
gets back a response body or an iterator of SSE bytes. Unit tests drive it directly.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from typing import Generator as _Gen

from ..clock import Clock, SystemClock
from ..errors import ApiError
from . import protocol, responses
from .embeddings import embed, encode_base64
from .generation import ChoiceOutput, GenerationRequest, Generator, ReplyScript, SamplingParams
from .metrics import Metrics, RequestStats
from .scheduler import Scheduler, SchedulerStopped
from .tokenizer import Tokenizer

STREAM_FAULTS = ("error", "truncate", "stall", "no_done")
TRUNCATE = object()  # yielded by a stream: the wire layer must drop the connection now


def sse(obj: Any) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


@dataclass
class StreamFault:
    """A mid-stream fault: ``kind`` after ``after_chunks`` data events, for ``count`` streams (None: all)."""

    kind: str
    after_chunks: int = 0
    count: int | None = None
    message: str = "injected mid-stream error"
    status: int = 500
    stall_seconds: float | None = None


@dataclass
class Job:
    """One validated generation request with its precomputed choices."""

    kind: str
    model: str
    prompt_tokens: int
    params: SamplingParams
    outputs: list[ChoiceOutput]
    stream: bool = False
    include_usage: bool = False
    continuous_usage: bool = False
    echo_texts: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    rid: str = ""
    created: int = 0


class Engine:
    """Thread-safe domain core of MockVLLMServer."""

    def __init__(self, config: protocol.ModelConfig, *, clock: Clock | None = None, seed: int | None = None,
                 max_num_seqs: int = 256, ttft: float = 0.0, itl: float = 0.0,
                 wait: Callable[[float], bool] | None = None, stop: threading.Event | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.seed = 0 if seed is None else seed
        self.tokenizer = Tokenizer()
        self.generator = Generator(self.tokenizer, self.seed)
        self.script = ReplyScript()
        self.scheduler = Scheduler(max_num_seqs, kv_capacity_tokens=max_num_seqs * config.max_model_len)
        self.metrics = Metrics(config.name, config.max_model_len, created=self.clock.time())
        self.ttft, self.itl = ttft, itl
        self._initial = (ttft, itl, max_num_seqs)
        self.stop_event = stop or threading.Event()
        self._wait = wait or self._default_wait
        self._lock = threading.Lock()
        self._faults: list[StreamFault] = []
        self._release = threading.Event()
        self.healthy = True
        self.in_flight = 0

    def _default_wait(self, seconds: float) -> bool:
        if seconds > 0:
            self.clock.sleep(seconds)
        return self.stop_event.is_set()

    # -- controls ----------------------------------------------------------------------------
    def set_timing(self, ttft: float | None = None, itl: float | None = None) -> None:
        for name, value in (("ttft", ttft), ("itl", itl)):
            if value is not None:
                if value < 0:
                    raise ValueError(f"{name} must be >= 0")
                setattr(self, name, float(value))

    def set_stream_fault(self, kind: str, after_chunks: int = 0, count: int | None = None, *,
                         message: str = "injected mid-stream error", status: int = 500,
                         stall_seconds: float | None = None) -> None:
        if kind not in STREAM_FAULTS:
            raise ValueError(f"stream fault kind must be one of {STREAM_FAULTS}, got {kind!r}")
        if after_chunks < 0 or (count is not None and count < 1):
            raise ValueError("after_chunks must be >= 0 and count >= 1")
        with self._lock:
            self._faults = [StreamFault(kind, after_chunks, count, message, status, stall_seconds)]
            self._release.clear()

    def clear_stream_faults(self) -> None:
        with self._lock:
            self._faults.clear()
        self.release_stalls()

    def release_stalls(self) -> None:
        """Let every stalled stream continue."""
        self._release.set()

    def _take_fault(self) -> StreamFault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.pop(0)
            return dataclasses.replace(fault)

    def describe(self) -> dict[str, Any]:
        running, waiting = self.scheduler.counts()
        with self._lock:
            faults = [dataclasses.asdict(f) for f in self._faults]
        return {"served_model_names": self.config.served_model_names, "max_model_len": self.config.max_model_len,
                "max_num_seqs": self.scheduler.max_num_seqs, "ttft": self.ttft, "itl": self.itl,
                "running": running, "waiting": waiting, "healthy": self.healthy, "stream_faults": faults,
                "replies": self.script.describe(), "metrics": self.metrics.snapshot()}

    def reset(self) -> None:
        """Back to the constructor's settings: no script, no faults, zero metrics."""
        self.ttft, self.itl, max_num_seqs = self._initial
        self.scheduler.set_max_num_seqs(max_num_seqs)
        self.script.clear()
        self.clear_stream_faults()
        self.metrics.reset()
        self.scheduler.reset()
        self.healthy = True

    # -- requests ----------------------------------------------------------------------------
    def prepare(self, kind: str, body: dict) -> Job:
        """Validate a chat or completion body and generate its choices (no waiting yet)."""
        cfg, tok = self.config, self.tokenizer
        model = cfg.resolve(body.get("model"))
        stream, include_usage, continuous = protocol.stream_settings(body)
        messages = None
        if kind == "chat":
            messages = protocol.chat_messages(body)
            add_gen = protocol.get_bool(body, "add_generation_prompt", True)
            text = tok.apply_chat_template(messages, add_generation_prompt=add_gen)
            prompts = [(text, tok.encode(text))]
        else:
            if body.get("suffix") is not None:
                raise protocol.bad_request("suffix is not currently supported", "suffix")
            prompts = protocol.completion_prompts(body, tok)
        longest = max(len(ids) for _, ids in prompts)
        params = protocol.sampling_params(body, kind, longest, cfg.max_model_len, tok)
        echo = kind == "completion" and protocol.get_bool(body, "echo", False)
        outputs, echo_texts = [], []
        for p_index, (text, ids) in enumerate(prompts):
            reply: str | None = None
            for i in range(params.n):
                req = GenerationRequest(kind, model, text, ids, params, messages, body, p_index * params.n + i)
                if i == 0:
                    reply = self.script.next_reply(req)
                outputs.append(self.generator.generate(req, reply))
                echo_texts.append(text if echo else "")
        meta = {"kind": kind, "model": model, "prompt": prompts[0][0] if len(prompts) == 1
                else [p for p, _ in prompts], "messages": messages, "stream": stream,
                "params": dataclasses.asdict(params)}
        prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
        return Job(kind, model, sum(len(ids) for _, ids in prompts), params, outputs, stream, include_usage,
                   continuous, echo_texts, meta, prefix + uuid.uuid4().hex, int(self.clock.time()))

    def _admit(self, job: Job) -> tuple[Any, float]:
        arrival = self.clock.monotonic()
        with self._lock:
            self.in_flight += 1
        try:
            ticket = self.scheduler.acquire(len(job.outputs), job.prompt_tokens, self.stop_event)
        except SchedulerStopped:
            with self._lock:
                self.in_flight -= 1
            raise
        return ticket, arrival

    def _finish(self, job: Job, ticket: Any, arrival: float, admitted: float, first: float | None,
                itls: list[float], reason: str | None) -> None:
        self.scheduler.release(ticket)
        with self._lock:
            self.in_flight -= 1
        end = self.clock.monotonic()
        first = end if first is None else first
        self.metrics.observe(RequestStats(
            prompt_tokens=job.prompt_tokens, generation_tokens=sum(len(o.token_ids) for o in job.outputs),
            finished_reason=reason or job.outputs[0].finish_reason, n=job.params.n,
            max_tokens=job.params.max_tokens, queue_time=admitted - arrival, ttft=first - arrival, itls=itls,
            e2e=end - arrival, prefill_time=first - admitted, decode_time=end - first))

    def run(self, job: Job) -> dict[str, Any]:
        """Answer a non-streaming request after the simulated generation time."""
        try:
            ticket, arrival = self._admit(job)
        except SchedulerStopped:
            raise ApiError(503, "The server is shutting down.", type="ServiceUnavailableError") from None
        admitted = self.clock.monotonic()
        steps = max(len(o.token_ids) for o in job.outputs)
        self._wait(self.ttft)
        first = self.clock.monotonic()
        itls = []
        for _ in range(steps - 1):
            before = self.clock.monotonic()
            if self._wait(self.itl):
                break
            itls.append(self.clock.monotonic() - before)
        self._finish(job, ticket, arrival, admitted, first, itls, None)
        tok = self.tokenizer
        if job.kind == "chat":
            return responses.chat_completion(job.rid, job.created, job.model, job.outputs, job.prompt_tokens, tok)
        return responses.text_completion(job.rid, job.created, job.model, job.outputs, job.prompt_tokens, tok,
                                         job.echo_texts)

    def stream(self, job: Job, client_alive: Callable[[], bool] | None = None) -> Iterator[Any]:
        """SSE bytes for a streaming request; may yield TRUNCATE (drop the connection).

        ``client_alive`` lets a stall end (as an abort) once the client has hung up.
        """
        yield b""  # the wire layer sends status and headers at once, as uvicorn does
        fault = self._take_fault()
        try:
            ticket, arrival = self._admit(job)
        except SchedulerStopped:
            return
        admitted = self.clock.monotonic()
        first: float | None = None
        itls: list[float] = []
        reason: str | None = "abort"
        sent = 0
        last_step, last_time = 0, admitted
        finished = False

        def finish(why: str | None) -> None:
            # Metrics are settled before the last bytes go out, so a client that has just seen
            # the end of the stream (or an error event) reads metrics that already count it.
            nonlocal finished
            if not finished:
                finished = True
                self._finish(job, ticket, arrival, admitted, first, itls, why)

        try:
            chunks = responses.stream_chunks(
                job.kind, job.rid, job.created, job.model, job.outputs, job.prompt_tokens, self.tokenizer,
                include_usage=job.include_usage, continuous_usage=job.continuous_usage,
                echo_texts=job.echo_texts)
            for step, chunk in chunks:
                if fault is not None and sent == fault.after_chunks and fault.kind != "no_done":
                    if fault.kind == "error":
                        finish("error")
                    outcome = yield from self._apply_fault(fault, client_alive)
                    if outcome == "stop":
                        reason = "error" if fault.kind == "error" else "abort"
                        return
                    fault = None
                if step > last_step:
                    stopped = self._wait(self.ttft if first is None else self.itl * (step - last_step))
                    now = self.clock.monotonic()
                    if first is None:
                        first = now
                    else:
                        itls.append(now - last_time)
                    last_step, last_time = step, now
                    if stopped:
                        return
                yield sse(chunk)
                sent += 1
            if fault is not None and fault.kind in ("error", "truncate", "stall"):
                if fault.kind == "error":
                    finish("error")
                outcome = yield from self._apply_fault(fault, client_alive)
                if outcome == "stop":
                    reason = "error" if fault.kind == "error" else "abort"
                    return
            reason = None
            finish(None)
            if fault is None or fault.kind != "no_done":
                yield sse("[DONE]")
        finally:
            finish(reason)

    def _apply_fault(self, fault: StreamFault,
                     client_alive: Callable[[], bool] | None) -> _Gen[Any, None, str]:
        if fault.kind == "error":
            yield sse({"error": {"message": fault.message, "type": _error_type(fault.status), "param": None,
                                 "code": fault.status}})
            yield sse("[DONE]")
            return "stop"
        if fault.kind == "truncate":
            yield TRUNCATE
            return "stop"
        deadline = None if fault.stall_seconds is None else time.monotonic() + fault.stall_seconds
        while not self._release.is_set():
            if self.stop_event.is_set() or (client_alive is not None and not client_alive()):
                return "stop"
            remaining = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if remaining <= 0:
                break
            self.stop_event.wait(remaining)
        return "continue"

    def embeddings(self, body: dict) -> dict[str, Any]:
        model = self.config.resolve(body.get("model"))
        inputs = protocol.embedding_inputs(body, self.tokenizer)
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise protocol.bad_request(f"encoding_format must be 'float' or 'base64', got {fmt!r}",
                                       "encoding_format")
        dim = self.config.embedding_dim
        dims = protocol.get_int(body, "dimensions", None, minimum=1, maximum=dim)
        data = []
        for i, (key, _) in enumerate(inputs):
            vec = embed(key, dim, self.seed)
            if dims is not None and dims < dim:
                vec = _renormalize(vec[:dims])
            data.append({"index": i, "object": "embedding",
                         "embedding": encode_base64(vec) if fmt == "base64" else vec})
        tokens = sum(n for _, n in inputs)
        return {"id": "embd-" + uuid.uuid4().hex, "object": "list", "created": int(self.clock.time()),
                "model": model, "data": data, "usage": responses.usage(tokens, 0)}

    def metrics_text(self) -> str:
        running, waiting = self.scheduler.counts()
        return self.metrics.render(running, waiting, self.scheduler.kv_cache_usage())


def _renormalize(vec: list[float]) -> list[float]:
    from .embeddings import to_float32

    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return to_float32([v / norm for v in vec])


_TYPES = {400: "BadRequestError", 401: "Unauthorized", 404: "NotFoundError", 422: "UnprocessableEntityError",
          429: "RateLimitError", 500: "InternalServerError", 501: "NotImplementedError",
          503: "ServiceUnavailableError"}


def _error_type(status: int) -> str:
    return _TYPES.get(status, "BadRequestError" if status < 500 else "InternalServerError")
