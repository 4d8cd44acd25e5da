"""Thread-safe store of received telemetry with queries, trace trees and condition waits.

The store knows nothing about HTTP or gRPC: the wire layers hand it decoded
Export*ServiceRequest messages and it answers with how many items it accepted/rejected.
Ingest only counts items and keeps the (compact, C-backed) message; turning it into friendly
objects is deferred to the first query, wait or listener that needs them, so an app exporting
thousands of spans per second does not pay for assertions nobody makes. Items are bounded per
signal (oldest requests dropped whole, counters stay exact), so a long benchmark or soak test
cannot grow memory without limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf.message import Message

from mocktools.clock import Duration, to_seconds
from mocktools.journal import WaitInterrupted
from mocktools.otlp.convert import CONVERTERS, COUNTERS
from mocktools.otlp.model import LogRecord, MetricPoint, Span, Trace
from mocktools.otlp.query import _ITEM_WORD, _matcher, _Waiter, build_trace

#: defaults of the store's bounds (per signal for items and bytes; raw requests across signals)
DEFAULT_MAX_ITEMS = 200_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_RAW = 256
DEFAULT_MAX_RAW_BYTES = 32 * 1024 * 1024
ITEM_OVERHEAD = 4096  # what one span/point/record costs once converted (measured ~4.7 KB), beside its wire bytes

class _TimeSource(Protocol):
    def time(self) -> float: ...


class _WallClock:
    def time(self) -> float:
        return time.time()


SIGNAL_NAMES = ("traces", "metrics", "logs")


@dataclass(frozen=True, slots=True)
class RawRequest:
    """One accepted export request exactly as decoded (body is after decompression)."""

    seq: int
    signal: str
    transport: str
    encoding: str
    content_encoding: str | None
    headers: dict[str, str]
    body: bytes
    message: Message
    received_at: float
    accepted: int
    rejected: int


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    rejected: int
    message: str


@dataclass(slots=True)
class PartialSuccessRule:
    """Reject the last `rejected` items of each request (capped at its size), `times` requests long."""

    rejected: int
    message: str
    times: int | None  # None: until cleared


@dataclass(slots=True)
class _Chunk:
    """The kept items of one request: converted on first use, then cached."""

    signal: str
    message: Message
    seq: int
    transport: str
    encoding: str
    keep: int
    cost: int = 0
    items: list[Any] | None = None

    def materialize(self) -> list[Any]:
        items = self.items
        if items is None:
            items = CONVERTERS[self.signal](self.message, self.seq, self.transport, self.encoding)[: self.keep]
            self.items = items
        return items


@dataclass(slots=True)
class _Bucket:
    chunks: deque[_Chunk] = field(default_factory=deque)
    stored: int = 0
    bytes: int = 0
    evicted: int = 0
    accepted: int = 0
    rejected: int = 0
    requests: int = 0


class TelemetryStore:
    """Received spans, metric points and log records, plus the raw requests that carried them."""

    def __init__(self, clock: _TimeSource | None = None, *, max_items: int = DEFAULT_MAX_ITEMS,
                 max_raw: int = DEFAULT_MAX_RAW, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_raw_bytes: int = DEFAULT_MAX_RAW_BYTES) -> None:
        self._clock = clock or _WallClock()
        self._max_items = max(1, max_items)
        self._max_bytes = max(1, max_bytes)
        self._max_raw = max(1, max_raw)
        self._max_raw_bytes = max(1, max_raw_bytes)
        self._raw_bytes = 0
        self._interrupts = 0
        self._cond = threading.Condition()
        self._buckets = {s: _Bucket() for s in SIGNAL_NAMES}
        self._raw: deque[RawRequest] = deque()
        self._raw_sizes: deque[int] = deque()
        self._rules: dict[str, PartialSuccessRule] = {}
        self._seq = 0
        self._waiters: list[_Waiter] = []
        self._listeners: list[Callable[[str, list[Any]], None]] = []

    # ---- ingest -------------------------------------------------------------------------
    def ingest(
        self,
        signal: str,
        message: Message,
        *,
        transport: str = "http",
        encoding: str = "protobuf",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_encoding: str | None = None,
    ) -> IngestResult:
        """Store the items of one decoded request, applying any partial-success rule."""
        if signal not in self._buckets:
            raise ValueError(f"unknown signal {signal!r}")
        total = COUNTERS[signal](message)
        wire = len(body) if body else message.ByteSize()
        with self._cond:
            self._seq += 1
            rejected, text = self._apply_rule(signal, total)
            keep = total - rejected
            chunk = _Chunk(signal, message, self._seq, transport, encoding, keep, wire + ITEM_OVERHEAD * keep)
            eager = self._listeners or any(w.signal == signal for w in self._waiters)
        if eager:
            chunk.materialize()  # convert outside the lock
        with self._cond:
            bucket = self._buckets[signal]
            bucket.chunks.append(chunk)
            bucket.stored += chunk.keep
            bucket.bytes += chunk.cost
            bucket.accepted += chunk.keep
            bucket.rejected += rejected
            bucket.requests += 1
            for waiter in self._waiters:
                if waiter.signal == signal:
                    waiter.feed(chunk.materialize())
            while (bucket.stored > self._max_items or bucket.bytes > self._max_bytes) and len(bucket.chunks) > 1:
                old = bucket.chunks.popleft()
                bucket.stored -= old.keep
                bucket.bytes -= old.cost
                bucket.evicted += old.keep
            self._raw.append(
                RawRequest(
                    chunk.seq,
                    signal,
                    transport,
                    encoding,
                    content_encoding,
                    dict(headers or {}),
                    body,
                    message,
                    self._clock.time(),
                    chunk.keep,
                    rejected,
                )
            )
            self._raw_sizes.append(len(body) + wire)  # the body and the decoded message it carries
            self._raw_bytes += self._raw_sizes[-1]
            while len(self._raw) > 1 and (len(self._raw) > self._max_raw or self._raw_bytes > self._max_raw_bytes):
                self._raw.popleft()
                self._raw_bytes -= self._raw_sizes.popleft()
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(signal, chunk.materialize())
        return IngestResult(chunk.keep, rejected, text)

    def subscribe(self, listener: Callable[[str, list[Any]], None]) -> Callable[[], None]:
        """Call `listener(signal, items)` after each ingest (outside the lock); returns an unsubscribe."""
        with self._cond:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._cond:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _apply_rule(self, signal: str, total: int) -> tuple[int, str]:
        rule = self._rules.get(signal)
        if rule is None:
            return 0, ""
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                del self._rules[signal]
        return max(0, min(int(rule.rejected), total)), str(rule.message)

    # ---- controls -----------------------------------------------------------------------
    def set_partial_success(
        self, signal: str = "traces", rejected: int = 1, message: str = "rejected by mock", *, times: int | None = None
    ) -> None:
        """Answer the next requests of `signal` with partial_success, dropping `rejected` items each.

        rejected=0 with a message is a warning-only response. `times=None` keeps the rule
        until `clear_partial_success()` or `clear()`.
        """
        if signal not in self._buckets:
            raise ValueError(f"unknown signal {signal!r}; expected one of {', '.join(SIGNAL_NAMES)}")
        if not _is_int(rejected) or rejected < 0:
            raise ValueError(f"rejected must be an integer >= 0, got {rejected!r}")
        if times is not None and (not _is_int(times) or times < 1):
            raise ValueError(f"times must be an integer >= 1 or null, got {times!r}")
        if not isinstance(message, str):
            raise TypeError(f"message must be a string, got {type(message).__name__}")
        with self._cond:
            self._rules[signal] = PartialSuccessRule(rejected, message, times)

    def clear_partial_success(self, signal: str | None = None) -> None:
        with self._cond:
            if signal is None:
                self._rules.clear()
            else:
                self._rules.pop(signal, None)

    def clear(self) -> None:
        """Forget all telemetry, raw requests and partial-success rules."""
        with self._cond:
            for bucket in self._buckets.values():
                bucket.chunks.clear()
                bucket.stored = bucket.bytes = bucket.evicted = bucket.accepted = bucket.rejected = 0
                bucket.requests = 0
            self._raw.clear()
            self._raw_sizes.clear()
            self._raw_bytes = 0
            self._rules.clear()
            for waiter in self._waiters:
                waiter.matched.clear()
            self._cond.notify_all()

    # ---- queries ------------------------------------------------------------------------
    def _items(self, signal: str) -> list[Any]:
        """Every stored item of a signal in arrival order (converting chunks outside the lock)."""
        with self._cond:
            chunks = list(self._buckets[signal].chunks)
        return [item for chunk in chunks for item in chunk.materialize()]

    def _query(self, signal: str, filters: dict[str, Any]) -> list[Any]:
        match = _matcher(signal, filters)
        return [it for it in self._items(signal) if match(it)]

    def get_spans(self, **filters: Any) -> list[Span]:
        """Spans in arrival order, filtered e.g. by service_name=, name=, trace_id=, kind=, attributes={}."""
        return self._query("traces", filters)

    def get_metrics(self, **filters: Any) -> list[MetricPoint]:
        """Metric points in arrival order, filtered e.g. by service_name=, name=, type=, attributes={}."""
        return self._query("metrics", filters)

    def get_logs(self, **filters: Any) -> list[LogRecord]:
        """Log records in arrival order, filtered e.g. by service_name=, body=, severity_text=, trace_id=."""
        return self._query("logs", filters)

    def get_trace(self, trace_id: str) -> Trace:
        """The spans of one trace as a tree; KeyError if none has arrived."""
        tid = trace_id.lower()
        spans = self.get_spans(trace_id=tid)
        if not spans:
            raise KeyError(f"no spans received for trace {tid}")
        return build_trace(tid, spans)

    def get_trace_ids(self) -> list[str]:
        """Distinct trace ids in order of first arrival."""
        seen: dict[str, None] = {}
        for span in self.get_spans():
            if span.trace_id:
                seen.setdefault(span.trace_id, None)
        return list(seen)

    def get_raw_requests(self, signal: str | None = None) -> list[RawRequest]:
        with self._cond:
            raw = list(self._raw)
        return [r for r in raw if signal is None or r.signal == signal]

    def counts(self) -> dict[str, dict[str, int]]:
        """Accepted/rejected items and request count per signal (exact, beyond the item bound)."""
        with self._cond:
            return {
                s: {"accepted": b.accepted, "rejected": b.rejected, "requests": b.requests, "stored": b.stored}
                for s, b in self._buckets.items()
            }

    def partial_success_rules(self) -> dict[str, dict[str, Any]]:
        with self._cond:
            return {s: {"rejected": r.rejected, "message": r.message, "times": r.times} for s, r in self._rules.items()}

    # ---- waits --------------------------------------------------------------------------
    def wait_for(self, signal: str, n: int, timeout: Duration = 5.0, **filters: Any) -> list[Any]:
        """Block until at least `n` matching items are there; return all matching items.

        Counts the matching items stored when the wait starts plus every matching item
        ingested while it waits (each ingest feeds registered waiters under the lock, so
        nothing is missed even if the bounded store evicts it). No polling: it sleeps on
        the store's Condition. Raises TimeoutError naming what did arrive.
        """
        if signal not in self._buckets:
            raise ValueError(f"unknown signal {signal!r}; expected one of {', '.join(SIGNAL_NAMES)}")
        timeout = to_seconds(timeout, "timeout")
        match = _matcher(signal, filters)
        self._items(signal)  # convert what is stored now, outside the lock
        with self._cond:
            bucket = self._buckets[signal]
            waiter = _Waiter(signal, match, [])
            waiter.feed(it for chunk in bucket.chunks for it in chunk.materialize())
            generation = self._interrupts
            self._waiters.append(waiter)
            try:
                self._cond.wait_for(
                    lambda: len(waiter.matched) >= n or waiter.error is not None or self._interrupts != generation,
                    timeout=timeout)
            finally:
                self._waiters.remove(waiter)
            if len(waiter.matched) >= n:
                return list(waiter.matched)
            if waiter.error is not None:
                raise TypeError(f"filter failed on a received item: {type(waiter.error).__name__}: {waiter.error}")
            if self._interrupts != generation:
                raise WaitInterrupted(f"the collector stopped while waiting for {n} {_ITEM_WORD[signal]}")
            total = bucket.stored
        shown = ", ".join(f"{k}={v!r}" for k, v in filters.items()) or "no filter"
        raise TimeoutError(
            f"waited {timeout}s for {n} {_ITEM_WORD[signal]} matching {shown}; "
            f"{len(waiter.matched)} matched, {total} {_ITEM_WORD[signal]} stored"
        )

    @property
    def waiting(self) -> int:
        """How many waits are parked now."""
        with self._cond:
            return len(self._waiters)

    def interrupt(self) -> None:
        """Release every wait parked now (the collector is stopping)."""
        with self._cond:
            self._interrupts += 1
            self._cond.notify_all()

    def limits(self) -> dict[str, Any]:
        """The bounds and how full the store is (the exact counters are in `counts()`)."""
        with self._cond:
            return {"max_items": self._max_items, "max_bytes": self._max_bytes, "max_raw": self._max_raw,
                    "max_raw_bytes": self._max_raw_bytes, "raw_requests": len(self._raw),
                    "raw_bytes": self._raw_bytes,
                    "signals": {s: {"stored": b.stored, "stored_bytes": b.bytes, "evicted": b.evicted}
                                for s, b in self._buckets.items()}}

    def wait_for_spans(self, n: int, timeout: Duration = 5.0, **filters: Any) -> list[Span]:
        return self.wait_for("traces", n, timeout, **filters)

    def wait_for_metrics(self, n: int, timeout: Duration = 5.0, **filters: Any) -> list[MetricPoint]:
        return self.wait_for("metrics", n, timeout, **filters)

    def wait_for_logs(self, n: int, timeout: Duration = 5.0, **filters: Any) -> list[LogRecord]:
        return self.wait_for("logs", n, timeout, **filters)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
