"""An elastic pool of worker threads for blocking WSGI handlers (joined on shutdown, reaped when idle).

Threads are made only when every existing one is busy, so a mock that serves one request at a
time keeps one thread. Up to `soft_limit` threads are made at once; beyond it a thread is added
only for a task that has waited `starve_after` seconds while no worker took one (they are blocked, e.g. in
1,000 concurrent SSE streams that sleep between tokens, not merely busy): many runnable threads
contending for one GIL are what made the thread-per-connection tail latency. Idle threads beyond
`keep` exit after `idle_seconds`.
"""
from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

_STOP = object()


class WorkerPool:
    def __init__(self, name: str, *, max_workers: int = 4096, keep: int = 4, idle_seconds: float = 30.0,
                 soft_limit: int = 8, starve_after: float = 0.005) -> None:
        self.name = name
        self.max_workers = max_workers
        self.soft_limit = soft_limit
        self.starve_after = starve_after
        self._queued_at: collections.deque[float] = collections.deque()
        self._watchdog: threading.Thread | None = None
        self.keep = keep
        self.idle_seconds = idle_seconds
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._pending = 0
        self._taken = 0
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is shut down")
            self._pending += 1
            self._queued_at.append(time.monotonic())
            short = self._pending > self._idle
            spawn = short and len(self._threads) < min(self.soft_limit, self.max_workers)
            if spawn:
                thread = self._new_thread()
            watch = short and not spawn and self._watchdog is None and len(self._threads) < self.max_workers
            if watch:
                watchdog = self._watchdog = threading.Thread(target=self._watch, name=f"{self.name}-watch",
                                                             daemon=True)
        self._queue.put((fn, args))
        if spawn:
            thread.start()
        if watch:
            watchdog.start()

    def _new_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True)
        self._threads.add(thread)
        return thread

    def _watch(self) -> None:
        """While tasks wait, add workers for those that waited `starve_after` (blocked pool)."""
        taken = -1
        while True:
            time.sleep(self.starve_after)
            fresh: list[threading.Thread] = []
            with self._lock:
                if self._closed or not self._queued_at:
                    self._watchdog = None
                    return
                waited = time.monotonic() - self._queued_at[0]
                stuck = self._taken == taken  # no worker took a task since the last look: all blocked
                taken = self._taken
                if waited >= self.starve_after and stuck:
                    room = self.max_workers - len(self._threads)
                    fresh = [self._new_thread() for _ in range(max(0, min(self._pending - self._idle, room)))]
            for thread in fresh:
                thread.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                self._idle += 1
            try:
                item = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    stranded = self._pending > self._idle  # a task was queued as this wait timed out
                    if not stranded and (len(self._threads) > self.keep or self._closed):
                        self._threads.discard(me)
                        return
                continue
            with self._lock:
                self._idle -= 1
                if item is not _STOP:
                    self._pending -= 1
                    self._taken += 1
                    self._queued_at.popleft()
            if item is _STOP:
                with self._lock:
                    self._threads.discard(me)
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001,S110 - a task's own errors are its business; the worker lives on
                pass
            del item, fn, args

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._threads)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker once its current task ends; wait up to `timeout` for them in total."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
            if self._watchdog is not None:
                threads.append(self._watchdog)
        for _ in threads:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


__all__ = ["WorkerPool"]
