"""A paced stream's chunks in trains (`http_connection.PacedChunks`): the engine's driver sends
them at their times, so a stream is stepped once per train instead of once per token (1,000
streams at 50 tokens/s each are 50,000 sends a second on one loop thread). The schedule is the
one `Engine.stream`'s own loop keeps for a stream with a fault to apply."""
from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from ..http_connection import PacedChunks

if TYPE_CHECKING:
    from .engine import Job

POLL_SECONDS = 0.5  # a paced stream's longest single pause (it checks the client between them)
#: a paced token sent later than this fraction of its gap re-anchors the stream's schedule: the
#: tokens after it are due one gap apart from it (a server that far behind decodes later, it does
#: not send a backlog at once, which a client sees as 0 ms gaps); smaller lateness is made up by
#: the next deadline. 1.0: exactly when the next token would already be due (0.5 was tried: the
#: 1,000-stream fleet's median gap +13-20 % against +7-12 %, more stretched streams)
LATE_FRACTION = 1.0
#: chunks a paced stream encodes ahead and hands the engine at once (http_connection.PacedChunks)
TRAIN_CHUNKS = 16


class StreamTiming:
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


def paced_trains(engine: Any, source: Iterator[tuple[int, dict[str, Any] | bytes]], timing: StreamTiming,
                 encode: Callable[[Any], bytes], terminal: Callable[[Any], bool] | None,
                 client_alive: Callable[[], bool] | None, clock: Callable[[], float],
                 stopping: Callable[[], bool]) -> Generator[Any, None, bool]:
    """The paced stream's chunks in trains the engine paces (`PacedChunks`, `TRAIN_CHUNKS`
    encoded at a time: no step of the stream per token), on the schedule of `Engine.stream`'s
    own loop; returns whether it stopped early (the server stops, or the client went away).
    ``clock`` and ``stopping`` are the stream's (the engine's clock and stop event, bound once).

    A terminal event (Responses, Anthropic) ends its train: the train waits out its time
    (an empty chunk), the metrics are settled, then the event goes, as in `Engine.stream`. A
    `set_timing` while a train is on its way ends that train when it next wakes; the chunks
    it had not sent go on in a new train on the new timing."""
    gone = None if client_alive is None else (lambda: not client_alive())
    version = engine.timing_changes

    def stop() -> bool:  # (one for every train: the server stops, or the timing changed)
        return stopping() or engine.timing_changes != version
    deadline, built_step, sent_step, train = timing.admitted, 0, 0, None
    carry: list[tuple[int | None, bytes]] = []  # (a timed chunk's step, or None; its event) not sent yet
    kept: float | None = None  # the gap waited when the timing changed: it stays (the new one is for the next)
    ending: bytes | None = None  # the terminal event: it goes once its train is over
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
                    gaps.append(kept if kept is not None else engine.ttft if first else engine.itl * (timed - previous))
                    first, previous, kept = False, timed, None
            train = PacedChunks([event for _, event in items], gaps, deadline, clock=clock, late=LATE_FRACTION,
                                poll=POLL_SECONDS, stop=stop, gone=gone, inline=True)
            yield train
            deadline, went, index = train.deadline, len(train.sent), train.index
            stopped, train = timing.sent(train), None
            if went:
                sent_step = [timed for timed, _ in items if timed is not None][went - 1]
            if stopped:
                if stopping() or engine.timing_changes == version:
                    return True
                version, carry = engine.timing_changes, items[index:]  # new timing: the rest goes on
                kept = next((gap for gap in gaps[index:] if gap is not None), None)
                continue
            if ending is not None:
                timing.finish(None)
                yield ending
                ending = None
    finally:
        if train is not None:  # closed while a train ran: what it sent still counts
            timing.sent(train)
