"""A model of vLLM's scheduler admission: at most ``max_num_seqs`` sequences run at once, the rest wait.

A request asks for as many sequences as it has choices (``n``); it waits (FIFO) until all fit.
The counts feed ``vllm:num_requests_running`` / ``vllm:num_requests_waiting``.
"""
from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass


class SchedulerStopped(Exception):
    """Raised to a waiting request when the server is stopping."""


@dataclass
class Ticket:
    """One admitted request; pass it back to :meth:`Scheduler.release`."""

    id: int
    seqs: int
    tokens: int


class Scheduler:
    """Thread-safe admission control with FIFO waiting."""

    def __init__(self, max_num_seqs: int = 256, kv_capacity_tokens: int = 1) -> None:
        if max_num_seqs < 1:
            raise ValueError("max_num_seqs must be at least 1")
        self._cond = threading.Condition()
        self.max_num_seqs = max_num_seqs
        self.kv_capacity_tokens = max(1, kv_capacity_tokens)
        self._running: dict[int, Ticket] = {}
        self._seqs = 0  # the running tickets' sequences, kept as they come and go (probed per request)
        self._waiting: deque[int] = deque()
        self._ids = itertools.count(1)
        self.num_preemptions = 0

    def set_max_num_seqs(self, value: int) -> None:
        if value < 1:
            raise ValueError("max_num_seqs must be at least 1")
        with self._cond:
            self.max_num_seqs = value
            self._cond.notify_all()

    @property
    def running_seqs(self) -> int:
        return self._seqs

    def counts(self) -> tuple[int, int]:
        """(running requests, waiting requests)."""
        with self._cond:
            return len(self._running), len(self._waiting)

    def kv_cache_usage(self) -> float:
        """Tokens held by running requests over the simulated KV capacity, clamped to 0..1."""
        with self._cond:
            used = sum(t.tokens * t.seqs for t in self._running.values())
        return min(1.0, used / self.kv_capacity_tokens)

    def _fits(self, seqs: int) -> bool:
        # A request larger than the whole batch still runs alone rather than waiting forever.
        return self.running_seqs + seqs <= self.max_num_seqs or not self._running

    def idle(self) -> bool:
        """Nothing running and nothing waiting."""
        return not self._running and not self._waiting

    def admits_at_once(self) -> bool:
        """Nobody waiting and room for one more sequence: a request of one choice arriving now
        is admitted without waiting (one of ``n`` > 1 choices may then run over the bound by
        the choices that do not fit, until it ends; see `acquire(wait=False)`)."""
        return not self._waiting and (self._seqs < self.max_num_seqs or not self._running)

    def acquire(self, seqs: int = 1, tokens: int = 0, stop: threading.Event | None = None,
                poll: float = 0.05, *, wait: bool = True) -> Ticket:
        """Block until the request is admitted; raise SchedulerStopped if ``stop`` gets set.

        ``wait=False`` admits at once (for a request running on an event loop, which must not
        block): it was sent there because `admits_at_once` said so, so it only exceeds the bound
        when another request raced it in or it asks for more sequences than were free, and then
        only while it runs."""
        with self._cond:
            tid = next(self._ids)
            if not wait or (not self._waiting and self._fits(seqs)):  # admitted now: nobody to wake
                ticket = self._running[tid] = Ticket(tid, seqs, tokens)
                self._seqs += seqs
                return ticket
            self._waiting.append(tid)
            try:
                while not (self._waiting[0] == tid and self._fits(seqs)):
                    if stop is not None and stop.is_set():
                        raise SchedulerStopped()
                    self._cond.wait(poll)
            finally:
                self._waiting.remove(tid)
                self._cond.notify_all()
            ticket = Ticket(tid, seqs, tokens)
            self._running[tid] = ticket
            self._seqs += seqs
            return ticket

    def release(self, ticket: Ticket) -> None:
        with self._cond:
            if self._running.pop(ticket.id, None) is not None:
                self._seqs -= ticket.seqs
            if self._waiting:
                self._cond.notify_all()

    def reset(self) -> None:
        """Forget counters and free every slot (issue 17: a leaked slot must not outlive a reset).

        Requests still running keep going; their later release of a freed slot is a no-op.
        """
        with self._cond:
            self.num_preemptions = 0
            self._running.clear()
            self._seqs = 0
            self._cond.notify_all()
