"""One circuit breaker per outbound edge (caller -> callee, optionally per endpoint), configured per
mesh, per callee service or per edge, created on first use; every transition lands in one ordered
event log and goes to listeners.

Config document (``MeshSpec.breakers`` or ``MockServiceMesh(breakers=...)``)::

    breakers:
      default: {failure_rate_threshold: 50, window_size: 10, minimum_calls: 5, wait_duration: 30}
      services: {db: {wait_duration: 5}}          # calls into db
      edges: {"api->db": {half_open_calls: 1}}     # this edge only (most specific)
      per_endpoint: false                          # true: one breaker per caller->callee/endpoint
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..clock import Clock
from .circuit_breaker import OPEN, BreakerConfig, BreakerEvent, CircuitBreaker, is_flapping

__all__ = ["BreakerRegistry", "validate_breaker_doc"]

_KEYS = {"default", "services", "edges", "per_endpoint"}


def validate_breaker_doc(doc: Any) -> list[str]:
    """Problems in a breakers document (empty when valid)."""
    try:
        _parse(doc)
    except (ValueError, TypeError) as exc:
        return [f"breakers: {exc}"]
    return []


def _parse(doc: Any) -> tuple[BreakerConfig, dict[str, BreakerConfig], dict[str, BreakerConfig], bool]:
    if not isinstance(doc, dict):
        raise ValueError("must be a mapping")
    unknown = set(doc) - _KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    default = BreakerConfig.from_dict(_mapping(doc.get("default"), "default"))
    services = {str(n): BreakerConfig.from_dict(_mapping(d, f"services.{n}"), default)
                for n, d in _mapping(doc.get("services"), "services").items()}
    edges = {}
    for edge, d in _mapping(doc.get("edges"), "edges").items():
        if "->" not in str(edge):
            raise ValueError(f"edge {edge!r} must look like 'caller->callee'")
        callee = str(edge).split("->", 1)[1].split("/", 1)[0]
        edges[str(edge)] = BreakerConfig.from_dict(_mapping(d, f"edges.{edge}"), services.get(callee, default))
    return default, services, edges, bool(doc.get("per_endpoint", False))


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping")
    return value


class BreakerRegistry:
    def __init__(self, clock: Clock, doc: dict[str, Any] | None = None) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self.events: list[BreakerEvent] = []
        self._listeners: list[Callable[[BreakerEvent], None]] = []
        self.configure(doc)

    def configure(self, doc: dict[str, Any] | None) -> None:
        """(Re)configure; ``None`` disables breakers. Existing breakers are dropped."""
        parsed = _parse(doc if doc is not None else {})
        with self._lock:
            self.doc = doc
            self.enabled = doc is not None
            self.default, self.services, self.edges, self.per_endpoint = parsed
            self._breakers.clear()

    def config_for(self, caller: str, callee: str, endpoint: str = "") -> BreakerConfig:
        return (self.edges.get(f"{caller}->{callee}{endpoint}") or self.edges.get(f"{caller}->{callee}")
                or self.services.get(callee) or self.default)

    def get(self, caller: str, callee: str, endpoint: str = "") -> CircuitBreaker:
        key = f"{caller}->{callee}" + (endpoint if self.per_endpoint else "")
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(key)
                if breaker is None:
                    cfg = self.config_for(caller, callee, endpoint if self.per_endpoint else "")
                    breaker = self._breakers[key] = CircuitBreaker(key, cfg, self.clock, [self._on_event])
        return breaker

    def _on_event(self, event: BreakerEvent) -> None:
        with self._lock:
            self.events.append(event)
        for listener in list(self._listeners):
            listener(event)

    def add_listener(self, listener: Callable[[BreakerEvent], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on every transition; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def has_listeners(self) -> bool:
        """Whether a transition runs subscribers' code (which may block)."""
        return bool(self._listeners)

    def breakers(self) -> dict[str, CircuitBreaker]:
        with self._lock:
            return dict(self._breakers)

    def __getitem__(self, edge: str) -> CircuitBreaker:
        with self._lock:
            return self._breakers[edge]

    def states(self) -> dict[str, str]:
        return {edge: b.state for edge, b in self.breakers().items()}

    def edge_events(self, edge: str | None = None) -> list[BreakerEvent]:
        with self._lock:
            return [e for e in self.events if edge is None or e.edge == edge]

    def opened_order(self) -> list[str]:
        """Edges in the order they (first) opened."""
        order: list[str] = []
        for e in self.edge_events():
            if e.to_state == OPEN and e.edge not in order:
                order.append(e.edge)
        return order

    def flapping(self, *, window: float, opens: int = 3) -> list[str]:
        """Edges that opened ``opens`` times within ``window`` seconds."""
        return sorted(edge for edge in self.breakers() if is_flapping(self.edge_events(edge), window=window,
                                                                      opens=opens))

    def reset(self, edge: str | None = None) -> None:
        """Reset one breaker (or forget them all, with the event log)."""
        if edge is not None:
            self[edge].reset()
            return
        with self._lock:
            self._breakers.clear()
            self.events.clear()

    def graph_state(self) -> dict[str, Any]:
        """Live edge state for the dependency-graph exports."""
        return {"edges": {edge: {"state": b.state} for edge, b in self.breakers().items() if "/" not in edge}}

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "breakers": {edge: b.metrics() for edge, b in self.breakers().items()},
                "events": len(self.events)}
