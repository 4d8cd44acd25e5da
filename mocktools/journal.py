"""The request journal every mock shares: compact records, a bounded window, exact counters.

Records are small slotted objects kept in a bounded deque, so a load test neither grows memory
without limit nor stalls on garbage collection; the counters beside it stay exact past the bound.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from fnmatch import fnmatchcase
from typing import Any, Iterable

from .clock import Duration, to_seconds

_UNPARSED = object()


class CallRecord:
    """One call a mock received, with the status it answered (None for a dropped connection)."""

    __slots__ = ("seq", "time", "method", "path", "query", "headers", "body", "status",
                 "duration", "fault", "meta", "_json")

    def __init__(self, *, seq: int = 0, time: float = 0.0, method: str = "", path: str = "",
                 query: str = "", headers: dict[str, str] | None = None, body: bytes = b"",
                 status: int | None = None, duration: float = 0.0, fault: str | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.seq = seq
        self.time = time
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers or {}
        self.body = body
        self.status = status
        self.duration = duration
        self.fault = fault
        self.meta = meta
        self._json: Any = _UNPARSED

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (parsed once, on first use)."""
        if self._json is _UNPARSED:
            try:
                self._json = json.loads(self.body) if self.body else None
            except ValueError:
                self._json = None
        return self._json

    def to_dict(self, *, body_limit: int = 65_536) -> dict[str, Any]:
        """A JSON-ready view, for the HTTP control API."""
        body = self.body[:body_limit]
        return {
            "seq": self.seq, "time": self.time, "method": self.method, "path": self.path,
            "query": self.query, "headers": self.headers, "status": self.status,
            "duration_ms": round(self.duration * 1000, 3), "fault": self.fault,
            "json": self.json, "body": None if self.json is not None else body.decode("utf-8", "replace"),
            "body_truncated": len(self.body) > body_limit, "meta": self.meta,
        }

    def __repr__(self) -> str:
        return f"<CallRecord #{self.seq} {self.method} {self.path} -> {self.status}>"


def _matches(record: CallRecord, path: str | None, method: str | None) -> bool:
    if method is not None and record.method != method.upper():
        return False
    return path is None or record.path == path or fnmatchcase(record.path, path)


class Journal:
    """Thread-safe record of calls: a bounded window of records plus exact counters."""

    def __init__(self, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError("journal limit must be at least 1")
        self.limit = limit
        self._records: deque[CallRecord] = deque(maxlen=limit)
        self._total = 0
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[int | None] = Counter()
        self._cond = threading.Condition()

    def record(self, record: CallRecord) -> CallRecord:
        with self._cond:
            self._total += 1
            record.seq = self._total
            if not record.time:
                record.time = time.time()
            self._records.append(record)
            self._by_path[record.path] += 1
            self._by_status[record.status] += 1
            self._cond.notify_all()
        return record

    def add(self, **fields: Any) -> CallRecord:
        """Record a call from keyword fields (see CallRecord)."""
        return self.record(CallRecord(**fields))

    def count(self, path: str | None = None) -> int:
        """Exact number of calls, in all or to one path (fnmatch patterns count every match)."""
        with self._cond:
            return self._count_locked(path)

    def _count_locked(self, path: str | None) -> int:
        if path is None:
            return self._total
        if not any(ch in path for ch in "*?["):
            return self._by_path.get(path, 0)
        return sum(n for p, n in self._by_path.items() if fnmatchcase(p, path))

    def status_counts(self) -> dict[int | None, int]:
        with self._cond:
            return dict(self._by_status)

    def calls(self, path: str | None = None, method: str | None = None) -> list[CallRecord]:
        """The records still in the window, oldest first, optionally filtered."""
        with self._cond:
            records: Iterable[CallRecord] = list(self._records)
        if path is None and method is None:
            return list(records)
        return [r for r in records if _matches(r, path, method)]

    def last(self, path: str | None = None) -> CallRecord | None:
        with self._cond:
            for record in reversed(self._records):
                if _matches(record, path, None):
                    return record
        return None

    def clear(self) -> None:
        with self._cond:
            self._records.clear()
            self._total = 0
            self._by_path.clear()
            self._by_status.clear()
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: Duration = 5.0, path: str | None = None) -> list[CallRecord]:
        """Block until at least `n` calls (to `path`) were recorded; TimeoutError after `timeout` (s or timedelta)."""
        timeout = to_seconds(timeout, "timeout")
        with self._cond:
            if not self._cond.wait_for(lambda: self._count_locked(path) >= n, timeout):
                raise TimeoutError(
                    f"waited {timeout}s for {n} calls{' to ' + path if path else ''}, "
                    f"got {self._count_locked(path)}")
        return self.calls(path)

    def __len__(self) -> int:
        return self.count()


__all__ = ["CallRecord", "Journal"]
