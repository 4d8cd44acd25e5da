"""The request journal every mock shares: compact records, a bounded window, exact counters.

Records are kept in a bounded deque, so a load test cannot grow memory without limit; the
counters beside it stay exact past the bound. The HTTP listener records through `note()`, which
keeps a call as a flat tuple of strings, numbers and bytes: the garbage collector stops tracking
such a tuple after its first pass, so a full window of 10,000 calls adds nothing to the (long,
stop-the-world) full collections of a serving process (issue 15). Readers get `CallRecord`s,
built from those rows when asked for.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from . import safe_json
from .call_matching import (  # re-exported: the journal's query language lives there
    CallQuery, HeaderMap, headers_match, json_contains, parse_query, path_matches, query_matches,
    value_matches)
from .clock import Duration, to_seconds

_UNPARSED = object()


class CallRecord:
    """One call a mock received, with the status it answered (None for a dropped connection)."""

    __slots__ = (
        "_headers",
        "_json",
        "body",
        "duration",
        "fault",
        "meta",
        "method",
        "path",
        "payload",
        "query",
        "seq",
        "size",
        "status",
        "time",
    )

    def __init__(self, *, seq: int = 0, time: float = 0.0, method: str = "", path: str = "",
                 query: str = "", headers: Mapping[str, str] | None = None, body: bytes = b"",
                 status: int | None = None, duration: float = 0.0, fault: str | None = None,
                 meta: dict[str, Any] | None = None, payload: Any = None, size: int | None = None) -> None:
        self.seq = seq
        self.time = time
        self.method = method
        self.path = path
        self.query = query
        self._headers = headers if isinstance(headers, HeaderMap) else HeaderMap(headers)
        self.body = body
        self.status = status
        self.duration = duration
        self.fault = fault
        self.meta = meta
        self.payload = payload  # a structured body, when the transport has one (a gRPC request message)
        #: the body's full length; larger than len(body) when the journal kept only a prefix
        self.size = len(body) if size is None else size
        self._json: Any = _UNPARSED

    @property
    def truncated(self) -> bool:
        """True when the journal kept only a prefix of the body (see Journal.max_body_bytes)."""
        return self.size > len(self.body)

    @property
    def headers(self) -> HeaderMap:
        """The request headers (gRPC: metadata), looked up case-insensitively."""
        return self._headers

    @headers.setter
    def headers(self, value: Mapping[str, str] | None) -> None:
        self._headers = value if isinstance(value, HeaderMap) else HeaderMap(value)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (parsed once, on first use).

        A gRPC call's request message is given as its JSON mapping (proto field names)."""
        if self._json is _UNPARSED:
            if self.payload is not None and hasattr(self.payload, "DESCRIPTOR"):
                from google.protobuf.json_format import MessageToDict

                self._json = MessageToDict(self.payload, preserving_proto_field_name=True)
                return self._json
            if self.truncated:  # a prefix is not a document
                self._json = None
                return None
            try:
                self._json = safe_json.loads(self.body) if self.body else None
            except ValueError:  # not JSON, or nested too deep to render safely
                self._json = None
        return self._json

    def to_dict(self, *, body_limit: int = 65_536) -> dict[str, Any]:
        """A JSON-ready view, for the HTTP control API."""
        body = self.body[:body_limit]
        return {
            "seq": self.seq, "time": self.time, "method": self.method, "path": self.path,
            "query": self.query, "headers": dict(self._headers), "status": self.status,
            "duration_ms": round(self.duration * 1000, 3), "fault": self.fault,
            "json": self.json, "body": None if self.json is not None else body.decode("utf-8", "replace"),
            "body_truncated": self.size > len(body), "size": self.size, "meta": self.meta,
        }

    def __repr__(self) -> str:
        return f"<CallRecord #{self.seq} {self.method} {self.path} -> {self.status}>"


def _cost(record: CallRecord) -> int:
    """Bytes a record holds, roughly: its body, its headers and a fixed overhead."""
    headers = record.headers
    data = getattr(headers, "_data", headers)
    size = sum(len(k) + len(v) for k, v in data.items()) if isinstance(data, Mapping) else 0
    return len(record.body) + len(record.path) + len(record.query) + size + _RECORD_OVERHEAD


# a row kept by `note()`: (seq, time, method, path, query, headers, body, status, duration, fault,
# meta, size), headers flat as (name, value, name, value, ...); only atomic values, so untracked
_Row = tuple
_ROW_METHOD, _ROW_PATH = 2, 3


def _materialise(item: CallRecord | _Row) -> CallRecord:
    if type(item) is not tuple:
        return item  # type: ignore[return-value]
    seq, when, method, path, query, headers, body, status, duration, fault, meta, size = item
    return CallRecord(seq=seq, time=when, method=method, path=path, query=query,
                      headers=dict(zip(headers[0::2], headers[1::2])), body=body, status=status,
                      duration=duration, fault=fault, meta=meta, size=size)


def _path_of(item: CallRecord | _Row) -> str:
    return item[_ROW_PATH] if type(item) is tuple else item.path  # type: ignore[index,union-attr,no-any-return]


def _matches(item: CallRecord | _Row, path: str | None, method: str | None) -> bool:
    if type(item) is tuple:
        found_method, found_path = item[_ROW_METHOD], item[_ROW_PATH]
    else:
        found_method, found_path = item.method, item.path  # type: ignore[union-attr]
    if method is not None and found_method != method.upper():
        return False
    return path is None or found_path == path or fnmatchcase(found_path, path)


class WaitInterrupted(RuntimeError):
    """A wait was released because the mock is stopping (not because what it waited for came)."""


#: defaults of the journal's bounds (each configurable per journal, see `Journal.set_limits`)
DEFAULT_LIMIT = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_PATHS = 10_000
_RECORD_OVERHEAD = 512  # what a record costs beside its body (slots, headers, strings), roughly


class Journal:
    """Thread-safe record of calls: a window bounded by count and by bytes, plus exact counters.

    The window keeps at most `limit` records and about `max_bytes` bytes (bodies plus a fixed
    overhead per record), dropping the oldest first; a body longer than `max_body_bytes` is kept
    as a prefix with its full `size`. Per-path counters are kept for up to `max_paths` distinct
    paths (later new paths are counted in `overflow_calls`, so a scan of random 404 paths cannot
    grow memory); the total, the per-status counts and `dropped` stay exact.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, max_paths: int = DEFAULT_MAX_PATHS) -> None:
        self._records: deque[CallRecord | _Row] = deque()
        self._costs: deque[int] = deque()  # each record's cost, taken when it was recorded
        self._bytes = 0
        self._total = 0
        self._dropped = 0
        self._overflow = 0
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[int | None] = Counter()
        self._interrupts = 0
        self._waiting = 0
        self._cond = threading.Condition()
        self.limit = self.max_bytes = self.max_body_bytes = self.max_paths = 0
        self.set_limits(limit=limit, max_bytes=max_bytes, max_body_bytes=max_body_bytes, max_paths=max_paths)

    def set_limits(self, *, limit: int | None = None, max_bytes: int | None = None,
                   max_body_bytes: int | None = None, max_paths: int | None = None) -> None:
        """Change the bounds (None keeps one); a smaller window drops the oldest records now."""
        for name, value, low in (("limit", limit, 1), ("max_bytes", max_bytes, 1),
                                 ("max_body_bytes", max_body_bytes, 0), ("max_paths", max_paths, 1)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ValueError(f"journal {name} must be an integer >= {low}, got {value!r}")
        with self._cond:
            self.limit = self.limit if limit is None else limit
            self.max_bytes = self.max_bytes if max_bytes is None else max_bytes
            self.max_body_bytes = self.max_body_bytes if max_body_bytes is None else max_body_bytes
            self.max_paths = self.max_paths if max_paths is None else max_paths
            self._trim_locked()

    def limits(self) -> dict[str, int]:
        """The bounds and how full the window is, with the exact counters beside them."""
        with self._cond:
            return {"limit": self.limit, "max_bytes": self.max_bytes, "max_body_bytes": self.max_body_bytes,
                    "max_paths": self.max_paths, "records": len(self._records), "bytes": self._bytes,
                    "total": self._total, "dropped": self._dropped, "paths": len(self._by_path),
                    "overflow_calls": self._overflow}

    def _trim_locked(self) -> None:
        records = self._records
        if len(records) <= self.limit and self._bytes <= self.max_bytes:
            return
        while records and (len(records) > self.limit or (self._bytes > self.max_bytes and len(records) > 1)):
            records.popleft()
            self._bytes -= self._costs.popleft()
            self._dropped += 1

    def record(self, record: CallRecord) -> CallRecord:
        if len(record.body) > self.max_body_bytes:
            record.body = bytes(record.body[: self.max_body_bytes])  # size keeps the full length
        with self._cond:
            self._total += 1
            record.seq = self._total
            if not record.time:
                record.time = time.time()
            self._records.append(record)
            self._costs.append(_cost(record))
            self._bytes += self._costs[-1]
            self._count_locked_in(record.path, record.status)
        return record

    def note(self, when: float, method: str, path: str, query: str, headers: tuple[str, ...], body: bytes,
             status: int | None, duration: float, fault: str | None, meta: dict[str, Any] | None) -> None:
        """Record a call compactly (what `record(CallRecord(...))` keeps, as a row the garbage
        collector soon stops tracking); `headers` flat: ``(name, value, name, value, ...)``."""
        size = len(body)
        if size > self.max_body_bytes:
            body = bytes(body[: self.max_body_bytes])
        cost = len(body) + len(path) + len(query) + len("".join(headers)) + _RECORD_OVERHEAD
        with self._cond:
            total = self._total = self._total + 1
            self._records.append((total, when or time.time(), method, path, query, headers, body, status,
                                  duration, fault, meta, size))
            self._costs.append(cost)
            self._bytes += cost
            self._count_locked_in(path, status)

    def _count_locked_in(self, path: str, status: int | None) -> None:
        self._trim_locked()
        by_path = self._by_path
        if path in by_path or len(by_path) < self.max_paths:
            by_path[path] += 1
        else:
            self._overflow += 1
        self._by_status[status] += 1
        if self._waiting:  # (counted under this lock by wait_for; nobody waiting: nothing to wake)
            self._cond.notify_all()

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
            if path in self._by_path or not self._overflow:
                return self._by_path.get(path, 0)
            # a path past the max_paths bound: what the window still holds is the best answer
            return sum(1 for r in self._records if _path_of(r) == path)
        return sum(n for p, n in self._by_path.items() if fnmatchcase(p, path))

    def status_counts(self) -> dict[int | None, int]:
        with self._cond:
            return dict(self._by_status)

    def calls(self, path: str | None = None, method: str | None = None) -> list[CallRecord]:
        """The records still in the window, oldest first, optionally filtered (a call kept as a row
        is handed out as a fresh CallRecord on each read)."""
        with self._cond:
            records: Iterable[CallRecord | _Row] = list(self._records)
        if path is None and method is None:
            return list(map(_materialise, records))
        return [_materialise(r) for r in records if _matches(r, path, method)]

    def find(self, query: CallQuery | None = None, /, **criteria: Any) -> list[CallRecord]:
        """The records that match: by `method`, `path` (exact, fnmatch or regex), `query` (a raw
        string or a subset mapping), `headers` (case-insensitive names; values exact, regex or
        predicate), `json` (a subset), `body`, `status`, or a `where(record)` predicate."""
        matcher = query if query is not None else CallQuery(**criteria)
        return [record for record in self.calls() if matcher.matches(record)]

    def count_matching(self, query: CallQuery | None = None, /, **criteria: Any) -> int:
        """How many records in the window match (see `find`)."""
        return len(self.find(query, **criteria))

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self.calls())

    def last(self, path: str | None = None) -> CallRecord | None:
        with self._cond:
            for record in reversed(self._records):
                if _matches(record, path, None):
                    return _materialise(record)
        return None

    def clear(self) -> None:
        with self._cond:
            self._records.clear()
            self._costs.clear()
            self._bytes = self._total = self._dropped = self._overflow = 0
            self._by_path.clear()
            self._by_status.clear()
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: Duration = 5.0, path: str | None = None) -> list[CallRecord]:
        """Block until at least `n` calls (to `path`) were recorded; TimeoutError after `timeout` (seconds or
        timedelta), WaitInterrupted as soon as the mock stops (see `interrupt`)."""
        timeout = to_seconds(timeout, "timeout")
        with self._cond:
            generation = self._interrupts
            self._waiting += 1
            try:
                done = self._cond.wait_for(
                    lambda: self._count_locked(path) >= n or self._interrupts != generation, timeout)
            finally:
                self._waiting -= 1
            got = self._count_locked(path)
            if got < n and self._interrupts != generation:
                raise WaitInterrupted(f"the mock stopped while waiting for {n} calls"
                                      f"{' to ' + path if path else ''} (got {got})")
            if not done:
                raise TimeoutError(
                    f"waited {timeout}s for {n} calls{' to ' + path if path else ''}, got {got}")
        return self.calls(path)

    @property
    def waiting(self) -> int:
        """How many `wait_for` calls are parked now."""
        with self._cond:
            return self._waiting

    def interrupt(self) -> None:
        """Release every wait parked now (the mock is stopping); later waits are not affected."""
        with self._cond:
            self._interrupts += 1
            self._cond.notify_all()

    def __len__(self) -> int:
        return self.count()


__all__ = [
    "CallQuery",
    "CallRecord",
    "HeaderMap",
    "Journal",
    "WaitInterrupted",
    "headers_match",
    "json_contains",
    "parse_query",
    "path_matches",
    "query_matches",
    "value_matches",
]
