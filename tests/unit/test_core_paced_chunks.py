"""The engine contract `PacedChunks` (http_connection), driven by hand through `RequestRun` on a
FakeClock: each wait `step()` returns is slept on the fake clock (plus a lateness the test picks),
so every schedule below is exact and nothing depends on real time."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mocktools.clock import FakeClock
from mocktools.http_connection import PacedChunks, Pause
from mocktools.wsgi_driver import HOLD, RequestRun

pytestmark = pytest.mark.timeout(10)


class Sink:
    """The driver's sink: every send with the fake time it happened at; `hold_after` makes it
    `held` after each send of a body chunk (a client that reads slowly, on the loop)."""

    close_requested = False

    def __init__(self, clock: FakeClock, *, hold_after: bool = False, fail_on: int | None = None) -> None:
        self.clock, self.hold_after, self.fail_on = clock, hold_after, fail_on
        self.sends: list[tuple[float, bytes, bool]] = []
        self.held = False

    def send(self, data: bytes, final: bool) -> None:
        if self.fail_on is not None and len(self.sends) >= self.fail_on:
            raise ConnectionResetError("client gone")
        self.sends.append((self.clock.monotonic(), data, final))
        self.held = self.hold_after and not final and not data.startswith(b"HTTP/")  # after body bytes

    @property
    def data(self) -> bytes:
        return b"".join(data for _, data, _ in self.sends)

    def body_chunks(self) -> list[bytes]:
        """The chunked body's chunks, in order (the head and the last chunk checked on the way)."""
        head, sep, body = self.data.partition(b"\r\n\r\n")
        assert sep and b"transfer-encoding: chunked" in head.lower()
        chunks: list[bytes] = []
        while True:
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                assert body == b"\r\n", "the last chunk ends the response"
                return chunks
            chunks.append(body[:size])
            assert body[size:size + 2] == b"\r\n"
            body = body[size + 2:]

    def time_of(self, chunk: bytes) -> float:
        """When the send holding this chunk's framing went out."""
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        (at,) = [at for at, data, _ in self.sends if framed in data]
        return at


class Body:
    """A plain WSGI app: `b""`, then the trains it was given (bytes between them), then `b"after"`;
    what the body saw of each train once it stepped on, and whether its finally ran."""

    def __init__(self, *trains: PacedChunks | Pause | bytes, first: bytes | None = b"") -> None:
        self.items = trains
        self.first = first
        self.seen: list[tuple[int, bool, list[float]]] = []  # (index, stopped, sent) per train
        self.closed = False
        self.finished = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[Any]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self.body()

    def body(self) -> Iterator[Any]:
        try:
            if self.first is not None:
                yield self.first
            for item in self.items:
                yield item
                if isinstance(item, PacedChunks):
                    self.seen.append((item.index, item.stopped, list(item.sent)))
                    if item.stopped:
                        yield b"saw-stop"
                        return
            yield b"after"
            self.finished = True
        finally:
            self.closed = True


def make_run(app: Callable[..., Any], sink: Sink) -> RequestRun:
    return RequestRun(app, {"REQUEST_METHOD": "GET"}, sink, close=False, http10=False)


def drive(run: RequestRun, clock: FakeClock, late: list[float] | None = None) -> list[float]:
    """Step the run to its end, sleeping each wait on the fake clock (plus the next lateness)."""
    late, waits = list(late or []), []
    wait = run.step()
    while wait is not None:
        assert wait >= 0, "a sink that is never held: no HOLD"
        waits.append(wait)
        clock.advance(wait + (late.pop(0) if late else 0.0))
        wait = run.step()
    assert run.done
    return waits


def train(clock: FakeClock, chunks: list[bytes], gaps: list[float | None], **kwargs: Any) -> PacedChunks:
    return PacedChunks(chunks, gaps, clock.monotonic(), clock=clock.monotonic, **kwargs)


# -- the schedule -------------------------------------------------------------------------------
@pytest.mark.parametrize("inline", [True, False])
def test_chunks_go_out_at_their_times_and_a_none_gap_goes_with_the_chunk_before(inline: bool) -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c", b"d"], [0.5, 0.25, None, 0.125], inline=inline)
    app, sink = Body(paced), Sink(clock)
    run = make_run(app, sink)
    waits = []
    wait = run.step()
    while wait is not None:
        assert run.pause_inline is inline  # the train's promise about the next step
        waits.append(wait)
        clock.advance(wait)
        wait = run.step()
    assert waits == [0.5, 0.25, 0.125]  # no wait before c: it rides with b
    assert [sink.time_of(c) for c in (b"a", b"b", b"c", b"d")] == [0.5, 0.75, 0.75, 0.875]
    assert sink.body_chunks() == [b"a", b"b", b"c", b"d", b"after"]  # each chunk framed on its own
    assert paced.sent == [0.5, 0.75, 0.875] and paced.index == 4 and not paced.stopped
    assert app.seen == [(4, False, [0.5, 0.75, 0.875])] and app.finished and app.closed
    assert paced.deadline == 0.875 and run.train is None


def test_a_first_gap_of_none_sends_the_first_chunk_at_once_and_the_next_counts_from_start() -> None:
    clock = FakeClock()
    clock.advance(2.0)
    paced = train(clock, [b"a", b"b"], [None, 0.25])
    sink = Sink(clock)
    waits = drive(make_run(Body(paced), sink), clock)
    assert waits == [0.25]
    assert sink.time_of(b"a") == 2.0 and sink.time_of(b"b") == 2.25
    assert paced.sent == [2.25] and paced.index == 2  # only timed chunks have a send time


def test_a_chunk_late_by_less_than_late_times_its_gap_is_made_up_by_the_next_wait() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c", b"d"], [0.5, 0.25, 0.25, 0.25], late=1.0)
    sink = Sink(clock)
    # a goes out 0.0625 late (0.5625), b 0.125 late (0.875): both less than a gap behind
    waits = drive(make_run(Body(paced), sink), clock, late=[0.0625, 0.125])
    assert waits == [0.5, 0.1875, 0.125, 0.25]  # the deadlines stay 0.75, 1.0, 1.25
    assert paced.sent == [0.5625, 0.875, 1.0, 1.25] and paced.deadline == 1.25


@pytest.mark.parametrize("late_factor, lateness, moved", [
    (1.0, 0.375, True),   # 1.5 gaps behind: the rest is due from when it went out
    (2.0, 0.375, False),  # within 2 gaps: made up
    (1.0, 0.25, False),   # exactly one gap behind is not more than it: made up (c is due at once)
])
def test_a_chunk_later_than_late_times_its_gap_moves_the_rest(late_factor: float, lateness: float,
                                                               moved: bool) -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c", b"d"], [0.5, 0.25, 0.25, 0.25], late=late_factor)
    sink = Sink(clock)
    waits = drive(make_run(Body(paced), sink), clock, late=[0.0, lateness])  # b resumed late
    b_at = 0.75 + lateness
    assert paced.sent[1] == b_at
    if moved:  # re-anchored: c and d a gap apart from b's real time, no backlog sent at once
        assert waits == [0.5, 0.25, 0.25, 0.25]
        assert paced.sent == [0.5, b_at, b_at + 0.25, b_at + 0.5]
    else:  # the deadlines stay: c at 1.0, d at 1.25
        assert paced.sent == [0.5, b_at, max(1.0, b_at), 1.25]  # c at once (its time is past)
        assert waits == [0.5, 0.25, 1.25 - b_at]
    assert paced.deadline == paced.sent[-1]


def test_two_trains_in_a_row_with_bytes_between_them() -> None:
    clock = FakeClock()
    first = train(clock, [b"a", b"b"], [0.5, 0.25])
    second = PacedChunks([b"c", b"d"], [0.25, 0.25], 0.75, clock=clock.monotonic)  # on from first's deadline
    app, sink = Body(first, b"between", second), Sink(clock)
    waits = drive(make_run(app, sink), clock)
    assert waits == [0.5, 0.25, 0.25, 0.25]
    assert sink.body_chunks() == [b"a", b"b", b"between", b"c", b"d", b"after"]
    assert sink.time_of(b"between") == 0.75  # the body stepped on as soon as the first train ended
    assert first.sent == [0.5, 0.75] and second.sent == [1.0, 1.25]
    assert app.seen == [(2, False, [0.5, 0.75]), (2, False, [1.0, 1.25])]


def test_an_empty_train_lets_the_body_step_on_at_once() -> None:
    clock = FakeClock()
    empty = train(clock, [], [])
    app, sink = Body(empty), Sink(clock)
    assert drive(make_run(app, sink), clock) == []
    assert sink.body_chunks() == [b"after"]
    assert empty.index == 0 and empty.sent == [] and not empty.stopped
    assert app.seen == [(0, False, [])] and app.finished


def test_the_head_goes_out_before_the_first_wait_after_an_empty_first_chunk() -> None:
    clock = FakeClock()
    sink = Sink(clock)
    run = make_run(Body(train(clock, [b"a"], [0.5])), sink)  # b"" first, as the vLLM stream yields
    assert run.step() == 0.5
    ((at, head, final),) = sink.sends
    assert at == 0.0 and not final and head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")


def test_the_head_goes_out_before_the_first_wait_of_a_train_yielded_first() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a"], [0.5])
    sink = Sink(clock)
    run = make_run(Body(paced, first=None), sink)  # the train is the body's first item
    assert run.step() == 0.5
    ((at, head, final),) = sink.sends
    assert at == 0.0 and not final
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n") and b"chunked" in head.lower()
    clock.advance(0.5)
    assert run.step() is None
    assert sink.body_chunks() == [b"a", b"after"]


def test_a_train_due_at_once_sends_the_head_with_its_first_chunk() -> None:
    clock = FakeClock()
    sink = Sink(clock)
    assert drive(make_run(Body(train(clock, [b"a", b"b"], [0.0, None]), first=None), sink), clock) == []
    assert sink.sends[0][1].startswith(b"HTTP/1.1 200 OK") and sink.sends[0][1].endswith(b"1\r\na\r\n")
    assert sink.body_chunks() == [b"a", b"b", b"after"]


# -- poll, gone, stop ---------------------------------------------------------------------------
def test_poll_cuts_long_waits_and_gone_is_asked_only_after_a_cut_wait() -> None:
    clock = FakeClock()
    asked: list[float] = []

    def gone() -> bool:
        asked.append(clock.monotonic())
        return False
    paced = train(clock, [b"a", b"b"], [1.0, 0.25], poll=0.375, gone=gone)
    sink = Sink(clock)
    waits = drive(make_run(Body(paced), sink), clock)
    assert waits == [0.375, 0.375, 0.25, 0.25]  # 1.0 in slices of at most 0.375, then b's 0.25
    assert asked == [0.375, 0.75]  # after each cut wait that still had time to go; never otherwise
    assert paced.sent == [1.0, 1.25] and not paced.stopped


def test_a_half_closed_client_that_never_waits_long_is_not_cut() -> None:
    clock = FakeClock()
    asked: list[float] = []

    def gone() -> bool:  # the client sent its FIN: it reads on, but says it is gone
        asked.append(clock.monotonic())
        return True
    paced = train(clock, [b"a", b"b", b"c"], [0.25, 0.25, 0.25], poll=0.5, gone=gone)
    app, sink = Body(paced), Sink(clock)
    assert drive(make_run(app, sink), clock) == [0.25, 0.25, 0.25]
    assert asked == [] and not paced.stopped and paced.index == 3
    assert sink.body_chunks() == [b"a", b"b", b"c", b"after"]


def test_a_client_gone_during_a_cut_wait_ends_the_train_and_the_body_sees_it() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c"], [0.25, 1.0, 0.25], poll=0.5, gone=lambda: True)
    app, sink = Body(paced), Sink(clock)
    waits = drive(make_run(app, sink), clock)
    assert waits == [0.25, 0.5]  # a sent, then b's wait is cut and the client is gone
    assert paced.stopped and paced.index == 1 and paced.sent == [0.25]
    assert app.seen == [(1, True, [0.25])] and app.closed and not app.finished
    assert sink.body_chunks() == [b"a", b"saw-stop"]


def test_stop_is_asked_at_each_resume_and_ends_the_train_early() -> None:
    clock = FakeClock()
    asked: list[float] = []

    def stop() -> bool:
        asked.append(clock.monotonic())
        return len(asked) > 3  # the mock stops before c's time
    paced = train(clock, [b"a", b"b", b"c", b"d"], [0.25, 0.25, 0.25, 0.25], stop=stop)
    app, sink = Body(paced), Sink(clock)
    waits = drive(make_run(app, sink), clock)
    assert waits == [0.25, 0.25, 0.25]
    assert asked == [0.0, 0.25, 0.5, 0.75]  # when yielded, then at each resume
    assert paced.stopped and paced.index == 2 and paced.sent == [0.25, 0.5]
    assert app.seen == [(2, True, [0.25, 0.5])] and app.closed and not app.finished
    assert sink.body_chunks() == [b"a", b"b", b"saw-stop"]  # the body stepped on and ended the response


def test_a_train_stopped_before_it_starts_sends_nothing() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a"], [0.25], stop=lambda: True)
    app, sink = Body(paced), Sink(clock)
    assert drive(make_run(app, sink), clock) == []
    assert paced.stopped and paced.index == 0 and paced.sent == []
    assert sink.body_chunks() == [b"saw-stop"]


# -- held sinks, abandoned runs, a client gone ----------------------------------------------------
def test_a_held_sink_returns_hold_and_the_next_step_goes_on_from_the_next_chunk() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c"], [0.25, None, 0.25])
    app, sink = Body(paced), Sink(clock, hold_after=True)
    run = make_run(app, sink)
    assert run.step() == 0.25  # the head went out before the wait
    clock.advance(0.25)
    assert run.step() == HOLD and paced.index == 1  # a went out and the client reads slowly
    sink.held = False
    assert run.step() == HOLD and paced.index == 2  # b (no gap) at once, then held again
    sink.held = False
    assert run.step() == 0.25
    clock.advance(0.25)
    assert run.step() == HOLD and paced.index == 3 and run.train is paced  # the last chunk: held
    sink.held = False
    assert run.step() == HOLD  # the train is over: the body stepped on to b"after"
    assert run.train is None and app.seen == [(3, False, [0.25, 0.5])]
    sink.held = False
    assert run.step() is None and run.done
    assert sink.body_chunks() == [b"a", b"b", b"c", b"after"]
    assert paced.sent == [0.25, 0.5]


@pytest.mark.parametrize("held_for, next_wait, b_at", [
    (0.125, 0.125, 0.5),   # held half a gap: b stays on its time, half a gap away
    (0.375, 0.125, 0.625),  # held past b's time (less than a gap late): b at once, c on its time
])
def test_a_hold_keeps_the_schedule(held_for: float, next_wait: float, b_at: float) -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c"], [0.25, 0.25, 0.25])
    sink = Sink(clock, hold_after=True)
    run = make_run(Body(paced), sink)
    assert run.step() == 0.25
    clock.advance(0.25)
    assert run.step() == HOLD
    clock.advance(held_for)
    sink.held = False
    wait = run.step()
    if b_at > 0.5:  # b went out on this step and held the sink again
        assert wait == HOLD and paced.sent == [0.25, b_at]
        sink.held = False
        wait = run.step()
    assert wait == next_wait
    sink.hold_after = False  # the client reads on
    clock.advance(next_wait)
    drive(run, clock)
    assert paced.sent == [0.25, b_at, 0.75]


@pytest.mark.parametrize("at", ["wait", "hold"])
def test_an_abandoned_run_closes_the_body_mid_train(at: str) -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c"], [0.25, 0.25, 0.25])
    app, sink = Body(paced), Sink(clock, hold_after=at == "hold")
    run = make_run(app, sink)
    assert run.step() == 0.25
    clock.advance(0.25)
    assert run.step() == (HOLD if at == "hold" else 0.25)  # a sent; b not yet
    run.abandon()  # the client or the server went away
    assert run.done and run.close and app.closed and not app.finished
    assert app.seen == []  # the body never stepped on past the train
    assert paced.index == 1 and b"1\r\nb\r\n" not in sink.data
    assert not any(final for _, _, final in sink.sends)  # the response was never ended


def test_a_client_gone_at_a_send_mid_train_ends_the_run_and_closes_the_body() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c"], [0.25, 0.25, 0.25])
    app, sink = Body(paced), Sink(clock, fail_on=2)  # the head and a go out, b fails
    run = make_run(app, sink)
    assert drive(run, clock) == [0.25, 0.25]
    assert run.done and run.close and app.closed and not app.finished
    assert len(sink.sends) == 2 and paced.sent[0] == 0.25


def test_a_pause_after_a_train_is_returned_as_the_next_wait() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a"], [0.25])
    app, sink = Body(paced, Pause(0.5), b"later"), Sink(clock)
    assert drive(make_run(app, sink), clock) == [0.25, 0.5]
    assert sink.time_of(b"later") == 0.75 and sink.body_chunks() == [b"a", b"later", b"after"]


def test_a_known_length_response_keeps_the_schedule_and_sends_its_body_as_one() -> None:
    clock = FakeClock()
    paced = train(clock, [b"ab", b"cd"], [0.25, 0.25])

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[Any]:
        start_response("200 OK", [("Content-Length", "4")])
        yield paced
    sink = Sink(clock)
    assert drive(make_run(app, sink), clock) == [0.25, 0.25]
    ((at, data, final),) = sink.sends  # buffered: head and body in one write, at the end
    assert at == 0.5 and final and data.endswith(b"\r\n\r\nabcd")
    assert paced.sent == [0.25, 0.5]


def test_a_chunk_whose_send_failed_has_no_send_time() -> None:
    clock = FakeClock()
    paced = train(clock, [b"a", b"b", b"c"], [0.25, 0.25, 0.25])
    sink = Sink(clock, fail_on=2)  # the head and a go out, b fails
    drive(make_run(Body(paced), sink), clock)
    assert paced.index == 1
    assert paced.sent == [0.25]
