"""Injectable clocks: domain time comes from here so tests can move time without sleeping."""
from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What a mock needs from time: wall time, a monotonic reading, and a way to wait."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; `sleep` advances it instantly.

    Wall and monotonic readings move together, so code may use either.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._mono = 0.0

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (never backwards) and return the new wall time."""
        if seconds < 0:
            raise ValueError("a FakeClock never goes backwards")
        with self._lock:
            self._now += seconds
            self._mono += seconds
            return self._now

    def set(self, epoch: float) -> None:
        """Jump to a wall time at or after the current one."""
        with self._lock:
            delta = epoch - self._now
            if delta < 0:
                raise ValueError("a FakeClock never goes backwards")
            self._now = float(epoch)
            self._mono += delta

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)


__all__ = ["Clock", "SystemClock", "FakeClock"]
