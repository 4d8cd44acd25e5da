"""Queries over received telemetry: filter predicates, parked waiters and trace trees.

Split from the store so the store keeps to storage and bounds; nothing here takes a lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mocktools.otlp.model import LogRecord, MetricPoint, Span, SpanNode, Trace

_ITEM_CLASS = {"traces": Span, "metrics": MetricPoint, "logs": LogRecord}
_ITEM_WORD = {"traces": "spans", "metrics": "metric points", "logs": "log records"}
_SPECIAL_FILTERS = {"attributes", "resource", "scope_name", "where"}


@dataclass(slots=True)
class _Waiter:
    signal: str
    match: Callable[[Any], bool]
    matched: list[Any]
    error: Exception | None = None  # the filter raised on an item: the wait fails, never the export

    def feed(self, items: Iterable[Any]) -> None:
        if self.error is not None:
            return
        try:
            self.matched.extend(it for it in items if self.match(it))
        except Exception as exc:  # noqa: BLE001 - a caller's filter; reported to the waiter
            self.error = exc


def _matcher(signal: str, filters: dict[str, Any]) -> Callable[[Any], bool]:
    """Build a predicate from keyword filters: field equality plus a few special keys.

    `attributes={...}` / `resource={...}` match a subset of the item's / resource's attributes,
    `scope_name=` the instrumentation scope, `where=callable` any custom test; any other key
    must be a field or property of the item class and is compared with ==. Ids are
    compared case-insensitively.
    """
    cls = _ITEM_CLASS[signal]
    for key in filters:
        if key not in _SPECIAL_FILTERS and not hasattr(cls, key):
            raise TypeError(f"unknown filter {key!r} for {_ITEM_WORD[signal]}")
    checks: list[Callable[[Any], bool]] = []
    for key, want in filters.items():
        if want is None:
            continue
        if key in ("attributes", "resource") and not isinstance(want, dict):
            raise TypeError(f"filter {key!r} must be a mapping of attribute names to values, got {type(want).__name__}")
        if key == "where" and not callable(want):
            raise TypeError("filter 'where' must be a callable")
        if key in ("attributes", "resource"):
            checks.append(_subset(key, want))
        elif key == "scope_name":
            checks.append(_equals_scope(want))
        elif key == "where":
            checks.append(want)
        else:
            checks.append(_equals(key, want.lower() if key.endswith("_id") and isinstance(want, str) else want))
    return lambda item: all(check(item) for check in checks)


def _subset(field: str, want: dict[str, Any]) -> Callable[[Any], bool]:
    def check(item: Any) -> bool:
        have = getattr(item, field)
        return all(k in have and have[k] == v for k, v in want.items())
    return check


def _equals_scope(want: Any) -> Callable[[Any], bool]:
    return lambda item: bool(item.scope.name == want)


def _equals(field: str, want: Any) -> Callable[[Any], bool]:
    return lambda item: bool(getattr(item, field) == want)


def build_trace(trace_id: str, spans: Iterable[Span]) -> Trace:
    """Link spans by parent_span_id; spans whose parent is missing become extra roots.

    Iterative, and linear in the spans (a union-find over subtrees spots a link that would close
    a cycle), so a hostile 100k-span parent chain neither recurses nor goes quadratic.
    """
    ordered = sorted(spans, key=lambda s: (s.start_time_unix_nano, s.name))
    nodes: dict[str, SpanNode] = {}
    for span in ordered:
        if span.span_id is not None and span.span_id not in nodes:  # a duplicate id keeps its first copy
            nodes[span.span_id] = SpanNode(span)
    roots: list[SpanNode] = []
    top: dict[str, str] = {}  # union-find: a linked span points towards its subtree's root
    for span in ordered:
        node = nodes.get(span.span_id or "")
        if node is None or node.span is not span:
            roots.append(SpanNode(span))  # id-less or duplicate span: show it, as a root
            continue
        parent = nodes.get(span.parent_span_id or "")
        if parent is None or _root_of(parent.span.span_id, top) == span.span_id:
            roots.append(node)  # missing parent, self-parent or a cycle in hostile input
        else:
            top[span.span_id] = parent.span.span_id  # type: ignore[index,assignment]
            parent.children.append(node)
    return Trace(trace_id, ordered, roots)


def _root_of(start: Any, top: dict[str, str]) -> Any:
    """The root of `start`'s linked subtree (with path compression)."""
    root = start
    while root in top:
        root = top[root]
    while start in top and top[start] != root:
        top[start], start = root, top[start]
    return root


__all__ = ["build_trace"]
