"""One span shape for both kinds of trace (OTLP as a collector received it, and a mesh's own spans),
and the Jaeger row order: depth-first by parent, siblings by start time, orphans kept as roots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Row", "ViewSpan", "from_mesh", "from_otlp", "to_rows", "view_spans"]


@dataclass
class ViewSpan:
    span_id: str
    parent_id: str | None
    name: str
    service: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL, UNSPECIFIED
    start: float  # seconds (any epoch; only differences are drawn)
    end: float
    error: bool = False
    status: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, float]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass
class Row:
    depth: int
    span: ViewSpan
    orphan: bool  # its parent id names a span this trace does not have


def from_otlp(spans: list[Any]) -> list[ViewSpan]:
    """OTLP spans (``mocktools.otlp.model.Span``) as drawn: nanoseconds to seconds, ERROR status."""
    out = []
    for s in spans:
        error = s.status_code == "ERROR"
        status = s.status_code + (f": {s.status_message}" if s.status_message else "")
        out.append(ViewSpan(s.span_id or "?", s.parent_span_id, s.name, s.service_name or "unknown service",
                            s.kind, s.start_time_unix_nano / 1e9, s.end_time_unix_nano / 1e9, error, status,
                            dict(s.attributes), [(e.name, e.time_unix_nano / 1e9) for e in s.events]))
    return out


def from_mesh(spans: list[Any]) -> list[ViewSpan]:
    """Mesh spans (``mocktools.mesh.spans.MeshSpan``): epoch seconds, "error" status with an HTTP code."""
    out = []
    for s in spans:
        error = s.status == "error"
        status = s.status.upper() + (f" {s.status_code}" if s.status_code else "")
        name = s.name if s.endpoint in s.name else f"{s.name} {s.endpoint}".strip()
        attrs = {"instance": s.instance, **s.attributes}
        out.append(ViewSpan(s.span_id, s.parent_span_id, name, s.service, s.kind.upper(), s.start, s.end, error,
                            status, attrs, [(e.name, e.time) for e in s.events]))
    return out


def view_spans(trace: Any) -> list[ViewSpan]:
    """Whatever a test holds: an OTLP ``Trace``, a list of OTLP or mesh spans, or ViewSpans."""
    spans = list(getattr(trace, "spans", trace))
    if not spans:
        return []
    first = spans[0]
    if isinstance(first, ViewSpan):
        return spans
    if hasattr(first, "start_time_unix_nano"):
        return from_otlp(spans)
    if hasattr(first, "duration") and hasattr(first, "service"):
        return from_mesh(spans)
    raise TypeError(f"cannot draw spans of type {type(first).__name__}")


def to_rows(spans: list[ViewSpan]) -> list[Row]:
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[ViewSpan]] = {}
    for s in spans:
        parent = s.parent_id if s.parent_id in ids and s.parent_id != s.span_id else None
        children.setdefault(parent, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: (s.start, s.span_id))
    rows: list[Row] = []
    seen: set[str] = set()
    stack = [(0, s) for s in reversed(children.get(None, []))]
    while stack:
        depth, s = stack.pop()
        if s.span_id in seen:
            continue
        seen.add(s.span_id)
        rows.append(Row(depth, s, bool(s.parent_id) and s.parent_id not in ids))
        stack.extend((depth + 1, c) for c in reversed(children.get(s.span_id, [])))
    for s in spans:  # spans on a parent cycle (corrupt ids) are still shown
        if s.span_id not in seen:
            seen.add(s.span_id)
            rows.append(Row(0, s, True))
    return rows
