"""Friendly, plain-Python views of decoded OTLP telemetry.

Tests assert on these objects instead of protobuf messages: ids are lower-case hex, enums are
names, attributes are flattened to Python values. Each object keeps the resource attributes and
instrumentation scope it arrived with, so a filter by service name needs no extra lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1 import common_pb2

SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}
TEMPORALITIES = {0: "UNSPECIFIED", 1: "DELTA", 2: "CUMULATIVE"}


def any_value(value: common_pb2.AnyValue) -> Any:
    """Flatten an OTLP AnyValue into str/bool/int/float/bytes/list/dict (None when unset)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    """Flatten repeated KeyValue into a dict (a later duplicate key wins, as in the SDKs)."""
    return {kv.key: any_value(kv.value) for kv in kvs}


def hex_id(raw: bytes) -> str | None:
    """Lower-case hex of a trace/span id; None for an absent (empty or all-zero) id."""
    if not raw or not any(raw):
        return None
    return raw.hex()


@dataclass(frozen=True, slots=True)
class Scope:
    """The instrumentation scope (library) that produced an item."""

    name: str = ""
    version: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an item came from: resource, scope and the request that carried it."""

    resource: dict[str, Any]
    scope: Scope
    request_seq: int
    transport: str  # "http" or "grpc"
    encoding: str  # "protobuf" or "json"

    @property
    def service_name(self) -> str | None:
        value = self.resource.get("service.name")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SpanLink:
    trace_id: str | None
    span_id: str | None
    trace_state: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Span:
    """One received span."""

    trace_id: str | None
    span_id: str | None
    parent_span_id: str | None
    name: str
    kind: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, Any]
    status_code: str
    status_message: str
    events: list[SpanEvent]
    links: list[SpanLink]
    trace_state: str
    flags: int
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int
    origin: Origin

    @property
    def resource(self) -> dict[str, Any]:
        return self.origin.resource

    @property
    def scope(self) -> Scope:
        return self.origin.scope

    @property
    def service_name(self) -> str | None:
        return self.origin.service_name

    @property
    def duration_ns(self) -> int:
        return self.end_time_unix_nano - self.start_time_unix_nano

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None


@dataclass(frozen=True, slots=True)
class Exemplar:
    value: int | float | None
    time_unix_nano: int
    trace_id: str | None
    span_id: str | None
    filtered_attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One data point of one metric, with the metric's name/type/unit repeated on it.

    `value` is the number for gauge/sum points and the sum for histogram/summary points;
    `count`, `bucket_counts`, `explicit_bounds`, `min`, `max`, `quantiles` fill in per type.
    """

    name: str
    description: str
    unit: str
    type: str  # gauge | sum | histogram | exponential_histogram | summary
    attributes: dict[str, Any]
    start_time_unix_nano: int
    time_unix_nano: int
    value: int | float | None
    is_monotonic: bool | None
    aggregation_temporality: str | None
    count: int | None
    sum: float | None
    min: float | None
    max: float | None
    bucket_counts: list[int]
    explicit_bounds: list[float]
    quantiles: dict[float, float]
    exemplars: list[Exemplar]
    flags: int
    origin: Origin

    @property
    def resource(self) -> dict[str, Any]:
        return self.origin.resource

    @property
    def scope(self) -> Scope:
        return self.origin.scope

    @property
    def service_name(self) -> str | None:
        return self.origin.service_name


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One received log record; `body` is flattened like an attribute value."""

    body: Any
    severity_number: int
    severity_text: str
    time_unix_nano: int
    observed_time_unix_nano: int
    attributes: dict[str, Any]
    trace_id: str | None
    span_id: str | None
    event_name: str
    flags: int
    dropped_attributes_count: int
    origin: Origin

    @property
    def resource(self) -> dict[str, Any]:
        return self.origin.resource

    @property
    def scope(self) -> Scope:
        return self.origin.scope

    @property
    def service_name(self) -> str | None:
        return self.origin.service_name


@dataclass(slots=True)
class SpanNode:
    """A span in a trace tree with its children (sorted by start time)."""

    span: Span
    children: list[SpanNode] = field(default_factory=list)

    def walk(self, depth: int = 0) -> list[tuple[int, Span]]:
        """Depth-first (depth, span) pairs of this subtree; iterative, so any depth is fine."""
        out: list[tuple[int, Span]] = []
        stack: list[tuple[int, SpanNode]] = [(depth, self)]
        while stack:
            level, node = stack.pop()
            out.append((level, node.span))
            stack.extend((level + 1, child) for child in reversed(node.children))
        return out


@dataclass(slots=True)
class Trace:
    """All spans of one trace id as a parent/child tree.

    `roots` holds spans without a parent plus orphans whose parent never arrived, so a
    test sees every span even when a batch is missing.
    """

    trace_id: str
    spans: list[Span]
    roots: list[SpanNode]

    @property
    def root(self) -> Span | None:
        """The single true root span, or None if there is none or more than one."""
        true_roots = [n.span for n in self.roots if n.span.is_root]
        return true_roots[0] if len(true_roots) == 1 else None

    @property
    def orphans(self) -> list[Span]:
        return [n.span for n in self.roots if not n.span.is_root]

    def find(self, name: str) -> list[Span]:
        return [s for s in self.spans if s.name == name]

    def children_of(self, span_id: str) -> list[Span]:
        return sorted(
            (s for s in self.spans if s.parent_span_id == span_id), key=lambda s: s.start_time_unix_nano
        )

    def walk(self) -> list[tuple[int, Span]]:
        """Depth-first (depth, span) pairs, roots in start order."""
        out: list[tuple[int, Span]] = []
        for node in self.roots:
            out.extend(node.walk())
        return out

    def format(self) -> str:
        """An indented outline of span names, handy in assertion messages."""
        return "\n".join("  " * depth + span.name for depth, span in self.walk())

    def __len__(self) -> int:
        return len(self.spans)
