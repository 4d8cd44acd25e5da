"""Timed stream output: the one loop that paces tokens (TTFT/ITL), applies mid-stream faults and
settles metrics, for every stream format (the format itself is a codec, see stream_codec.py)."""
from __future__ import annotations

import asyncio
import collections.abc
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..clock import FakeClock, SystemClock
from ..http_connection import ConnectionAborted, Pause, can_pause, connection_of
from ..routing import JSONAnswer, json_dumps
from .scheduler import SchedulerStopped
from .stream_codec import OpenAICodec
from .stream_trains import LATE_FRACTION, POLL_SECONDS, StreamTiming, paced_trains

if TYPE_CHECKING:
    from .engine import Job, StreamFault

TRUNCATE = object()  # yielded by a stream: the wire layer must drop the connection now


def on_event_loop() -> bool:
    """Whether this thread is running an asyncio loop (an engine's loop thread: never block it)."""
    return asyncio._get_running_loop() is not None


_OPENAI = OpenAICodec()  # (stateless: one serves every chat/completions stream)


class StreamingMixin:
    """Mixed into Engine; uses its clock, wait, admission, faults and metrics."""

    #: None: pause where the connection allows it; False: always sleep on a thread (benchmarks compare)
    pause_streams: bool | None = None
    _release: Any
    stop_event: Any
    ttft: float
    itl: float
    clock: Any
    timing_changes: int
    tokenizer: Any
    _wait: Callable[[float], bool]
    _take_fault: Callable[[], StreamFault | None]
    _admit: Callable[..., Any]
    _admit_answer: Callable[[Job], tuple[Any, float, float]]
    _finish: Callable[..., None]
    simulate: Callable[..., None]

    def answer(self, job: Job, environ: dict[str, Any], render: Callable[[], Any],
               done: Callable[[Any], None] | None = None) -> Any:
        """A non-streaming answer: ``render()`` after the simulated generation time (``done(result)``
        runs once that time is over).

        Where the connection is pausable (the asyncio engine) and time is real, the wait holds no
        thread: the body yields ``Pause(…, inline=True)`` to the absolute deadlines (admission +
        ttft + k·itl), in slices checking stop and the client, then the JSON with its length.
        Elsewhere (FakeClock, werkzeug) it blocks in ``simulate`` as before."""
        conn = connection_of(environ)
        alive = conn.alive if conn is not None else None
        if not ((self.ttft > 0 or self.itl > 0) and self.pause_streams is not False and can_pause(alive)
                and isinstance(self.clock, SystemClock)):
            self.simulate(job)
            result = render()
            if done is not None:
                done(result)
            return result
        ticket, arrival, admitted = self._admit_answer(job)
        try:
            result = render()
            payload = result.body if type(result) is JSONAnswer else json_dumps(result).encode()
        except BaseException:
            self._finish(job, ticket, arrival, admitted, None, [], "abort")
            raise
        from werkzeug.wrappers import Response
        body = self._paced_body(job, ticket, arrival, admitted, alive, payload, lambda: done and done(result))
        # direct_passthrough: the body goes to the server as is; its length is known, so the
        # driver buffers it and sends head and JSON together once the pauses are over
        return Response(body, status=200, headers={"Content-Length": str(len(payload))},
                        mimetype="application/json", direct_passthrough=True)

    def _paced_body(self, job: Job, ticket: Any, arrival: float, admitted: float,
                    alive: Callable[[], bool] | None, payload: bytes,
                    done: Callable[[], Any]) -> collections.abc.Generator[Any, None, None]:
        """simulate()'s waits as pauses; the same metrics, the slot released in finally."""
        first: float | None = None
        itls: list[float] = []
        finished = False
        monotonic = self.clock.monotonic
        try:
            steps = max((len(o.token_ids) for o in job.outputs), default=0)
            deadline = admitted + self.ttft
            stopped = yield from self._pause_until(deadline, alive)
            first = last = monotonic()
            if self.itl <= 0:  # no inter-token wait: every gap is zero (unless stopping)
                itls = [] if self.stop_event.is_set() else [0.0] * max(0, steps - 1)
            elif not stopped:
                for _ in range(steps - 1):
                    deadline += self.itl
                    if (yield from self._pause_until(deadline, alive)):
                        break
                    now = monotonic()
                    itls.append(now - last)
                    last = now
            finished = True
            self._finish(job, ticket, arrival, admitted, first, itls, None)
        finally:
            if not finished:  # the client went away, or the server closed the body
                self._finish(job, ticket, arrival, admitted, first, itls, "abort")
        done()
        yield payload

    def _pause_until(self, deadline: float,
                     alive: Callable[[], bool] | None) -> collections.abc.Generator[Any, None, bool]:
        """Pause up to ``deadline``; returns whether the server is stopping, raises
        ConnectionAborted once the client has hung up (so its slot is freed soon)."""
        monotonic, stopping = self.clock.monotonic, self.stop_event.is_set
        now = monotonic()
        while deadline > now:
            # the next step only computes (no wait): the engine may resume it on its loop
            yield Pause(min(deadline - now, POLL_SECONDS), inline=True)
            if stopping():
                return True
            now = monotonic()
            if deadline > now and alive is not None and not alive():
                raise ConnectionAborted("client gone")
        return stopping()

    def stream(self, job: Job, client_alive: Callable[[], bool] | None = None, *,
               chunks: Iterable[tuple[int, dict[str, Any] | bytes]] | None = None, codec: Any = None,
               pause: bool | None = None,
               truncate: Callable[[], None] | None = None) -> collections.abc.Generator[Any, None, None]:
        """SSE bytes for a streaming request; may yield `Pause`, and TRUNCATE (drop the connection
        now) unless ``truncate`` is given to do that.

        ``chunks`` are (step, payload) pairs (step k: after the k-th token; see chat_render) and
        ``codec`` frames them (stream_codec; a payload of bytes is an event framed already); both
        default to chat/completions. ``client_alive`` lets a stall end (as an abort) once the
        client has hung up.

        Where the connection is pausable (the asyncio engine) and time is real, the stream holds
        no thread while it waits: it yields ``Pause(…, inline=True)`` up to each token's absolute
        deadline (admission + ttft + k·itl), so a token resumed a little late is followed by one
        sent sooner rather than every later token drifting; one later than `LATE_FRACTION` of
        its gap moves the deadlines after it (no backlog sent at once, which a client would see
        as zero gaps). A stream with no fault to apply hands its chunks to the engine in trains
        on that same schedule instead (stream_trains). ``pause`` forces the choice (tests).
        """
        codec = codec or _OPENAI
        yield b""  # the wire layer sends status and headers at once, as uvicorn does
        if job.deferred is not None:  # vLLM: HTTP 200, then the engine's error as an event
            yield from codec.deferred(job.deferred)
            return
        pause = self.pause_streams if pause is None else pause
        pausable = can_pause(client_alive) if pause is None else pause
        paced = pausable and (pause is not None or isinstance(self.clock, SystemClock))
        fault = self._take_fault()
        try:
            ticket, arrival = self._admit(job)
        except SchedulerStopped:
            return
        admitted = self.clock.monotonic()
        timing = StreamTiming(self, job, ticket, arrival, admitted)
        deadline = admitted
        reason: str | None = "abort"
        sent = last_step = 0
        no_done = fault is not None and fault.kind == "no_done"
        encode, monotonic, stopping = codec.encode, self.clock.monotonic, self.stop_event.is_set
        terminal = codec.is_terminal if type(codec).is_terminal is not OpenAICodec.is_terminal else None
        source = iter(chunks if chunks is not None else self._chunks(job))
        try:
            if paced and fault is None:  # the common paced stream
                if (yield from paced_trains(self, source, timing, encode, terminal, client_alive, monotonic, stopping)):
                    return  # stopped, or the client went away
            for step, chunk in source:
                if fault is not None and sent == fault.after_chunks and not no_done:
                    if fault.kind == "error":
                        timing.finish("error")
                    outcome = yield from self._apply_fault(fault, client_alive, codec, pausable, truncate)
                    if outcome == "stop":
                        reason = "error" if fault.kind == "error" else "abort"
                        return
                    fault = None
                    deadline = max(deadline, self.clock.monotonic())  # after a stall: on from now
                if step > last_step:
                    gap = self.ttft if timing.first is None else self.itl * (step - last_step)
                    if paced:
                        deadline += gap
                        now = monotonic()
                        stopped = False
                        while deadline > now and not stopped:
                            # the next step only builds and yields bytes; a long wait is cut in
                            # slices so a client that hung up meanwhile frees its slot soon
                            yield Pause(min(deadline - now, POLL_SECONDS), inline=True)
                            stopped = stopping()
                            now = monotonic()
                            if deadline > now and client_alive is not None and not client_alive():
                                stopped = True
                        if now - deadline > gap * LATE_FRACTION:
                            deadline = now  # far behind: the next token is due a gap from this one
                    else:
                        if gap > 0 and pausable and on_event_loop() and not isinstance(self.clock, FakeClock):
                            # started inline at zero timing, then given a wait on a clock of the
                            # user's: never sleep on the loop (the wait is real seconds, relative)
                            yield Pause(gap, inline=True)
                            stopped = stopping()
                        else:
                            stopped = self._wait(gap)
                        now = monotonic()
                    timing.token(now)
                    last_step = step
                    if stopped:
                        return
                if terminal is not None and terminal(chunk):  # (chat/completions have no terminal event)
                    if no_done:
                        continue
                    timing.finish(None)
                yield chunk if type(chunk) is bytes else encode(chunk)
                sent += 1
            if fault is not None and fault.kind in ("error", "truncate", "stall"):
                if fault.kind == "error":
                    timing.finish("error")
                outcome = yield from self._apply_fault(fault, client_alive, codec, pausable, truncate)
                if outcome == "stop":
                    reason = "error" if fault.kind == "error" else "abort"
                    return
            reason = None
            timing.finish(None)
            done = codec.done()
            if done is not None and not no_done:
                yield done
        finally:
            timing.finish(reason)

    def _chunks(self, job: Job) -> Iterator[tuple[int, dict[str, Any] | bytes]]:
        from . import chat_render, responses
        if job.kind == "chat":
            return chat_render.chat_stream_chunks(
                job.rid, job.created, job.model, job.outputs, job.prompt_tokens, self.tokenizer, job.style,
                include_usage=job.include_usage, continuous_usage=job.continuous_usage)
        return responses.stream_chunks(
            job.rid, job.created, job.model, job.outputs, job.prompt_tokens, self.tokenizer,
            include_usage=job.include_usage, continuous_usage=job.continuous_usage, echo_texts=job.echo_texts)

    def _apply_fault(self, fault: StreamFault, client_alive: Callable[[], bool] | None, codec: Any,
                     pausable: bool = False,
                     truncate: Callable[[], None] | None = None) -> collections.abc.Generator[Any, None, str]:
        if fault.kind == "error":
            from .engine import _error_type
            yield from codec.error(fault.message, _error_type(fault.status), fault.status)
            return "stop"
        if fault.kind == "truncate":
            if truncate is None:
                yield TRUNCATE
            else:
                truncate()
            return "stop"
        # a stall: real time (it is released by hand, by stop() or by the client hanging up),
        # polled every 50 ms; where the connection is pausable it waits as a Pause, holding no thread
        deadline = None if fault.stall_seconds is None else time.monotonic() + fault.stall_seconds
        while not self._release.is_set():
            if self.stop_event.is_set() or (client_alive is not None and not client_alive()):
                return "stop"
            remaining = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if remaining <= 0:
                break
            if pausable:
                yield Pause(remaining, inline=True)
            else:
                self.stop_event.wait(remaining)
        return "continue"

