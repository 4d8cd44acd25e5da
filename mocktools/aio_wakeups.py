"""What the asyncio engine's loop is asked to run later: paused streams' wake-ups in buckets, and
calls posted from worker threads, batched per wake-up of the loop."""
from __future__ import annotations

import asyncio
import collections
import math
from typing import Any

#: paused streams wake in buckets this wide: one loop timer per bucket rather than one per pause
#: (asyncio's timer heap compares handles in Python: a third of a resumed step's cost at 1,000
#: streams); a stream wakes at most this much after its pause ends
WAKE_TICK = 0.0005


class WakeBuckets:
    """Resumes paused exchanges (`exchange.proto.resume_exchange`) when their pause is over."""

    __slots__ = ("_buckets", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._buckets: dict[int, list[Any]] = {}  # bucket -> paused exchanges to resume then

    def later(self, exchange: Any, seconds: float) -> None:
        """Resume a paused exchange after `seconds` (loop thread); `exchange.timer` names its
        bucket until then, and a cancelled one (`timer = None`) is skipped when the bucket fires."""
        if seconds <= 0:
            exchange.timer = 0
            self.loop.call_soon(self._wake, 0, [exchange])
            return
        slot = math.ceil((self.loop.time() + seconds) / WAKE_TICK)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = []
            self.loop.call_at(slot * WAKE_TICK, self._wake, slot, None)
        bucket.append(exchange)
        exchange.timer = slot

    def _wake(self, slot: int, exchanges: list[Any] | None) -> None:
        for exchange in exchanges if exchanges is not None else self._buckets.pop(slot, ()):
            if exchange.timer == slot:
                exchange.proto.resume_exchange(exchange)


class Outbox:
    """Calls from worker threads to run on the loop. Calls posted while the loop has not yet
    woken share one wake-up (one self-pipe write for a burst of SSE chunks, not one each)."""

    __slots__ = ("_armed", "_calls", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._calls: collections.deque[tuple[Any, tuple[Any, ...]]] = collections.deque()
        self._armed = False

    def post(self, fn: Any, *args: Any) -> bool:
        """Run `fn(*args)` on the loop, from any thread; False once the loop is closed."""
        self._calls.append((fn, args))
        if not self._armed:
            self._armed = True
            try:
                self.loop.call_soon_threadsafe(self._run)
            except RuntimeError:  # the loop is closed: the server stopped
                return False
        return not self.loop.is_closed()

    def take(self) -> list[tuple[Any, tuple[Any, ...]]]:
        """What is still posted, taken out (after the loop's last pass: it never runs now)."""
        taken, calls = [], self._calls
        while calls:
            try:  # (the closer thread's last loop pass may take from it too)
                taken.append(calls.popleft())
            except IndexError:
                break
        return taken

    def _run(self) -> None:
        self._armed = False
        calls = self._calls
        while calls:
            try:
                fn, args = calls.popleft()
            except IndexError:  # drained meanwhile by server_close (after the loop's last pass)
                break
            try:
                fn(*args)
            except (RuntimeError, OSError):  # a transport closed under a late write: nothing to do
                pass


__all__ = ["WAKE_TICK", "Outbox", "WakeBuckets"]
