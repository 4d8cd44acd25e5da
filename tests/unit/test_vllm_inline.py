"""Serving without threads (issue 15): which vLLM requests may run on the engine's loop, and
paced streams that yield `Pause` up to absolute token deadlines instead of sleeping."""
from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from mocktools.clock import FakeClock
from mocktools.http_connection import ConnectionAborted, Pause
from mocktools.vllm.engine import Engine
from mocktools.vllm.mock import MockVLLMServer
from mocktools.vllm.protocol import ModelConfig
from mocktools.wsgi_driver import RequestRun

pytestmark = pytest.mark.timeout(30)

GENERATION = [("/v1/chat/completions", "POST"), ("/v1/completions", "POST"), ("/invocations", "POST"),
              ("/v1/responses", "POST"), ("/v1/messages", "POST")]


def _env(path: str, method: str = "POST", length: str | None = "120") -> dict[str, Any]:
    env: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method}
    if method == "POST":
        if length is None:
            env["wsgi.input_terminated"] = True  # a chunked body
        else:
            env["CONTENT_LENGTH"] = length
    return env


def _inline(mock: MockVLLMServer, path: str, method: str = "POST") -> bool:
    return mock.http_listener.inline_ok(_env(path, method))


# -- which requests run inline ------------------------------------------------------------------
def test_computing_routes_always_run_inline() -> None:
    mock = MockVLLMServer(ttft=0.5, itl=0.1)  # timing holds generation, not these
    for path, method in [("/health", "GET"), ("/ping", "POST"), ("/version", "GET"), ("/load", "GET"),
                         ("/metrics", "GET"), ("/v1/models", "GET"), ("/tokenize", "POST"),
                         ("/detokenize", "POST"), ("/v1/embeddings", "POST"), ("/v1/messages/count_tokens", "POST")]:
        assert _inline(mock, path, method), path
    assert all(_inline(mock, path, method) for path, method in GENERATION)  # paced: they pause, not sleep
    assert not _inline(mock, "/v1/responses/resp_1", "GET")  # a rule with a converter: never probed inline
    assert not _inline(mock, "/_mock/reset")


class _UsersClock:
    """A clock of the user's (neither the real clock nor FakeClock): its sleep may really block."""

    def time(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        raise AssertionError("not called by the probe")


def test_generation_with_simulated_time_runs_inline_only_on_a_real_or_fake_clock() -> None:
    mock = MockVLLMServer()
    assert all(_inline(mock, path, method) for path, method in GENERATION)
    # a real clock: streams and non-stream answers wait as `Pause` timers (no thread sleeps)
    mock.set_timing(ttft=0.2, itl=0.02)
    assert all(_inline(mock, path, method) for path, method in GENERATION)
    mock.engine.pause_streams = False  # forced to sleep on a thread (benchmarks compare): a worker
    assert not any(_inline(mock, path, method) for path, method in GENERATION)
    mock.engine.pause_streams = None
    # on a FakeClock the waits end at once: nothing blocks
    fake = MockVLLMServer(ttft=5, itl=1, clock=FakeClock())
    assert _inline(fake, "/v1/chat/completions")
    # a clock of the user's may really sleep in its waits
    users = MockVLLMServer(ttft=0.2, clock=_UsersClock())
    assert not _inline(users, "/v1/chat/completions")
    users.set_timing(ttft=0, itl=0)
    assert _inline(users, "/v1/chat/completions")


def test_a_long_or_chunked_body_sends_generation_to_a_worker() -> None:
    mock = MockVLLMServer()
    probe = mock.http_listener.inline_ok
    assert probe(_env("/v1/chat/completions", length=str(64 * 1024)))
    assert not probe(_env("/v1/chat/completions", length=str(64 * 1024 + 1)))  # tokenizing it is loop time
    assert not probe(_env("/v1/chat/completions", length=None))  # chunked: the size is not known
    assert probe(_env("/tokenize")) and not probe(_env("/tokenize", length=str(10 ** 6)))
    assert probe({"PATH_INFO": "/ping", "REQUEST_METHOD": "POST"})  # no body at all


def test_a_reply_function_sends_generation_to_a_worker() -> None:
    mock = MockVLLMServer()
    mock.set_reply("fixed text")
    mock.set_reply_table({"hi": "there"})
    assert _inline(mock, "/v1/completions")
    mock.set_reply_function(lambda req: None)
    assert not _inline(mock, "/v1/completions")
    mock.set_reply_function(None)
    mock.enqueue_replies([lambda req: "from user code"])
    assert not _inline(mock, "/v1/completions")
    mock.reset_state()
    mock.enqueue_replies(["queued text"])
    assert _inline(mock, "/v1/completions")


def test_a_stall_fault_sends_generation_to_a_worker() -> None:
    mock = MockVLLMServer()
    mock.set_stream_fault("error", after_chunks=2)
    assert _inline(mock, "/v1/chat/completions")
    mock.set_stream_fault("stall", after_chunks=2)
    assert not _inline(mock, "/v1/chat/completions")
    mock.clear_stream_faults()
    assert _inline(mock, "/v1/chat/completions")


def test_a_full_or_queueing_scheduler_sends_generation_to_a_worker() -> None:
    mock = MockVLLMServer(max_num_seqs=2)
    scheduler = mock.engine.scheduler
    first = scheduler.acquire(1)  # a request running, one sequence still free: admitted at once
    assert _inline(mock, "/v1/chat/completions")
    second = scheduler.acquire(1)  # the batch is full: the next one would have to wait
    assert scheduler.running_seqs == 2 and not _inline(mock, "/v1/chat/completions")
    scheduler.release(first)
    assert scheduler.running_seqs == 1 and _inline(mock, "/v1/chat/completions")
    scheduler.release(first)  # a second release of the same ticket frees nothing more
    assert scheduler.running_seqs == 1
    scheduler.release(second)
    big = scheduler.acquire(2)
    waiter = threading.Thread(target=lambda: scheduler.release(scheduler.acquire(1)), daemon=True)
    waiter.start()  # one request waits for a slot: nobody may jump the queue
    while scheduler.counts()[1] == 0:
        waiter.join(0.001)
    assert not _inline(mock, "/v1/chat/completions")
    scheduler.release(big)
    waiter.join(5)
    assert not waiter.is_alive() and scheduler.counts() == (0, 0) and scheduler.running_seqs == 0
    assert _inline(mock, "/v1/chat/completions")


def test_latency_faults_stubs_and_user_routes_send_generation_to_a_worker() -> None:
    mock = MockVLLMServer()
    mock.faults.set_latency(0.1, path="/v1/chat/*")
    assert not _inline(mock, "/v1/chat/completions") and _inline(mock, "/v1/completions")
    mock.faults.set_success()
    mock.expect_request("/v1/models").respond_with_json({"data": []})
    assert not _inline(mock, "/v1/completions") and not _inline(mock, "/health", "GET")


def test_admission_on_an_event_loop_never_waits() -> None:
    engine = Engine(ModelConfig(["m"], "m"), max_num_seqs=1)
    held = engine.scheduler.acquire(1)  # full: a worker would wait here

    async def on_loop() -> dict[str, Any]:
        return engine.run(engine.prepare("chat", {"model": "m", "messages": [{"role": "user", "content": "x"}]}))

    body = asyncio.run(on_loop())
    assert body["choices"][0]["finish_reason"] == "stop"
    engine.scheduler.release(held)
    assert engine.scheduler.counts() == (0, 0) and engine.in_flight == 0


# -- paced streams: absolute deadlines ------------------------------------------------------------
class _Sink:
    """What the driver sends, as one byte string (the driver's sink for a stream on a fake clock)."""

    close_requested = held = False

    def __init__(self) -> None:
        self.data = b""

    def send(self, data: bytes, final: bool) -> None:
        self.data += data

    def events(self) -> list[Any]:
        """The SSE events of the chunked body (JSON decoded; [DONE] as is)."""
        body, events = self.data.partition(b"\r\n\r\n")[2], []
        while body:
            size, _, body = body.partition(b"\r\n")
            payload, body = body[:int(size, 16)], body[int(size, 16) + 2:]
            for event in payload.decode().split("\n\n"):
                if event.startswith("data: "):
                    data = event[6:]
                    events.append(data if data == "[DONE]" else json.loads(data))
        return events


def _drive(engine: Engine, job: Any, clock: FakeClock, late: list[float] | None = None,
           alive: Any = None, after_wait: Any = None) -> tuple[list[float], list[Any]]:
    """Serve a paced stream through the engines' driver on the fake clock: each wait it returns
    is slept (plus the lateness given); (the waits, the events the client got)."""
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return engine.stream(job, alive, pause=True)
    sink, late = _Sink(), list(late or [])
    run = RequestRun(app, {"REQUEST_METHOD": "GET"}, sink, close=False, http10=False)
    waits: list[float] = []
    wait = run.step()
    while wait is not None:
        assert run.pause_inline  # the next step only sends or builds bytes: it may run on the loop
        waits.append(round(wait, 6))
        clock.advance(wait + (late.pop(0) if late else 0.0))
        if after_wait is not None:
            after_wait(waits)
        wait = run.step()
    return waits, sink.events()


def _pauses_and_events(engine: Engine, clock: FakeClock, late: list[float]) -> tuple[list[float], list[Any]]:
    job = engine.prepare("completion", {"model": "m", "prompt": "hi", "stream": True, "max_tokens": 6})
    return _drive(engine, job, clock, late)


@pytest.mark.parametrize("fault", [None, "no_done"], ids=["in-trains", "per-token"])
def test_paced_stream_pauses_to_absolute_deadlines_and_a_token_far_behind_moves_the_rest(fault: str | None) -> None:
    """The same schedule whether the driver paces the chunks (PacedChunks) or the stream yields
    a Pause before each (a stream with a fault to apply)."""
    clock = FakeClock()
    engine = Engine(ModelConfig(["m"], "m"), clock=clock, ttft=0.5, itl=0.1)
    engine.script.set_reply("red green blue river mountain sky cloud rain")
    if fault is not None:
        engine.set_stream_fault(fault)
    # token 1 is due at +0.5, then one every 0.1 s; the 2nd pause ends 0.25 s late (0.85: more than
    # a gap behind), so the tokens after it are due from there (0.95, 1.05, ...) instead of
    # going out at once; the 3rd ends 0.03 s late (0.98), which the next deadline makes up (1.05)
    pauses, events = _pauses_and_events(engine, clock, [0.0, 0.25, 0.03, 0.0, 0.0])
    assert pauses == [0.5, 0.1, 0.1, 0.07, 0.1, 0.1]
    texts = [e["choices"][0]["text"] for e in events if e != "[DONE]"]
    assert texts == ["red", " green", " blue", " river", " mountain", " sky"]
    assert (events[-1] == "[DONE]") is (fault is None)
    # the timing the client saw is what the metrics record
    itl = engine.metrics.histograms["vllm:inter_token_latency_seconds"]
    ttft = engine.metrics.histograms["vllm:time_to_first_token_seconds"]
    assert ttft.n == 1 and ttft.total == pytest.approx(0.5)
    assert itl.n == 5 and itl.total == pytest.approx(0.35 + 0.13 + 0.07 + 0.1 + 0.1)
    assert engine.scheduler.counts() == (0, 0)


@pytest.mark.parametrize("fault", [None, "no_done"], ids=["in-trains", "per-token"])
def test_set_timing_mid_stream_applies_from_the_next_gap_on(fault: str | None) -> None:
    """A train on its way sees the change when it next wakes: the gap being waited stays, the
    ones after it take the new itl (the same waits as a stream pausing before each token)."""
    clock = FakeClock()
    engine = Engine(ModelConfig(["m"], "m"), clock=clock, ttft=0.5, itl=0.1)
    engine.script.set_reply("red green blue river mountain sky cloud rain")
    if fault is not None:
        engine.set_stream_fault(fault)
    job = engine.prepare("completion", {"model": "m", "prompt": "hi", "stream": True, "max_tokens": 5})

    def slow_down(waits: list[float]) -> None:
        if len(waits) == 2:  # at the end of the wait for token 2 (before it is sent)
            engine.set_timing(itl=0.25)
    waits, events = _drive(engine, job, clock, after_wait=slow_down)
    assert waits == [0.5, 0.1, 0.25, 0.25, 0.25]  # token 2 keeps its time, the gaps after it are new
    assert [e["choices"][0]["text"] for e in events if e != "[DONE]"] == ["red", " green", " blue", " river",
                                                                             " mountain"]
    itl = engine.metrics.histograms["vllm:inter_token_latency_seconds"]
    assert itl.n == 4 and itl.total == pytest.approx(0.1 + 3 * 0.25)


def test_unpaced_stream_on_a_fake_clock_waits_as_before() -> None:
    clock = FakeClock()
    engine = Engine(ModelConfig(["m"], "m"), clock=clock, ttft=0.5, itl=0.1)
    job = engine.prepare("completion", {"model": "m", "prompt": "hi", "stream": True, "max_tokens": 4})
    start = clock.monotonic()
    items = list(engine.stream(job))  # no pausable connection: the clock's own sleep
    assert not any(isinstance(item, Pause) for item in items)
    assert clock.monotonic() - start == pytest.approx(0.5 + 3 * 0.1)


def test_a_stall_on_a_pausable_connection_pauses_and_releases_its_slot_when_closed() -> None:
    engine = Engine(ModelConfig(["m"], "m"))
    engine.set_stream_fault("stall", after_chunks=1)
    job = engine.prepare("completion", {"model": "m", "prompt": "hi", "stream": True, "max_tokens": 4})
    stream = engine.stream(job, pause=True)
    items = [next(stream), next(stream), next(stream)]  # headers, first event, then the stall
    assert isinstance(items[2], Pause) and items[2].inline and items[2].seconds <= 0.05
    assert engine.scheduler.counts() == (1, 0)
    stream.close()  # what the engine does when the client goes away or the mock stops
    assert engine.scheduler.counts() == (0, 0) and engine.in_flight == 0
    assert 'finished_reason="abort",model_name="m"} 1.0' in engine.metrics_text()


# -- the prebuilt encoders write what json.dumps writes ---------------------------------------------
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_compact_encoder_matches_json_dumps(ensure_ascii: bool) -> None:
    import datetime

    from mocktools.vllm.stream_codec import compact_encoder

    dumps = compact_encoder(ensure_ascii=ensure_ascii, default=str)
    for value in ["plain", "é 日本 \u2028 \"q\" \\ \n", 1.5, float("inf"), None, True, [1, [2, {"a": None}]],
                  {"k": "ü", "n": -0.0, "nested": {"list": [1.0e-9, 3], "t": datetime.date(2026, 12, 1)}}]:
        assert dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii, default=str)


def test_a_long_wait_is_paused_in_slices_and_ends_when_the_client_goes() -> None:
    clock = FakeClock()
    engine = Engine(ModelConfig(["m"], "m"), clock=clock, ttft=1.2, itl=0.1)
    job = engine.prepare("completion", {"model": "m", "prompt": "hi", "stream": True, "max_tokens": 4})
    alive = [True]

    def hang_up(waits: list[float]) -> None:
        alive[0] = len(waits) < 2  # the client hangs up during the second slice
    waits, events = _drive(engine, job, clock, alive=lambda: alive[0], after_wait=hang_up)
    assert waits == [0.5, 0.5]
    assert events == []  # no token went out
    assert engine.scheduler.counts() == (0, 0)
    assert 'finished_reason="abort",model_name="m"} 1.0' in engine.metrics_text()


def test_a_stream_on_an_event_loop_never_sleeps_on_a_clock_of_the_users() -> None:
    import time as _time

    class WallClock:  # a user's clock: its sleep would block the engine's loop
        def time(self) -> float:
            return _time.time()

        def monotonic(self) -> float:
            return _time.monotonic()

        def sleep(self, seconds: float) -> None:
            raise AssertionError("slept on the event loop")

    engine = Engine(ModelConfig(["m"], "m"), clock=WallClock(), itl=0.01)
    job = engine.prepare("completion", {"model": "m", "prompt": "hi", "stream": True, "max_tokens": 3})

    class Alive:
        pausable = True

        def __call__(self) -> bool:
            return True

    async def on_loop() -> list[Any]:
        return list(engine.stream(job, Alive()))

    items = asyncio.run(on_loop())
    assert [round(i.seconds, 3) for i in items if isinstance(i, Pause)] == [0.01, 0.01]
    assert items[-1] == b"data: [DONE]\n\n"


class _Conn:
    """A pausable connection handle (as the asyncio engine's) whose client may hang up."""

    def __init__(self) -> None:
        self.gone = False

        def alive() -> bool:
            return not self.gone
        alive.pausable = True  # type: ignore[attr-defined]
        self.alive = alive


def _paced_answer(engine: Engine, conn: _Conn) -> Any:
    job = engine.prepare("completion", {"model": "m", "prompt": "hi", "max_tokens": 4})
    return engine.answer(job, {"mocktools.connection": conn}, lambda: engine.render(job)).response


def test_a_paced_answer_frees_its_slot_when_the_client_goes_and_answers_when_stopping() -> None:
    engine = Engine(ModelConfig(["m"], "m"), ttft=30, itl=1)  # a real clock: the waits are pauses
    conn = _Conn()
    body = _paced_answer(engine, conn)
    assert engine.scheduler.counts() == (1, 0)
    pause = next(body)
    assert isinstance(pause, Pause) and pause.inline and 0 < pause.seconds <= 0.5  # in slices
    conn.gone = True
    with pytest.raises(ConnectionAborted):
        next(body)
    assert engine.scheduler.counts() == (0, 0) and engine.in_flight == 0
    assert engine.metrics.snapshot()["vllm:request_success_total[abort]"] == 1
    # stopping: the answer comes at once (as the blocking wait ends), counted as finished
    body = _paced_answer(engine, _Conn())
    assert isinstance(next(body), Pause)
    engine.stop_event.set()
    payload = next(body)
    assert json.loads(payload)["object"] == "text_completion"
    assert engine.scheduler.counts() == (0, 0)
    assert engine.metrics.snapshot()["vllm:request_success_total[length]"] == 1
    body.close()
