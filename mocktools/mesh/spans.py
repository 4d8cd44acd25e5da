"""Recorded spans and the thread-safe store a test queries: by trace, as a tree, for completeness.

A mesh hop records one SERVER span, and one CLIENT span per downstream call (whose id is the
parent-id sent on that call), the OpenTelemetry shape. Context that arrived invalid is recorded
as a :class:`ContextEvent` so a test can assert on context loss.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

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
        return 1 + max((c.depth() for c in self.children), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.span.service, "name": self.span.name, "kind": self.span.kind,
                "span_id": self.span.span_id, "status": self.span.status,
                "children": [c.to_dict() for c in self.children]}


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
    """Bounded by trace count (oldest traces evicted first); exact totals kept beside it."""

    def __init__(self, max_traces: int = 10_000, max_context_events: int = 10_000) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._traces: OrderedDict[str, list[MeshSpan]] = OrderedDict()
        self._max = max_traces
        self._context_events: deque[ContextEvent] = deque(maxlen=max_context_events)
        self.total_spans = 0
        self.total_context_events = 0
        self._listeners: list[Callable[[MeshSpan], None]] = []

    def subscribe(self, listener: Callable[[MeshSpan], None]) -> Callable[[], None]:
        """Call ``listener(span)`` for every span recorded from now on; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def add(self, span: MeshSpan) -> None:
        with self._cond:
            spans = self._traces.get(span.trace_id)
            if spans is None:
                spans = self._traces[span.trace_id] = []
                if len(self._traces) > self._max:
                    self._traces.popitem(last=False)
            spans.append(span)
            self.total_spans += 1
            self._cond.notify_all()
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
            self.total_spans = self.total_context_events = 0

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
                pool = [s for spans in self._traces.values() for s in spans]
        return [s for s in pool if (service is None or s.service == service) and (kind is None or s.kind == kind)]

    def context_events(self) -> list[ContextEvent]:
        with self._cond:
            return list(self._context_events)

    def wait_for_spans(self, trace_id: str, count: int, timeout: float = 5.0, *, kind: str | None = None) -> list[MeshSpan]:
        """Block (on a Condition) until the trace has ``count`` spans (of ``kind``); fire-and-forget
        calls finish after the caller answered, so a test waits here instead of sleeping."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                spans = [s for s in self._traces.get(trace_id, ()) if kind is None or s.kind == kind]
                if len(spans) >= count:
                    return spans
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"trace {trace_id}: {len(spans)} of {count} spans after {timeout}s")
                self._cond.wait(left)

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
            while True:
                report = self.completeness(trace_id, expected)
                left = deadline - time.monotonic()
                if (report.complete and report.span_count >= min_spans) or left <= 0:
                    return report
                self._cond.wait(left)

    def describe(self) -> dict[str, Any]:
        with self._cond:
            return {"traces": len(self._traces), "total_spans": self.total_spans,
                    "context_events": self.total_context_events}
