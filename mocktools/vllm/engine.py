"""The simulated inference engine: validation -> generation -> admission -> timed output -> metrics.

Socket-free: the wire layer hands it parsed JSON and a ``wait(seconds) -> stopped`` function, and
gets back a response body or an iterator of SSE bytes. Unit tests drive it directly.
"""
from __future__ import annotations

import dataclasses
import threading
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock, FakeClock, SystemClock
from ..errors import ApiError
from ..routing import JSONAnswer
from . import chat_plan, chat_render, protocol, responses, structured
from .chat_render import ChatStyle
from .engine_stream import TRUNCATE, StreamingMixin, on_event_loop  # noqa: F401  (TRUNCATE: re-exported)
from .generation import (
    ChoiceOutput,
    GenerationRequest,
    Generator,
    ReplyScript,
    SamplingParams,
)
from .metrics import Metrics, RequestStats
from .scheduler import Scheduler, SchedulerStopped
from .stream_codec import sse  # noqa: F401  (re-exported)
from .tokenizer import Tokenizer
from .tools import ToolConfig
from .turns import to_turn

STREAM_FAULTS = ("error", "truncate", "stall", "no_done")
MAX_TIMING_SECONDS = 3600.0  # ttft / itl beyond an hour are refused: they overflow waits and wedge slots
MAX_SEQUENCES_PER_REQUEST = 1024  # prompts x n of one request (vLLM has no bound; the mock keeps all in memory)


_ids = random.Random()  # seeded from os.urandom; ids need to be unique, not unguessable
os.register_at_fork(after_in_child=_ids.seed)


def random_uuid() -> str:
    """vLLM 0.33's random_uuid(): 16 lowercase hex characters (64 random bits, as uuid4's low half)."""
    return f"{_ids.getrandbits(64):016x}"


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
    style: ChatStyle = field(default_factory=ChatStyle)
    deferred: ApiError | None = None  # a constraint the "engine" cannot compile


class Engine(StreamingMixin):
    """Thread-safe domain core of MockVLLMServer."""

    def __init__(self, config: protocol.ModelConfig, *, clock: Clock | None = None, seed: int | None = None,
                 max_num_seqs: int = 256, ttft: float = 0.0, itl: float = 0.0,
                 wait: Callable[[float], bool] | None = None, stop: threading.Event | None = None,
                 agent: chat_plan.AgentConfig | None = None) -> None:
        self.config = config
        self.agent = agent or chat_plan.AgentConfig()
        import hashlib
        digest = hashlib.sha256(f"{config.root}|{config.name}|{config.max_model_len}".encode("utf-8", "replace"))
        self.fingerprint = f"vllm-0.33.0-{digest.hexdigest()[:8]}"
        self.clock = clock or SystemClock()
        self.seed = 0 if seed is None else seed
        self.tokenizer = Tokenizer()
        self.generator = Generator(self.tokenizer, self.seed)
        self.script = ReplyScript()
        self.scheduler = Scheduler(max_num_seqs, kv_capacity_tokens=max_num_seqs * config.max_model_len)
        self.metrics = Metrics(config.name, config.max_model_len, created=self.clock.time())
        self.ttft, self.itl = ttft, itl
        self.timing_changes = 0  # counted, so a stream's train already on its way sees a change
        self._initial = (ttft, itl, max_num_seqs)
        self.stop_event = stop or threading.Event()
        self._wait = wait or self._default_wait
        self._lock = threading.Lock()
        self._faults: list[StreamFault] = []
        self._release = threading.Event()
        self.healthy = True
        self.in_flight = 0
        from .responses_api import ResponseStore
        self.responses = ResponseStore()

    def _no_wait(self, seconds: float) -> bool:
        return self.stop_event.is_set()

    def _default_wait(self, seconds: float) -> bool:
        if seconds > 0:
            self.clock.sleep(seconds)
        return self.stop_event.is_set()

    # -- controls ----------------------------------------------------------------------------
    def set_timing(self, ttft: float | None = None, itl: float | None = None) -> None:
        for name, value in (("ttft", ttft), ("itl", itl)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not 0 <= value <= MAX_TIMING_SECONDS:
                    raise ValueError(f"{name} must be a number of seconds in [0, {MAX_TIMING_SECONDS:g}], "
                                     f"got {value!r}")
                setattr(self, name, float(value))
                self.timing_changes += 1

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

    def never_waits(self) -> bool:
        """Whether a generation request arriving now provably blocks no thread (so an engine may run
        it on its event loop): no simulated time on a clock of the user's (a real clock pauses on a
        pausable connection, the only kind an event loop serves: AsyncHTTPServer.inline is the
        only caller of this probe; a FakeClock never really sleeps), no reply function
        (user code), no stall fault, and a scheduler that admits a request now (nobody waiting, a
        free sequence: admission cannot wait)."""
        if (self.ttft > 0 or self.itl > 0) and not isinstance(self.clock, FakeClock) \
                and not (isinstance(self.clock, SystemClock) and self.pause_streams is not False):
            return False  # (on a real clock the waits are pauses: see answer() and stream())
        if self.script.calls_user_code() or self._faults and any(f.kind == "stall" for f in list(self._faults)):
            return False
        return self.scheduler.admits_at_once()

    def describe(self) -> dict[str, Any]:
        running, waiting = self.scheduler.counts()
        with self._lock:
            faults = [dataclasses.asdict(f) for f in self._faults]
        return {"served_model_names": self.config.served_model_names, "max_model_len": self.config.max_model_len,
                "max_num_seqs": self.scheduler.max_num_seqs, "ttft": self.ttft, "itl": self.itl,
                "running": running, "waiting": waiting, "healthy": self.healthy, "stream_faults": faults,
                "replies": self.script.describe(), "metrics": self.metrics.snapshot(),
                "agent": dataclasses.asdict(self.agent), "stored_responses": len(self.responses)}

    def reset(self) -> None:
        """Back to the constructor's settings: no script, no faults, zero metrics."""
        self.ttft, self.itl, max_num_seqs = self._initial
        self.timing_changes += 1
        self.scheduler.set_max_num_seqs(max_num_seqs)
        self.script.clear()
        self.clear_stream_faults()
        self.metrics.reset()
        self.scheduler.reset()
        self.responses.clear()
        self.healthy = True

    # -- requests ----------------------------------------------------------------------------
    def prepare(self, kind: str, body: dict, request_id: str | None = None) -> Job:
        """Validate a chat or completion body and generate its choices (no waiting yet).

        The id is ``chatcmpl-`` / ``cmpl-`` + the X-Request-Id header, else body ``request_id``, else random.
        """
        cfg, tok = self.config, self.tokenizer
        model = cfg.resolve(body.get("model"))
        stream, include_usage, continuous = protocol.stream_settings(body)
        messages = None
        plan: chat_plan.ChatPlan | None = None
        if kind == "chat":
            messages = protocol.chat_messages(body)
            plan = chat_plan.plan_chat(body, messages, self.agent)
            add_gen = protocol.get_bool(body, "add_generation_prompt", True)
            text = tok.apply_chat_template(plan.template, add_generation_prompt=add_gen)
            prompts = [(text, tok.encode(text))]
        else:
            if body.get("suffix") is not None:
                raise protocol.bad_request("suffix is not currently supported", "suffix")
            prompts = protocol.completion_prompts(body, tok)
        longest = max(len(ids) for _, ids in prompts)
        params = protocol.sampling_params(body, kind, longest, cfg.max_model_len, tok)
        if len(prompts) * params.n > MAX_SEQUENCES_PER_REQUEST:
            raise protocol.bad_request(f"a request may ask for at most {MAX_SEQUENCES_PER_REQUEST} sequences "
                                       f"(prompts x n), got {len(prompts) * params.n}", "prompt")
        echo = kind == "completion" and protocol.get_bool(body, "echo", False)
        outputs: list[ChoiceOutput] = []
        echo_texts: list[str] = []
        deferred = plan.deferred if plan is not None else None
        constraint = None
        if plan is None:  # completions take structured outputs too (no tools)
            constraint = structured.parse_chat(body, ToolConfig())
            deferred = structured.compile_error(constraint) if constraint is not None else None
        for p_index, (text, ids) in enumerate(prompts):
            def make(i: int, text: str = text, ids: list[int] = ids, p_index: int = p_index) -> GenerationRequest:
                return GenerationRequest(kind, model, text, ids, params, plan.messages if plan else messages,
                                         body, p_index * params.n + i)
            first = make(0)
            if deferred is not None:
                break
            reply = to_turn(self.script.next_reply(first))
            if plan is not None:
                try:
                    outputs.extend(chat_plan.choices(plan, first, params.n, self.generator, reply, make))
                except ApiError as exc:  # a schema no generated value satisfies: the engine refuses it
                    deferred = exc
                    break
                continue
            for i in range(params.n):
                if reply is not None and reply.tool_calls:
                    raise TypeError("a completion request cannot be answered with tool calls")
                req = first if i == 0 else make(i)
                text_reply = None if reply is None else (reply.content or "")
                if text_reply is None and constraint is not None:
                    try:
                        text_reply = structured.generate(constraint, self.generator.rng("structured", req))
                    except ApiError as exc:
                        deferred = exc
                        break
                outputs.append(self.generator.generate(req, text_reply))
                echo_texts.append(text if echo else "")
            if deferred is not None:
                break
        meta = {"kind": kind, "model": model, "prompt": prompts[0][0] if len(prompts) == 1
                else [p for p, _ in prompts], "messages": messages, "stream": stream,
                "params": params.as_dict()}
        if constraint is not None:
            meta["format"] = constraint.describe()
        if plan is not None:
            meta.update(plan.describe())
            style = ChatStyle(named_tool=plan.tools.choice == "named",
                              forced_tool=plan.tools.choice in ("named", "required"), parallel=plan.tools.parallel,
                              reasoning_parser=plan.reasoning, include_reasoning=plan.include_reasoning,
                              fingerprint=self.fingerprint)
        else:
            style = ChatStyle(fingerprint=self.fingerprint)
        prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
        return Job(kind, model, sum(len(ids) for _, ids in prompts), params, outputs, stream, include_usage,
                   continuous, echo_texts, meta, prefix + (request_id or _request_id(body)), int(self.clock.time()),
                   style,
                   deferred)

    def prepare_plan(self, kind: str, model: str, plan: chat_plan.ChatPlan, sampling_body: dict, *,
                     stream: bool, rid: str, max_tokens: int | None = None) -> Job:
        """A one-choice Job for the Responses and Messages APIs: their own wire format, this engine.

        ``max_tokens`` is clamped to what the context leaves, as vLLM does for ``max_output_tokens``.
        """
        tok = self.tokenizer
        text = tok.apply_chat_template(plan.template)
        ids = tok.encode(text)
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
                raise protocol.bad_request(f"max output tokens must be a positive integer, got {max_tokens!r}",
                                           "max_output_tokens" if kind == "responses" else "max_tokens")
            sampling_body = {**sampling_body, "max_tokens": max(1, min(max_tokens,
                                                                       self.config.max_model_len - len(ids)))}
        params = protocol.sampling_params(sampling_body, "chat", len(ids), self.config.max_model_len, tok)
        req = GenerationRequest("chat", model, text, ids, params, plan.messages, sampling_body, 0)
        meta = {"kind": kind, "model": model, "prompt": text, "messages": plan.messages, "stream": stream,
                "params": params.as_dict(), **plan.describe()}
        job = Job(kind, model, len(ids), params, [], stream, meta=meta, rid=rid, created=int(self.clock.time()),
                  deferred=plan.deferred)
        if plan.deferred is None:
            reply = to_turn(self.script.next_reply(req))
            job.outputs = chat_plan.choices(plan, req, 1, self.generator, reply, lambda i: req)
        return job

    def _admit(self, job: Job) -> tuple[Any, float]:
        arrival = self.clock.monotonic()
        with self._lock:
            self.in_flight += 1
        try:
            ticket = self.scheduler.acquire(max(1, len(job.outputs)), job.prompt_tokens, self.stop_event,
                                            wait=not on_event_loop())
        except BaseException:
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
        self.simulate(job)
        return self.render(job)

    def render(self, job: Job) -> dict[str, Any]:
        """The non-streaming chat or completion body of a job."""
        tok = self.tokenizer
        if job.kind == "chat":
            return chat_render.chat_completion(job.rid, job.created, job.model, job.outputs, job.prompt_tokens,
                                               tok, job.style)
        return responses.text_completion(job.rid, job.created, job.model, job.outputs, job.prompt_tokens, tok,
                                         job.echo_texts, self.fingerprint)

    def render_answer(self, job: Job) -> dict[str, Any] | JSONAnswer:
        """`render` as the router sends it: a chat completion written as JSON at once (the same
        bytes as encoding `render`'s dict), a completion as its dict."""
        if job.kind == "chat":
            return JSONAnswer(chat_render.chat_completion_json(job.rid, job.created, job.model, job.outputs,
                                                               job.prompt_tokens, self.tokenizer, job.style).encode())
        return self.render(job)

    def _admit_answer(self, job: Job) -> tuple[Any, float, float]:
        """Admit a non-streaming request: its deferred error, or 503 once the engine stops;
        returns the scheduler ticket, the arrival time and the admission time."""
        if job.deferred is not None:
            raise job.deferred
        try:
            ticket, arrival = self._admit(job)
        except SchedulerStopped:
            raise ApiError(503, "The server is shutting down.", type="ServiceUnavailableError") from None
        return ticket, arrival, self.clock.monotonic()

    def simulate(self, job: Job) -> None:
        """Admission, the simulated generation time and metrics of a non-streaming request.

        The slot is released whatever happens while it is held (issue 17: a failed wait leaked it).
        """
        ticket, arrival, admitted = self._admit_answer(job)
        first: float | None = None
        itls: list[float] = []
        reason: str | None = "abort"
        wait = self._wait
        if on_event_loop() and not isinstance(self.clock, FakeClock):
            # sent inline at zero timing and given a wait since (a race with set_timing): an
            # event loop must not sleep, so this one request is answered without its wait
            wait = self._no_wait
        try:
            steps = max((len(o.token_ids) for o in job.outputs), default=0)
            wait(self.ttft)
            first = self.clock.monotonic()
            if self.itl <= 0:  # no inter-token wait: every gap is zero (unless stopping)
                itls = [] if self.stop_event.is_set() else [0.0] * max(0, steps - 1)
            else:
                for _ in range(steps - 1):
                    before = self.clock.monotonic()
                    if wait(self.itl):
                        break
                    itls.append(self.clock.monotonic() - before)
            reason = None
        finally:
            self._finish(job, ticket, arrival, admitted, first, itls, reason)

    def embeddings(self, body: dict) -> dict[str, Any]:
        from .embeddings import embeddings_response
        return embeddings_response(self.config, self.tokenizer, self.seed, body, "embd-" + random_uuid(),
                                   int(self.clock.time()))

    def metrics_text(self) -> str:
        running, waiting = self.scheduler.counts()
        return self.metrics.render(running, waiting, self.scheduler.kv_cache_usage())


def _request_id(body: dict) -> str:
    rid = body.get("request_id")
    return rid if isinstance(rid, str) and rid else random_uuid()


_TYPES = {400: "BadRequestError", 401: "Unauthorized", 404: "NotFoundError", 422: "UnprocessableEntityError",
          429: "RateLimitError", 500: "InternalServerError", 501: "NotImplementedError",
          503: "ServiceUnavailableError"}


def _error_type(status: int) -> str:
    return _TYPES.get(status, "BadRequestError" if status < 500 else "InternalServerError")
