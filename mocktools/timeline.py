"""A timeline: controls scheduled across several mocks on one clock, reproducible from one seed.

`registry.timeline()` returns one bound to a MockRegistry's shared FakeClock. Times are seconds
since the timeline began; `jitter` draws each event's offset from the timeline's seeded RNG when
it is scheduled, so the same seed gives the same schedule. Events fire in time order (ties in
the order scheduled) when the timeline moves the clock (`advance`, `run_until`), and on
`fire_due()` once the clock has moved by other means (a mock's own waits on a FakeClock).
"""
from __future__ import annotations

import heapq
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock, FakeClock
from .lifecycle import MockServerBase

Action = Callable[[MockServerBase], Any]


@dataclass(order=True)
class Event:
    """One scheduled control: at `at` seconds, call `action` on the mock named `target`."""

    at: float
    order: int
    target: str = field(compare=False)
    action: Action = field(compare=False, repr=False)
    label: str = field(compare=False, default="")
    fired_at: float | None = field(compare=False, default=None)


class Timeline:
    """Scheduled controls over the mocks of a registry, on its clock."""

    def __init__(self, clock: Clock, mocks: Mapping[str, MockServerBase], seed: int | None = None) -> None:
        self.clock = clock
        self.mocks = mocks
        self.seed = seed
        self.rng = random.Random(seed)
        self.origin = clock.monotonic()
        self._queue: list[Event] = []
        self._order = 0
        self._lock = threading.RLock()
        self.fired: list[Event] = []

    @property
    def now(self) -> float:
        """Seconds since the timeline began, on its clock."""
        return self.clock.monotonic() - self.origin

    def at(self, seconds: float, target: str, action: str | Action, *args: Any, jitter: float = 0.0,
           **kwargs: Any) -> Event:
        """At `seconds` (plus a seeded uniform draw in [0, jitter]), call `mock.<action>(*args,
        **kwargs)` on the mock named `target`, or `action(mock)` when it is a callable."""
        if target not in self.mocks:
            raise KeyError(f"no mock named {target!r}; registered: {sorted(self.mocks)}")
        if seconds < 0 or jitter < 0:
            raise ValueError("timeline times and jitter must be >= 0")
        if isinstance(action, str):
            name = action
            if not callable(getattr(self.mocks[target], name, None)):
                raise AttributeError(f"mock {target!r} has no control {name!r}")  # noqa: TRY004
            fn: Action = lambda mock: getattr(mock, name)(*args, **kwargs)  # noqa: E731
            label = f"{target}.{name}({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})"
        else:
            fn, label = action, f"{target}: {getattr(action, '__name__', 'action')}"
        with self._lock:
            when = seconds + (self.rng.uniform(0.0, jitter) if jitter else 0.0)
            self._order += 1
            event = Event(when, self._order, target, fn, label)
            heapq.heappush(self._queue, event)
        return event

    def every(self, interval: float, target: str, action: str | Action, *args: Any, start: float = 0.0,
              until: float, jitter: float = 0.0, **kwargs: Any) -> list[Event]:
        """The same control every `interval` seconds from `start` up to `until` (inclusive)."""
        if interval <= 0:
            raise ValueError("interval must be > 0")
        events, t = [], start
        while t <= until + 1e-9:
            events.append(self.at(t, target, action, *args, jitter=jitter, **kwargs))
            t += interval
        return events

    def pending(self) -> list[Event]:
        with self._lock:
            return sorted(self._queue)

    def fire_due(self) -> list[Event]:
        """Fire every event whose time has come (the clock moved by other means)."""
        return self._fire_until(self.now)

    def _fire_until(self, t: float) -> list[Event]:
        fired = []
        with self._lock:
            while self._queue and self._queue[0].at <= t + 1e-9:
                event = heapq.heappop(self._queue)
                event.fired_at = self.now
                event.action(self.mocks[event.target])
                self.fired.append(event)
                fired.append(event)
        return fired

    def advance(self, seconds: float) -> list[Event]:
        """Move the clock forward by `seconds`, stopping at each event to fire it in order."""
        if seconds < 0:
            raise ValueError("a timeline never goes backwards")
        return self.run_until(self.now + seconds)

    def run_until(self, t: float) -> list[Event]:
        """Move the clock to `t` seconds since the start, firing every event due on the way."""
        clock = self.clock
        if not isinstance(clock, FakeClock):
            raise TypeError("advancing a timeline needs a FakeClock (MockRegistry(clock=FakeClock()))")
        fired = self.fire_due()
        with self._lock:
            while self._queue and self._queue[0].at <= t + 1e-9:
                step = self._queue[0].at - self.now
                if step > 0:
                    clock.advance(step)
                fired += self._fire_until(self.now)
            rest = t - self.now
            if rest > 0:
                clock.advance(rest)
        return fired

    def schedule(self) -> list[tuple[float, str]]:
        """(time, label) of every event, fired and pending, in time order: what a seed produced."""
        with self._lock:
            return [(round(e.at, 6), e.label) for e in sorted(self.fired + self._queue)]


__all__ = ["Event", "Timeline"]
