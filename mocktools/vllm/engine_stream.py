"""Timed stream output: the one loop that paces tokens (TTFT/ITL), applies mid-stream faults and
settles metrics, for every stream format (the format itself is a codec, see stream_codec.py)."""
from __future__ import annotations

import asyncio
import collections.abc
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..clock import FakeClock, SystemClock
from ..http_connection import ConnectionAborted, PacedChunks, Pause, can_pause, connection_of
from ..routing import JSONAnswer, json_dumps
from .scheduler import SchedulerStopped
from .stream_codec import OpenAICodec

if TYPE_CHECKING:
    from .engine import Job, StreamFault

TRUNCATE = object()  # yielded by a stream: the wire layer must drop the connection now


def on_event_loop() -> bool:
    """Whether this thread is running an asyncio loop (an engine's loop thread: never block it)."""
    return asyncio._get_running_loop() is not None

POLL_SECONDS = 0.5  # a paced stream's longest single pause (it checks the client between them)
#: a paced token sent later than this fraction of its gap re-anchors the stream's schedule: the
#: tokens after it are due one gap apart from it (a server that far behind decodes later, it does
#: not send a backlog at once, which a client sees as 0 ms gaps); smaller lateness is made up by
#: the next deadline. 1.0: exactly when the next token would already be due (0.5 was tried: the
#: 1,000-stream fleet's median gap +13-20 % against +7-12 %, more stretched streams)
LATE_FRACTION = 1.0
#: chunks a paced stream encodes ahead and hands the engine at once (http_connection.PacedChunks)
TRAIN_CHUNKS = 16


class _Timing:
    """One stream's first-token time and gaps, and its one `finish` (an object, not closures: a
    stream lives for seconds, and each closed-over variable is an object the collector walks)."""

    __slots__ = ("admitted", "arrival", "engine", "finished", "first", "itls", "job", "last", "ticket")

    def __init__(self, engine: Any, job: Job, ticket: Any, arrival: float, admitted: float) -> None:
        self.engine, self.job, self.ticket, self.arrival, self.admitted = engine, job, ticket, arrival, admitted
        self.first: float | None = None
        self.itls: list[float] = []
        self.last = admitted
        self.finished = False

    def token(self, now: float) -> None:
        """A token went out at `now`."""
        if self.first is None:
            self.first = now
        else:
            self.itls.append(now - self.last)
        self.last = now

    def sent(self, train: PacedChunks) -> bool:
        """Count what a train sent; returns whether it stopped early."""
        for at in train.sent:
            self.token(at)
        return train.stopped

    def finish(self, why: str | None) -> None:
        # Metrics are settled before the last bytes go out, so a client that has just seen the
        # end of the stream (or an error event) reads metrics that already count it.
        if not self.finished:
            self.finished = True
            self.engine._finish(self.job, self.ticket, self.arrival, self.admitted, self.first, self.itls, why)


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
        on that same schedule instead (`_trains`). ``pause`` forces the choice (tests).
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
        timing = _Timing(self, job, ticket, arrival, admitted)
        deadline = admitted
        reason: str | None = "abort"
        sent = last_step = 0
        no_done = fault is not None and fault.kind == "no_done"
        encode, monotonic, stopping = codec.encode, self.clock.monotonic, self.stop_event.is_set
        terminal = codec.is_terminal if type(codec).is_terminal is not OpenAICodec.is_terminal else None
        source = iter(chunks if chunks is not None else self._chunks(job))
        try:
            if paced and fault is None:  # the common paced stream
                if (yield from self._trains(source, timing, encode, terminal, client_alive)):
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

    def _trains(self, source: Iterator[tuple[int, dict[str, Any] | bytes]], timing: _Timing,
                encode: Callable[[Any], bytes], terminal: Callable[[Any], bool] | None,
                client_alive: Callable[[], bool] | None) -> collections.abc.Generator[Any, None, bool]:
        """The paced stream's chunks in trains the engine paces (`PacedChunks`, `TRAIN_CHUNKS`
        encoded at a time: no step of the stream per token), on the schedule of `stream`'s own
        loop; returns whether it stopped early (the server stops, or the client went away).

        A terminal event (Responses, Anthropic) ends its train: the train waits out its time
        (an empty chunk), the metrics are settled, then the event goes, as in `stream`. A
        `set_timing` while a train is on its way ends that train when it next wakes; the chunks
        it had not sent go on in a new train on the new timing."""
        gone = None if client_alive is None else (lambda: not client_alive())
        clock, stopping = self.clock.monotonic, self.stop_event.is_set
        version = self.timing_changes

        def stop() -> bool:  # (one for every train: the server stops, or the timing changed)
            return stopping() or self.timing_changes != version
        deadline, built_step, sent_step, train = timing.admitted, 0, 0, None
        carry: list[tuple[int | None, bytes]] = []  # (a timed chunk's step, or None; its event) not sent yet
        kept: float | None = None  # the gap being waited when the timing changed (it stays: the change
        ending: bytes | None = None  # applies from the next gap on); the terminal event, sent after its train
        try:
            while True:
                items, carry = carry, []
                while ending is None and len(items) < TRAIN_CHUNKS:
                    pulled = next(source, None)
                    if pulled is None:
                        break
                    step, chunk = pulled
                    timed = step if step > built_step else None
                    built_step = max(built_step, step)
                    if terminal is not None and terminal(chunk):
                        ending = encode(chunk)
                        items.append((timed, b""))  # (its wait, if it has one: the event goes after finish)
                        break
                    items.append((timed, chunk if type(chunk) is bytes else encode(chunk)))
                if not items:
                    return False
                gaps: list[float | None] = []
                first, previous = timing.first is None, sent_step
                for timed, _ in items:
                    if timed is None:
                        gaps.append(None)
                    else:
                        gaps.append(kept if kept is not None else self.ttft if first else self.itl * (timed - previous))
                        first, previous, kept = False, timed, None
                train = PacedChunks([event for _, event in items], gaps, deadline, clock=clock, late=LATE_FRACTION,
                                    poll=POLL_SECONDS, stop=stop, gone=gone, inline=True)
                yield train
                done, train = train, None
                deadline, went = done.deadline, len(done.sent)
                if went:
                    sent_step = [timed for timed, _ in items if timed is not None][went - 1]
                if timing.sent(done):  # stopped early
                    if stopping() or self.timing_changes == version:
                        return True
                    version, carry = self.timing_changes, items[done.index:]  # new timing: the rest goes on
                    kept = next((gap for gap in done.gaps[done.index:] if gap is not None), None)
                    continue
                if ending is not None:
                    timing.finish(None)
                    yield ending
                    ending = None
        finally:
            if train is not None:  # closed while a train ran: what it sent still counts
                timing.sent(train)

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

