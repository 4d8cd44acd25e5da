"""One event loop thread for every instance of a mesh on the asyncio engine.

All instances share one process and one GIL, so they never run Python on two cores at once;
with a loop thread each, every hop wakes a thread (the callee's loop, then the caller's) and on
a machine with several cores the GIL then moves between cores at each wake-up, about half of a
hop's CPU (bench/README.md). On one loop, a hop is two sockets' events on the same thread: no
thread wakes, no GIL changes hands. Each instance is still its own server on its own port (its
own listening socket, connections, journal, faults, worker pool for what may block); only the
thread that runs their event loops is shared (`make_http_server(shared_loop=...)`).
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any

from .. import aio_loop

__all__ = ["SharedLoop"]


class SharedLoop:
    """An asyncio loop running in a daemon thread, from `start()` until `stop()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> asyncio.AbstractEventLoop:
        """The running loop (started from this thread: its thread inherits this one's affinity)."""
        if self.loop is not None:
            return self.loop
        loop = aio_loop.new_event_loop(aio_loop.resolve_loop())  # the engine's kind ($MOCKTOOLS_EVENT_LOOP)
        ready = threading.Event()
        loop.call_soon(ready.set)
        self._thread = threading.Thread(target=self._run, args=(loop,), name=self.name, daemon=True)
        self._thread.start()
        ready.wait(5)
        self.loop = loop
        return loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        """Stop the loop once every server on it stopped (their stop() closed what they had)."""
        loop, thread, self.loop, self._thread = self.loop, self._thread, None, None
        if loop is None or thread is None:
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass
        thread.join(10)

    def __repr__(self) -> str:
        state: Any = "running" if self.loop is not None else "stopped"
        return f"<SharedLoop {self.name} {state}>"
