"""Recorded spans and the thread-safe store a test queries: by trace, as a tree, for completeness.

A mesh hop records one SERVER span, and one CLIENT span per downstream call (whose id is the
parent-id sent on that call), the OpenTelemetry shape. Context that arrived invalid is recorded
as a :class:`ContextEvent` so a test can assert on context loss.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..journal import WaitInterrupted

__all__ = ["MeshSpan", "SpanEvent", "ContextEvent", "TraceNode", "Completeness", "SpanStore"]


@dataclass(slots=True)
class SpanEvent:
    name: str
    time: float
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class MeshSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    instance: str = ""
    endpoint: str = ""
    kind: str = "server"  # "server" or "client"
    start: float = 0.0  # epoch seconds
    duration: float = 0.0  # seconds
    status: str = "ok"  # "ok" or "error"
    status_code: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)

    @property
    def end(self) -> float:
        return self.start + self.duration

    def add_event(self, name: str, when: float | None = None, **attributes: Any) -> None:
        self.events.append(SpanEvent(name, time.time() if when is None else when, attributes))

    def to_dict(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "span_id": self.span_id, "parent_span_id": self.parent_span_id,
                "name": self.name, "service": self.service, "instance": self.instance,
                "endpoint": self.endpoint, "kind": self.kind, "start": self.start, "duration": self.duration,
                "status": self.status, "status_code": self.status_code, "attributes": dict(self.attributes),
                "events": [{"name": e.name, "time": e.time, "attributes": e.attributes} for e in self.events]}


@dataclass(slots=True)
class ContextEvent:
    """Incoming context that was rejected: the trace restarted or the tracestate was dropped."""

    time: float
    service: str
    instance: str
    endpoint: str
    error: str | None
    tracestate_error: str | None
    headers: dict[str, str]
    new_trace_id: str


#: A stored span: one flat tuple of MeshSpan's fields (events a tuple, None when there are none), then the
#: attributes as key, value, key, value... Why: the collector tracks every MeshSpan and its events
#: list for as long as the store keeps them (up to 200,000 spans), and each full (generation-2)
#: pass walks them all holding the GIL; a 50-service mesh under /deep load stored ~20,000 such
#: objects a second and its full passes grew from 47 to 84 ms in 3 s, the most of its p99. A
#: tuple of strings and numbers only is untracked at its first young pass (one holding a dict or
#: a nested tuple is not, or later), so stored spans cost full passes nothing (bench/README.md,
#: the mesh's tail). A query builds new MeshSpan objects from the records.
_Record = tuple[Any, ...]
_KIND, _EVENTS = 7, 12  # indexes in a record: MeshSpan.kind; events, after which the attributes follow


def _pack(span: MeshSpan) -> _Record:
    return (span.trace_id, span.span_id, span.parent_span_id, span.name, span.service, span.instance,
            span.endpoint, span.kind, span.start, span.duration, span.status, span.status_code,
            tuple(span.events) or None, *itertools.chain.from_iterable(span.attributes.items()))


def _unpack(record: _Record) -> MeshSpan:
    (trace_id, span_id, parent, name, service, instance, endpoint, kind, start, duration, status,
     status_code, events) = record[:_EVENTS + 1]
    return MeshSpan(trace_id, span_id, parent, name, service, instance, endpoint, kind, start, duration, status,
                    status_code, dict(zip(record[_EVENTS + 1::2], record[_EVENTS + 2::2])),
                    [] if events is None else list(events))


#: nesting of a rendered trace tree (TraceNode.to_dict)
RENDER_DEPTH = 64
#: defaults of the store's bounds (see SpanStore)
DEFAULT_MAX_TRACES = 10_000
DEFAULT_MAX_SPANS = 200_000
DEFAULT_MAX_SPANS_PER_TRACE = 10_000


@dataclass(slots=True)
class TraceNode:
    span: MeshSpan
    children: list[TraceNode] = field(default_factory=list)

    def walk(self) -> list[MeshSpan]:
        out, todo = [], [self]
        while todo:
            n = todo.pop()
            out.append(n.span)
            todo.extend(reversed(n.children))
        return out

    def depth(self) -> int:
        deepest, todo = 0, [(self, 1)]
        while todo:
            node, level = todo.pop()
            deepest = max(deepest, level)
            todo.extend((c, level + 1) for c in node.children)
        return deepest

    def to_dict(self, max_depth: int = RENDER_DEPTH) -> dict[str, Any]:
        """The subtree as nested dicts, built without recursion and at most `max_depth` spans
        deep: a deeper span's children are left out and counted in "children_cut" (the flat
        span list of the trace still has every span), so a hostile parent chain still renders."""
        def one(n: TraceNode) -> dict[str, Any]:
            return {"service": n.span.service, "name": n.span.name, "kind": n.span.kind,
                    "span_id": n.span.span_id, "status": n.span.status, "children": []}

        root = one(self)
        todo = [(self, root, 1)]
        while todo:
            node, out, level = todo.pop()
            if level >= max_depth and node.children:
                out["children_cut"] = len(node.children)
                continue
            for child in node.children:
                child_out = one(child)
                out["children"].append(child_out)
                todo.append((child, child_out, level + 1))
        return root


@dataclass(slots=True)
class Completeness:
    """``complete`` when there is one root, no orphan, and every expected (service, endpoint) hop."""

    trace_id: str
    roots: list[MeshSpan]
    orphans: list[MeshSpan]
    missing: list[tuple[str, str]]
    span_count: int

    @property
    def complete(self) -> bool:
        return self.span_count > 0 and len(self.roots) == 1 and not self.orphans and not self.missing

    def __bool__(self) -> bool:
        return self.complete


class SpanStore:
    """Bounded by traces, by spans in all and by spans per trace; exact totals kept beside it.

    Past `max_traces` traces or `max_spans` spans the oldest traces are evicted whole; a trace
    already holding `max_spans_per_trace` spans keeps its first ones and counts the rest in
    `dropped_spans` (one reused traceparent cannot grow one trace without limit).
    """

    def __init__(self, max_traces: int = DEFAULT_MAX_TRACES, max_context_events: int = 10_000, *,
                 max_spans: int = DEFAULT_MAX_SPANS, max_spans_per_trace: int = DEFAULT_MAX_SPANS_PER_TRACE) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiters = 0  # threads parked in wait_for_spans/wait_complete (add notifies only then)
        self._traces: OrderedDict[str, list[_Record]] = OrderedDict()  # MeshSpans packed (_pack)
        self._max = max(1, max_traces)
        self.max_spans = max(1, max_spans)
        self.max_spans_per_trace = max(1, max_spans_per_trace)
        self._stored = 0
        self._context_events: deque[ContextEvent] = deque(maxlen=max_context_events)
        self.total_spans = 0
        self.dropped_spans = 0  # refused: their trace was full
        self.evicted_spans = 0  # stored, then evicted with their (old) trace
        self.total_context_events = 0
        self._totals: dict[tuple[str, str], int] = {}  # (kind, status) -> spans recorded, never evicted
        self._interrupts = 0
        self._listeners: list[Callable[[MeshSpan], None]] = []

    def subscribe(self, listener: Callable[[MeshSpan], None]) -> Callable[[], None]:
        """Call ``listener(span)`` for every span recorded from now on; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def has_listeners(self) -> bool:
        """Whether recording a span runs subscribers' code (which may block)."""
        return bool(self._listeners)

    def add(self, span: MeshSpan) -> None:
        with self._lock:  # the condition's own lock; every hop records two spans, so no wrapper
            self.total_spans += 1
            key = (span.kind, span.status)
            self._totals[key] = self._totals.get(key, 0) + 1
            spans = self._traces.get(span.trace_id)
            if spans is None:
                spans = self._traces[span.trace_id] = []
            if len(spans) >= self.max_spans_per_trace:
                self.dropped_spans += 1
                return
            spans.append(_pack(span))
            self._stored += 1
            while len(self._traces) > 1 and (len(self._traces) > self._max or self._stored > self.max_spans):
                _, old = self._traces.popitem(last=False)
                self._stored -= len(old)
                self.evicted_spans += len(old)
            if self._waiters:
                self._cond.notify_all()
        if self._listeners:
            for listener in list(self._listeners):
                listener(span)

    def add_context_event(self, event: ContextEvent) -> None:
        with self._cond:
            self._context_events.append(event)
            self.total_context_events += 1
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._traces.clear()
            self._context_events.clear()
            self.total_spans = self.total_context_events = self._stored = 0
            self._totals.clear()
            self.dropped_spans = self.evicted_spans = 0

    def totals(self) -> dict[str, int]:
        """Exact counts since the last clear, stored or not: `server` (every service request served
        anywhere in the mesh), `client` (calls made), and `server_error`/`client_error` of those."""
        with self._cond:
            out = {"server": 0, "server_error": 0, "client": 0, "client_error": 0}
            for (kind, status), n in self._totals.items():
                out[kind] = out.get(kind, 0) + n
                if status == "error":
                    out[f"{kind}_error"] = out.get(f"{kind}_error", 0) + n
            return out

    def interrupt(self) -> None:
        """Release every wait parked now (the mesh is stopping)."""
        with self._cond:
            self._interrupts += 1
            self._cond.notify_all()

    # ---- queries -------------------------------------------------------------------------
    def trace_ids(self) -> list[str]:
        with self._cond:
            return list(self._traces)

    def spans(self, trace_id: str | None = None, *, service: str | None = None,
              kind: str | None = None) -> list[MeshSpan]:
        with self._cond:
            if trace_id is not None:
                pool = list(self._traces.get(trace_id, ()))
            else:
                pool = [r for records in self._traces.values() for r in records]
        spans = map(_unpack, pool)
        return [s for s in spans if (service is None or s.service == service) and (kind is None or s.kind == kind)]

    def context_events(self) -> list[ContextEvent]:
        with self._cond:
            return list(self._context_events)

    def wait_for_spans(self, trace_id: str, count: int, timeout: float = 5.0, *, kind: str | None = None) -> list[MeshSpan]:
        """Block (on a Condition) until the trace has ``count`` spans (of ``kind``); fire-and-forget
        calls finish after the caller answered, so a test waits here instead of sleeping."""
        deadline = time.monotonic() + timeout
        with self._cond:
            generation = self._interrupts
            while True:
                records = [r for r in self._traces.get(trace_id, ()) if kind is None or r[_KIND] == kind]
                if len(records) >= count:
                    return [_unpack(r) for r in records]
                if self._interrupts != generation:
                    raise WaitInterrupted(f"the mesh stopped while trace {trace_id} had {len(records)} of {count} spans")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"trace {trace_id}: {len(records)} of {count} spans after {timeout}s")
                self._waiters += 1
                try:
                    self._cond.wait(left)
                finally:
                    self._waiters -= 1

    def tree(self, trace_id: str) -> list[TraceNode]:
        """Root nodes (spans whose parent is not in the store), children ordered by start time."""
        spans = sorted(self.spans(trace_id), key=lambda s: (s.start, s.span_id))
        nodes = {s.span_id: TraceNode(s) for s in spans}
        roots: list[TraceNode] = []
        for s in spans:
            parent = nodes.get(s.parent_span_id) if s.parent_span_id else None
            (parent.children if parent is not None else roots).append(nodes[s.span_id])
        return roots

    def completeness(self, trace_id: str, expected: list[tuple[str, str]] | None = None) -> Completeness:
        """Roots are spans without a recorded parent; all but the first are orphans (a broken link)."""
        spans = self.spans(trace_id)
        ids = {s.span_id for s in spans}
        parentless = sorted((s for s in spans if not s.parent_span_id or s.parent_span_id not in ids),
                            key=lambda s: s.start)
        roots, orphans = parentless[:1], parentless[1:]
        seen = {(s.service, s.endpoint) for s in spans if s.kind == "server"}
        missing = [hop for hop in (expected or []) if tuple(hop) not in seen]
        return Completeness(trace_id, roots, orphans, missing, len(spans))

    def wait_complete(self, trace_id: str, expected: list[tuple[str, str]] | None = None,
                      timeout: float = 5.0, *, min_spans: int = 1) -> Completeness:
        """Block until the trace is complete (async hops land after the caller answered);
        on timeout return the last, incomplete report instead of raising, so a test can show why."""
        deadline = time.monotonic() + timeout
        with self._cond:
            generation = self._interrupts
            while True:
                report = self.completeness(trace_id, expected)
                left = deadline - time.monotonic()
                if (report.complete and report.span_count >= min_spans) or left <= 0 \
                        or self._interrupts != generation:  # stopped: the last report, as on timeout
                    return report
                self._waiters += 1
                try:
                    self._cond.wait(left)
                finally:
                    self._waiters -= 1

    def describe(self) -> dict[str, Any]:
        with self._cond:
            return {"traces": len(self._traces), "total_spans": self.total_spans,
                    "context_events": self.total_context_events, "stored_spans": self._stored,
                    "dropped_spans": self.dropped_spans, "evicted_spans": self.evicted_spans,
                    "max_traces": self._max, "max_spans": self.max_spans,
                    "max_spans_per_trace": self.max_spans_per_trace}
