"""The request journal every mock shares: compact records, a bounded window, exact counters.

Records are small slotted objects kept in a bounded deque, so a load test neither grows memory
without limit nor stalls on garbage collection; the counters beside it stay exact past the bound.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qs

from .clock import Duration, to_seconds

_UNPARSED = object()
_MISSING = object()


class HeaderMap(Mapping[str, str]):
    """Headers as received (names keep their case), looked up case-insensitively.

    Wrapping costs nothing per request: the lower-cased index is built on the first lookup that
    misses the exact name."""

    __slots__ = ("_data", "_lower")

    def __init__(self, data: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._data: dict[str, str] = data if isinstance(data, dict) else dict(data or {})
        self._lower: dict[str, str] | None = None

    def _index(self) -> dict[str, str]:
        lower = self._lower
        if lower is None:
            lower = self._lower = {k.lower(): v for k, v in self._data.items()}
        return lower

    def __getitem__(self, key: str) -> str:
        try:
            return self._data[key]
        except KeyError:
            return self._index()[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self._data or key.lower() in self._index())

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self._index() == {str(k).lower(): v for k, v in other.items()}

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HeaderMap({self._data!r})"


def json_contains(actual: Any, expected: Any) -> bool:
    """True when `expected` is a subset of `actual`: objects may have extra keys (recursively);
    lists match element by element with the same length; other values are equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and json_contains(actual[key], value) for key, value in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(json_contains(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, re.Pattern):
        return isinstance(actual, str) and expected.fullmatch(actual) is not None
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return bool(actual == expected)


def value_matches(actual: Any, expected: Any) -> bool:
    """One value against an expectation: equal, a compiled regex (full match) or a predicate."""
    if isinstance(expected, re.Pattern):
        return actual is not None and expected.fullmatch(str(actual)) is not None
    if callable(expected):
        return bool(expected(actual))
    return bool(actual == expected)


def parse_query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)


def query_matches(query: str, expected: Any, *, exact: bool = False) -> bool:
    """A raw query string against a string (equal), a predicate, or a mapping of names to a value,
    a list of values, a regex or a predicate (a subset, or all names with `exact`)."""
    if isinstance(expected, bytes):
        expected = expected.decode()
    if isinstance(expected, str):
        return query == expected.lstrip("?")
    if callable(expected) and not isinstance(expected, Mapping):
        return bool(expected(query))
    args = parse_query(query)
    if exact and set(args) != set(expected):
        return False
    for name, want in expected.items():
        values = args.get(name)
        if values is None:
            return False
        if isinstance(want, (list, tuple)):
            if [str(w) for w in want] != values:
                return False
        elif exact and len(values) != 1 or not any(value_matches(v, _str(want)) for v in values):
            return False
    return True


def _str(value: Any) -> Any:
    return value if isinstance(value, (str, re.Pattern)) or callable(value) else str(value)


def headers_match(headers: Mapping[str, str], expected: Mapping[str, Any]) -> bool:
    """Every expected header is present (name case-insensitive) with a matching value."""
    for name, want in expected.items():
        actual = headers.get(name, _MISSING)
        if actual is _MISSING:
            if isinstance(headers, HeaderMap):
                return False
            actual = next((v for k, v in headers.items() if k.lower() == name.lower()), _MISSING)
            if actual is _MISSING:
                return False
        if not value_matches(actual, want):
            return False
    return True


def path_matches(path: str, expected: Any) -> bool:
    """A path against a string (exact, or an fnmatch pattern), a compiled regex or a predicate."""
    if isinstance(expected, str):
        return path == expected or (any(ch in expected for ch in "*?[") and fnmatchcase(path, expected))
    return value_matches(path, expected)


class CallQuery:
    """A query over recorded calls; every criterion given must hold (see `Journal.find`)."""

    __slots__ = ("body", "headers", "json", "method", "path", "query", "status", "where")

    def __init__(self, *, method: str | None = None, path: Any = None, query: Any = None,
                 headers: Mapping[str, Any] | None = None, json: Any = _MISSING, body: Any = None,
                 status: Any = None, where: Any = None) -> None:
        self.method = method.upper() if isinstance(method, str) else method
        self.path, self.query, self.headers, self.json = path, query, headers, json
        self.body = body.encode() if isinstance(body, str) else body
        self.status, self.where = status, where

    def matches(self, record: CallRecord) -> bool:
        if self.method is not None and not value_matches(record.method, self.method):
            return False
        if self.path is not None and not path_matches(record.path, self.path):
            return False
        if self.query is not None and not query_matches(record.query, self.query):
            return False
        if self.headers is not None and not headers_match(record.headers, self.headers):
            return False
        if self.json is not _MISSING and not json_contains(record.json, self.json):
            return False
        if self.body is not None and not value_matches(record.body, self.body):
            return False
        if self.status is not None and not value_matches(record.status, self.status):
            return False
        return self.where is None or bool(self.where(record))

    def describe(self) -> str:
        parts = [f"{name}={getattr(self, name)!r}" for name in self.__slots__
                 if getattr(self, name) is not None and getattr(self, name) is not _MISSING]
        return ", ".join(parts) or "any call"


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
        "status",
        "time",
    )

    def __init__(self, *, seq: int = 0, time: float = 0.0, method: str = "", path: str = "",
                 query: str = "", headers: Mapping[str, str] | None = None, body: bytes = b"",
                 status: int | None = None, duration: float = 0.0, fault: str | None = None,
                 meta: dict[str, Any] | None = None, payload: Any = None) -> None:
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
        self._json: Any = _UNPARSED

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
            try:
                self._json = json.loads(self.body) if self.body else None
            except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or nested too deeply
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


__all__ = [
    "CallQuery",
    "CallRecord",
    "HeaderMap",
    "Journal",
    "headers_match",
    "json_contains",
    "parse_query",
    "path_matches",
    "query_matches",
    "value_matches",
]
