"""MeshLink: the narrow interface a ServiceInstance has to its mesh.

An instance serves hops; it needs the endpoint it serves, trace-context rules, where spans go,
chaos and breaker decisions, discovery, a thread pool for fan-outs and a place for failures.
It gets exactly those as methods, not the mesh object itself.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from .circuit_breaker import CircuitBreaker
from .discovery import ServiceEntry
from .hop_flow import DECIDE
from .propagation import Extracted, TraceContext, extract, extract_environ, inject
from .spans import ContextEvent, MeshSpan
from .spec import EndpointSpec

if TYPE_CHECKING:
    from .instance import ServiceInstance
    from .mock import MockServiceMesh


class MeshLink:
    """What one mesh offers its instances."""

    def __init__(self, mesh: MockServiceMesh) -> None:
        self._mesh = mesh

    @property
    def host(self) -> str:
        return self._mesh.host

    @property
    def engine(self) -> str | None:
        return self._mesh.engine

    @property
    def shared_loop(self) -> Any:
        """The running loop every instance serves on (asyncio engine), else None."""
        return self._mesh.instance_loop.loop

    @property
    def clock(self) -> Clock:
        return self._mesh.clock

    @property
    def stopping(self) -> bool:
        """True once the mesh began to stop (held requests then drop instead of answering)."""
        return self._mesh.stopping.is_set()

    @property
    def hop_limit(self) -> int:
        return self._mesh.hop_limit

    def endpoint(self, service: str, path: str) -> EndpointSpec | None:
        svc = self._mesh.spec.services.get(service)
        return svc.endpoints.get(path) if svc is not None else None

    def loop_verdict(self, service: str, instance_id: str) -> tuple[bool, Any]:
        """Whether a hop of this instance may run on its loop now, and the server chaos drawn for
        it (drawn here once, applied by the hop; `DECIDE`: not drawn): not while a span or
        breaker subscriber runs (its code may block) or the mesh stops, nor when the draw holds
        the hop."""
        mesh = self._mesh
        if mesh.spans.has_listeners or mesh.breakers.has_listeners or mesh.stopping.is_set():
            return False, DECIDE
        chaos = mesh.chaos
        fault = chaos.server_fault(service, instance_id) if chaos.active else None
        return (fault is None or fault[0] == "status"), fault

    def extract(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Extracted:
        return extract(headers, b3=self._mesh.accept_b3, jaeger=self._mesh.accept_jaeger)

    def extract_environ(self, environ: Mapping[str, Any]) -> Extracted:
        return extract_environ(environ, b3=self._mesh.accept_b3, jaeger=self._mesh.accept_jaeger)

    def inject(self, ctx: TraceContext) -> dict[str, str]:
        return inject(ctx, formats=self._mesh.propagation)

    def record_span(self, span: MeshSpan) -> None:
        self._mesh.spans.add(span)

    def record_context_event(self, event: ContextEvent) -> None:
        self._mesh.spans.add_context_event(event)

    def server_fault(self, service: str, instance_id: str) -> tuple[str, Any] | None:
        chaos = self._mesh.chaos
        return chaos.server_fault(service, instance_id) if chaos.active else None

    def client_fault(self, caller: str, callee: str, instance_id: str, endpoint: str) -> tuple[str, Any] | None:
        chaos = self._mesh.chaos
        return chaos.client_fault(caller, callee, instance_id, endpoint) if chaos.active else None

    def discover(self, service: str, caller: str) -> list[ServiceEntry]:
        """The passing instances `caller` sees now (scheduled chaos catches up with the clock first)."""
        chaos = self._mesh.chaos
        if chaos.active:
            chaos.tick()
        return self._mesh.discover(service, caller=caller)

    def breaker(self, caller: str, callee: str, endpoint: str) -> CircuitBreaker | None:
        breakers = self._mesh.breakers
        return breakers.get(caller, callee, endpoint) if breakers.enabled else None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._mesh.executor.submit(fn, *args)

    def note_failure(self, inst: ServiceInstance, result: dict[str, Any], trace_id: str) -> None:
        self._mesh.note_failure(inst, result, trace_id)

    def record_error(self, exc: BaseException) -> None:
        self._mesh.record_error(exc)


__all__ = ["MeshLink"]
