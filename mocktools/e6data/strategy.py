"""Blue/green deployment strategy of the e6data engine, as a state machine on an injectable clock.

The engine runs on one strategy (``blue`` or ``green``). A switch goes in two steps:

1. *announce* (every ``interval`` seconds, or ``switch_strategy()``): the other strategy becomes
   *pending*; responses carry ``new_strategy=<pending>``; both strategies are accepted.
2. *complete*: once the announcement has reached a client (or ``drain_timeout`` passed) and no
   query started on the old strategy is still open (or ``drain_timeout`` passed), the pending
   strategy becomes active. From then on a request whose ``strategy`` header names the old
   strategy is refused with the exact 456 signal - except calls for a query that was started
   on it, which may finish where they began.

Every step is kept in ``events`` and logged on the ``mocktools.e6data`` logger.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mocktools.clock import Clock, SystemClock
from mocktools.errors import WireError

log = logging.getLogger("mocktools.e6data")

STRATEGIES = ("blue", "green")


def other(strategy: str) -> str:
    return "green" if strategy == "blue" else "blue"


@dataclass
class StrategyEvent:
    """One recorded step: announced, notified, switched, rejected."""

    time: float
    kind: str
    old: str
    new: str
    detail: dict[str, Any] = field(default_factory=dict)


class StrategyMismatch(WireError):
    """A request named a strategy the engine no longer serves (wire: UNKNOWN "status: 456")."""

    def __init__(self, sent: str, active: str) -> None:
        super().__init__(f"strategy {sent!r} is not served (active: {active!r})", status=456, grpc_code="UNKNOWN")
        self.sent = sent
        self.active = active


class StrategyManager:
    """Thread-safe blue/green state; every public call first catches up with the clock."""

    def __init__(self, clock: Clock | None = None, *, initial: str = "blue",
                 interval: float | None = 120.0, drain_timeout: float = 60.0,
                 enforce: bool = True) -> None:
        if initial not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}")
        self.clock = clock or SystemClock()
        self.interval = interval
        self.drain_timeout = drain_timeout
        self.enforce = enforce
        self._initial = initial
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.active = self._initial
            self.pending: str | None = None
            self._announced_at = 0.0
            self._notified = False
            self._since = self.clock.time()
            self._open: dict[str, int] = {"blue": 0, "green": 0}
            self.events: deque[StrategyEvent] = deque(maxlen=1000)
            self.rejections = 0
            self.switches = 0

    # -- time ---------------------------------------------------------------------------
    def tick(self) -> None:
        """Announce when the interval is up; complete a pending switch when it may."""
        with self._lock:
            now = self.clock.time()
            if self.pending is None:
                if self.interval and now - self._since >= self.interval:
                    self._announce(now, reason="interval")
            if self.pending is not None:
                self._maybe_complete(now)

    def _announce(self, now: float, reason: str) -> None:
        self.pending = other(self.active)
        self._announced_at = now
        self._notified = False
        self.events.append(StrategyEvent(now, "announced", self.active, self.pending, {"reason": reason}))
        log.info("Strategy change pending: %s -> %s", self.active, self.pending)

    def _maybe_complete(self, now: float, force: bool = False) -> None:
        overdue = now - self._announced_at >= self.drain_timeout
        drained = self._open[self.active] == 0
        if force or ((self._notified or overdue) and (drained or overdue)):
            old, new = self.active, self.pending
            assert new is not None
            self.active, self.pending = new, None
            self._since = now
            self.switches += 1
            self.events.append(StrategyEvent(now, "switched", old, new,
                                             {"forced": force, "open_on_old": self._open[old]}))
            log.info("Strategy switched from %s to %s", old, new)

    # -- controls -----------------------------------------------------------------------
    def switch_strategy(self, *, immediate: bool = False) -> str:
        """Announce a switch now (no-op if one is pending); ``immediate`` also completes it.

        Returns the strategy that is (or will be) active after the switch."""
        with self._lock:
            now = self.clock.time()
            if self.pending is None:
                self._announce(now, reason="manual")
            if immediate:
                self._maybe_complete(now, force=True)
                return self.active
            self._maybe_complete(now)
            return self.pending or self.active

    def set_strategy(self, strategy: str) -> None:
        """Jump straight to ``strategy`` (no announcement): old-strategy clients get 456."""
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}")
        with self._lock:
            if strategy != self.active:
                self.events.append(StrategyEvent(self.clock.time(), "switched", self.active, strategy,
                                                 {"forced": True, "announced": False}))
                log.info("Strategy switched from %s to %s", self.active, strategy)
                self.switches += 1
            self.active, self.pending = strategy, None
            self._since = self.clock.time()

    # -- request path -------------------------------------------------------------------
    def check(self, sent: str | None, method: str = "", query_strategy: str | None = None) -> str:
        """Validate the ``strategy`` header of one call and return the strategy serving it.

        ``query_strategy`` is the strategy a query was started on: calls for that query are
        served there even after a switch. A missing header is served by the active strategy.
        """
        self.tick()
        with self._lock:
            value = (sent or "").strip().lower()
            if not value or not self.enforce:
                return query_strategy or self.active
            allowed = {self.active}
            if self.pending:
                allowed.add(self.pending)
            if query_strategy:
                allowed.add(query_strategy)
            if value in allowed:
                return value
            self.rejections += 1
            self.events.append(StrategyEvent(self.clock.time(), "rejected", value, self.active,
                                             {"method": method}))
            log.info("Rejected %s with strategy %s (active: %s): status 456", method, value, self.active)
            raise StrategyMismatch(value, self.active)

    def announcement(self) -> str | None:
        """The value for a response's ``new_strategy`` field (None when nothing is pending)."""
        with self._lock:
            if self.pending is None:
                return None
            if not self._notified:
                self._notified = True
                now = self.clock.time()
                self.events.append(StrategyEvent(now, "notified", self.active, self.pending))
                log.info("Notifying client about pending strategy change to: %s", self.pending)
            return self.pending

    def query_opened(self, strategy: str) -> None:
        with self._lock:
            self._open[strategy] = self._open.get(strategy, 0) + 1

    def query_closed(self, strategy: str) -> None:
        with self._lock:
            self._open[strategy] = max(0, self._open.get(strategy, 0) - 1)
        self.tick()

    def open_queries(self) -> dict[str, int]:
        with self._lock:
            return dict(self._open)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "active": self.active, "pending": self.pending, "interval": self.interval,
                "drain_timeout": self.drain_timeout, "switches": self.switches,
                "rejections": self.rejections, "open_queries": dict(self._open),
                "events": [dict(e.__dict__) for e in list(self.events)[-50:]],
            }
