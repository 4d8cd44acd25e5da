"""Injectable clocks: domain time comes from here so tests can move time without sleeping."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Protocol, Union, runtime_checkable

#: a duration: seconds (int or float) or a `datetime.timedelta`, accepted wherever mocktools takes one
Duration = Union[float, int, timedelta]


def to_seconds(value: Duration, name: str = "duration") -> float:
    """Seconds from a number or a timedelta; a clear TypeError for anything else (bools included)."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{name} must be seconds (int or float) or a datetime.timedelta, got {type(value).__name__}")


def to_seconds_or_none(value: Duration | None, name: str = "duration") -> float | None:
    return None if value is None else to_seconds(value, name)


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

    def advance(self, seconds: Duration) -> float:
        """Move time forward by `seconds` (or a timedelta; never backwards) and return the new wall time."""
        seconds = to_seconds(seconds, "FakeClock.advance(seconds)")
        if seconds < 0:
            raise ValueError("a FakeClock never goes backwards")
        with self._lock:
            self._now += seconds
            self._mono += seconds
            return self._now

    def set(self, epoch: float | datetime) -> None:
        """Jump to a wall time (epoch seconds or an aware datetime) at or after the current one."""
        if isinstance(epoch, datetime):
            epoch = epoch.timestamp()
        with self._lock:
            delta = epoch - self._now
            if delta < 0:
                raise ValueError("a FakeClock never goes backwards")
            self._now = float(epoch)
            self._mono += delta

    def sleep(self, seconds: Duration) -> None:
        seconds = to_seconds(seconds, "sleep(seconds)")
        if seconds > 0:
            self.advance(seconds)


__all__ = ["Clock", "SystemClock", "FakeClock", "Duration", "to_seconds", "to_seconds_or_none"]
