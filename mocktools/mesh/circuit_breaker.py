"""A circuit breaker with resilience4j semantics, on an injectable clock.

CLOSED records every outcome in a sliding window (the last N calls, or the last N seconds); once the
window holds ``minimum_calls`` and the failure rate (or failure count) or slow-call rate reaches its
threshold it opens. OPEN rejects without calling until ``wait_duration`` has passed on the clock;
the next attempt moves it to HALF_OPEN, which lets exactly ``half_open_calls`` trial calls through
(enforced under a lock, whatever the concurrency) and decides on their outcomes: CLOSED or OPEN
again. FORCED_OPEN always rejects, DISABLED always permits and records nothing. Every transition is
an event (time, edge, from, to, reason) handed to listeners.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..clock import Clock
from mocktools.errors import WireError

__all__ = ["BreakerConfig", "CircuitBreaker", "BreakerEvent", "CallNotPermitted", "is_flapping",
           "CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED"]

CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED = "CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED"


class CallNotPermitted(WireError, RuntimeError):
    """The breaker rejected the call without touching the callee."""

    status = 503


@dataclass(frozen=True)
class BreakerConfig:
    failure_rate_threshold: float = 50.0  # percent, opens at >=
    failure_count_threshold: int | None = None  # or: open at >= this many failures in the window
    slow_call_rate_threshold: float = 100.0  # percent
    slow_call_duration: float = 60.0  # seconds; a call is slow when strictly longer
    window_type: str = "count"  # "count" (last N calls) or "time" (last N seconds)
    window_size: int = 100
    minimum_calls: int = 100
    wait_duration: float = 60.0  # seconds in OPEN before a trial
    half_open_calls: int = 10
    failure_statuses: tuple[int, ...] = tuple(range(500, 600))
    count_timeouts: bool = True
    count_connection_errors: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.failure_rate_threshold <= 100:
            problems.append("failure_rate_threshold must be in (0, 100]")
        if not 0 < self.slow_call_rate_threshold <= 100:
            problems.append("slow_call_rate_threshold must be in (0, 100]")
        if self.failure_count_threshold is not None and self.failure_count_threshold < 1:
            problems.append("failure_count_threshold must be >= 1")
        if self.window_type not in ("count", "time"):
            problems.append("window_type must be 'count' or 'time'")
        if self.window_size < 1 or self.minimum_calls < 1 or self.half_open_calls < 1:
            problems.append("window_size, minimum_calls and half_open_calls must be >= 1")
        if self.slow_call_duration <= 0 or self.wait_duration < 0:
            problems.append("slow_call_duration must be > 0 and wait_duration >= 0")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], base: BreakerConfig | None = None) -> BreakerConfig:
        """Overlay ``doc`` on ``base`` (or the defaults); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise ValueError(f"unknown breaker settings {sorted(unknown)}; known: {sorted(known)}")
        merged = {**asdict(base or cls()), **doc}
        merged["failure_statuses"] = tuple(merged["failure_statuses"])
        return cls(**merged)

    @property
    def effective_minimum(self) -> int:
        """For a count window the minimum is capped at its size (as resilience4j does)."""
        return min(self.minimum_calls, self.window_size) if self.window_type == "count" else self.minimum_calls

    def is_failure(self, status: int, kind: str = "status") -> bool:
        """Which outcomes count: configured statuses, timeouts, connection errors."""
        if kind == "timeout":
            return self.count_timeouts
        if kind == "connection":
            return self.count_connection_errors
        return status in self.failure_statuses


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    time: float
    edge: str
    from_state: str
    to_state: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "edge": self.edge, "from": self.from_state, "to": self.to_state,
                "reason": self.reason}


class _Window:
    """Outcomes in a count buffer of (failed, slow) with running sums (O(1) per call), or
    [second, calls, failed, slow] buckets for a time window."""

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.calls: deque = deque()
        self.failed = self.slow = 0

    def add(self, failed: bool, slow: bool, now: float) -> None:
        if self.config.window_type == "count":
            self.calls.append((failed, slow))
            self.failed += failed
            self.slow += slow
            if len(self.calls) > self.config.window_size:
                old_failed, old_slow = self.calls.popleft()
                self.failed -= old_failed
                self.slow -= old_slow
            return
        second = int(now)
        if not self.calls or self.calls[-1][0] != second:
            self.calls.append([second, 0, 0, 0])
        bucket = self.calls[-1]
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow

    def totals(self, now: float) -> tuple[int, int, int]:
        if self.config.window_type == "count":
            return len(self.calls), self.failed, self.slow
        while self.calls and self.calls[0][0] <= int(now) - self.config.window_size:
            self.calls.popleft()
        return (sum(b[1] for b in self.calls), sum(b[2] for b in self.calls), sum(b[3] for b in self.calls))


class CircuitBreaker:
    def __init__(self, edge: str, config: BreakerConfig, clock: Clock,
                 listeners: Iterable[Callable[[BreakerEvent], None]] = ()) -> None:
        self.edge, self.config, self.clock = edge, config, clock
        self.listeners = list(listeners)
        self._lock = threading.Lock()
        self._state = CLOSED
        self._window = _Window(config)
        self._opened_at = 0.0
        self._permits = 0  # HALF_OPEN trial calls still allowed
        self._trials: list[tuple[bool, bool]] = []
        self.not_permitted = 0
        self.events: list[BreakerEvent] = []

    @property
    def state(self) -> str:
        return self._state

    # ---- the call protocol -------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """May a call go out now? Counts a rejection; OPEN turns HALF_OPEN once the wait is over."""
        pending: list[BreakerEvent] = []
        with self._lock:
            if self._state == OPEN and self.clock.monotonic() - self._opened_at >= self.config.wait_duration:
                pending.append(self._move(HALF_OPEN, f"wait of {self.config.wait_duration}s elapsed"))
            if self._state in (CLOSED, DISABLED):
                allowed = True
            elif self._state == HALF_OPEN and self._permits > 0:
                self._permits -= 1
                allowed = True
            else:
                self.not_permitted += 1
                allowed = False
        self._emit(pending)
        return allowed

    def acquire(self) -> None:
        if not self.try_acquire():
            raise CallNotPermitted(f"circuit breaker {self.edge} is {self._state}")

    def release(self) -> None:
        """A permitted call whose outcome is ignored: a HALF_OPEN permit goes back."""
        with self._lock:
            if self._state == HALF_OPEN:
                self._permits += 1

    def record(self, failed: bool, duration: float = 0.0) -> None:
        """Record a permitted call's outcome and apply the state rules."""
        slow = duration > self.config.slow_call_duration
        pending: list[BreakerEvent] = []
        with self._lock:
            if self._state == CLOSED:
                now = self.clock.monotonic()
                self._window.add(failed, slow, now)
                reason = self._verdict(*self._window.totals(now), self.config.effective_minimum)
                if reason:
                    pending.append(self._open(reason))
            elif self._state == HALF_OPEN:
                self._trials.append((failed, slow))
                if len(self._trials) >= self.config.half_open_calls:
                    total = len(self._trials)
                    reason = self._verdict(total, sum(f for f, _ in self._trials),
                                           sum(s for _, s in self._trials), total)
                    pending.append(self._open("trial calls: " + reason) if reason
                                   else self._move(CLOSED, f"{total} trial calls below thresholds"))
        self._emit(pending)

    def call(self, fn: Callable[[], Any], is_failure: Callable[[Any], bool] = lambda _: False) -> Any:
        """Run ``fn`` under the breaker (an exception is a failure); raises CallNotPermitted."""
        self.acquire()
        t0 = self.clock.monotonic()
        try:
            result = fn()
        except Exception:
            self.record(True, self.clock.monotonic() - t0)
            raise
        self.record(is_failure(result), self.clock.monotonic() - t0)
        return result

    def _verdict(self, total: int, failed: int, slow: int, minimum: int) -> str:
        if total < minimum:
            return ""
        cfg = self.config
        if cfg.failure_count_threshold is not None and failed >= cfg.failure_count_threshold:
            return f"{failed} failures >= {cfg.failure_count_threshold}"
        failure_rate, slow_rate = failed * 100.0 / total, slow * 100.0 / total
        if failure_rate >= cfg.failure_rate_threshold:
            return f"failure rate {failure_rate:.1f}% >= {cfg.failure_rate_threshold}% over {total} calls"
        if slow_rate >= cfg.slow_call_rate_threshold:
            return f"slow-call rate {slow_rate:.1f}% >= {cfg.slow_call_rate_threshold}% over {total} calls"
        return ""

    # ---- transitions -------------------------------------------------------------------------
    def _open(self, reason: str) -> BreakerEvent:
        self._opened_at = self.clock.monotonic()
        return self._move(OPEN, reason)

    def _move(self, to: str, reason: str) -> BreakerEvent:
        event = BreakerEvent(self.clock.time(), self.edge, self._state, to, reason)
        self._state = to
        self._window = _Window(self.config)
        self._trials = []
        self._permits = self.config.half_open_calls if to == HALF_OPEN else 0
        self.events.append(event)
        return event

    def _emit(self, events: list[BreakerEvent]) -> None:
        for event in events:
            for listener in list(self.listeners):
                listener(event)

    def _force(self, to: str, reason: str) -> None:
        with self._lock:
            event = self._open(reason) if to == OPEN else self._move(to, reason)
        self._emit([event])

    def force_open(self) -> None:
        self._force(FORCED_OPEN, "forced open")

    def disable(self) -> None:
        self._force(DISABLED, "disabled")

    def reset(self) -> None:
        """Back to CLOSED with an empty window (also ends FORCED_OPEN / DISABLED)."""
        self._force(CLOSED, "reset")

    def transition_to_open(self, reason: str = "manual") -> None:
        self._force(OPEN, reason)

    def metrics(self) -> dict[str, Any]:
        with self._lock:
            total, failed, slow = self._window.totals(self.clock.monotonic())
            return {"edge": self.edge, "state": self._state, "calls": total, "failed": failed, "slow": slow,
                    "failure_rate": failed * 100.0 / total if total else 0.0,
                    "slow_rate": slow * 100.0 / total if total else 0.0,
                    "not_permitted": self.not_permitted, "half_open_permits": self._permits}


def is_flapping(events: Iterable[BreakerEvent], *, window: float, opens: int = 3) -> bool:
    """Repeated open/close: at least ``opens`` transitions into OPEN within any ``window`` seconds."""
    times = sorted(e.time for e in events if e.to_state == OPEN)
    return any(times[i + opens - 1] - times[i] <= window for i in range(len(times) - opens + 1))
