"""The Redis data model without a socket: numbered databases of strings, hashes and lists, TTLs on
the mock clock, blocking pops, and the pub/sub broker.

Keys and values are bytes, as Redis stores them. A key past its expiry time (on the injected
clock, so a test expires keys by advancing a FakeClock) is gone at the next access, as with
Redis's lazy expiry. Blocking pops wait on one Condition, woken by pushes, by `advance()` and
by `close()`, and re-check the clock in short slices so a FakeClock moved directly also ends them.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ..clock import Clock, FakeClock
from .resp import RedisError, wrong_type

DATABASES = 16
WAIT_SLICE = 0.05  # seconds of real time between clock checks of a blocking pop on a FakeClock


@dataclass
class Entry:
    kind: str  # "string", "hash", "list"
    value: Any
    expires: float | None = None  # mock-clock time in seconds


@dataclass
class Subscriber:
    """One connection's subscriptions; `deliver(kind, *fields)` writes a push message to it."""

    deliver: Callable[..., None]
    channels: set[bytes] = field(default_factory=set)
    patterns: set[bytes] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.channels) + len(self.patterns)


def glob(pattern: bytes, key: bytes) -> bool:
    """Redis glob matching (`*`, `?`, `[...]`), on bytes."""
    return fnmatchcase(key.decode("latin-1"), pattern.decode("latin-1"))


class Keyspace:
    """Sixteen databases of typed keys, thread-safe; every read first drops what has expired."""

    def __init__(self, clock: Clock, databases: int = DATABASES) -> None:
        self.clock = clock
        self.dbs: list[dict[bytes, Entry]] = [{} for _ in range(databases)]
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.closed = False
        self.subscribers: list[Subscriber] = []
        self.blocked = 0  # clients waiting in a blocking pop (INFO's blocked_clients)

    # -- keys --------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.time()

    def db(self, index: int) -> dict[bytes, Entry]:
        if not 0 <= index < len(self.dbs):
            raise RedisError("ERR DB index is out of range")
        return self.dbs[index]

    def entry(self, db: int, key: bytes, kind: str | None = None) -> Entry | None:
        """The live entry of `key` (None if missing or expired); WRONGTYPE if it is not `kind`."""
        with self.lock:
            space = self.db(db)
            found = space.get(key)
            if found is not None and found.expires is not None and found.expires <= self.now():
                del space[key]
                found = None
            if found is not None and kind is not None and found.kind != kind:
                raise wrong_type()
            return found

    def keys(self, db: int, pattern: bytes = b"*") -> list[bytes]:
        with self.lock:
            return sorted(k for k in list(self.db(db)) if self.entry(db, k) is not None and glob(pattern, k))

    def delete(self, db: int, keys: Iterable[bytes]) -> int:
        with self.lock:
            gone = 0
            for key in keys:
                if self.entry(db, key) is not None:
                    del self.db(db)[key]
                    gone += 1
            return gone

    def put(self, db: int, key: bytes, entry: Entry) -> None:
        with self.lock:
            self.db(db)[key] = entry
            self.changed.notify_all()

    def flush(self, db: int | None = None) -> None:
        with self.lock:
            for index in range(len(self.dbs)) if db is None else (db,):
                self.db(index).clear()

    def size(self, db: int) -> int:
        return len(self.keys(db))

    # -- typed containers --------------------------------------------------------------------
    def container(self, db: int, key: bytes, kind: str, *, create: bool) -> Any:
        """The hash (dict) or list (deque) at `key`, created empty when asked."""
        with self.lock:
            found = self.entry(db, key, kind)
            if found is None:
                if not create:
                    return None
                found = Entry(kind, {} if kind == "hash" else deque())
                self.db(db)[key] = found
            return found.value

    def drop_if_empty(self, db: int, key: bytes) -> None:
        """Redis deletes a hash or list when its last element goes."""
        with self.lock:
            found = self.db(db).get(key)
            if found is not None and found.kind in ("hash", "list") and not found.value:
                del self.db(db)[key]

    # -- blocking pops -----------------------------------------------------------------------
    def blocking_pop(self, db: int, keys: list[bytes], timeout: float, left: bool,
                     stopping: threading.Event, *, block: bool = True) -> tuple[bytes, bytes] | None:
        """Pop from the first non-empty list of `keys`, waiting up to `timeout` mock-clock seconds
        (0: forever) for a push; None when the time is up, the mock stops or the keyspace closes."""
        deadline = None if timeout == 0 else self.now() + timeout
        with self.changed:
            try:
                return self._pop_waiting(db, keys, deadline, left, stopping, block)
            finally:
                if block:
                    self.changed.notify_all()

    def _pop_waiting(self, db: int, keys: list[bytes], deadline: float | None, left: bool,
                     stopping: threading.Event, block: bool) -> tuple[bytes, bytes] | None:
        counted = False
        try:
            while True:
                for key in keys:
                    items = self.container(db, key, "list", create=False)
                    if items:
                        value = items.popleft() if left else items.pop()
                        self.drop_if_empty(db, key)
                        return key, value
                if not block or self.closed or stopping.is_set():
                    return None
                left_time = None if deadline is None else deadline - self.now()
                if left_time is not None and left_time <= 0:
                    return None
                if not counted:
                    counted, self.blocked = True, self.blocked + 1
                    self.changed.notify_all()
                if isinstance(self.clock, FakeClock) or left_time is None:
                    self.changed.wait(WAIT_SLICE)
                else:
                    self.changed.wait(min(left_time, 1.0))
        finally:
            if counted:
                self.blocked -= 1

    def wait_blocked(self, n: int, timeout: float) -> int:
        """Wait until at least `n` clients are blocked in a pop; TimeoutError after `timeout` s."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.blocked >= n, timeout):
                raise TimeoutError(f"waited {timeout}s for {n} blocked client(s), got {self.blocked}")
            return self.blocked

    def wake(self) -> None:
        """Wake blocked pops so they re-check the clock (after the mock's clock moved)."""
        with self.changed:
            self.changed.notify_all()

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def reopen(self) -> None:
        with self.lock:
            self.closed = False

    # -- pub/sub -----------------------------------------------------------------------------
    def subscribe(self, sub: Subscriber) -> None:
        with self.lock:
            if sub not in self.subscribers:
                self.subscribers.append(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        with self.lock:
            if sub in self.subscribers and not sub.count:
                self.subscribers.remove(sub)

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to every subscriber of `channel` and every matching pattern; returns receivers."""
        with self.lock:
            targets = list(self.subscribers)
        receivers = 0
        for sub in targets:
            if channel in sub.channels:
                sub.deliver(b"message", channel, message)
                receivers += 1
            for pattern in list(sub.patterns):
                if glob(pattern, channel):
                    sub.deliver(b"pmessage", pattern, channel, message)
                    receivers += 1
        return receivers

    def channels(self, pattern: bytes | None = None) -> list[bytes]:
        with self.lock:
            found = {c for sub in self.subscribers for c in sub.channels}
        return sorted(c for c in found if pattern is None or glob(pattern, c))

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {"keys": {str(i): self.size(i) for i, db in enumerate(self.dbs) if db},
                    "subscribers": len(self.subscribers)}


__all__ = ["DATABASES", "Entry", "Keyspace", "Subscriber", "glob"]
