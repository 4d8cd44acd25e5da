"""What the dependency-graph picture draws on top of the topology, read from a running mesh.

Kept apart from the renderer so the picture can be drawn from plain data (a test, a saved
report) and so the renderer never reaches into a mesh's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..mesh.mock import MockServiceMesh

__all__ = ["GraphState", "InstanceState", "mesh_state", "trace_path"]


@dataclass(frozen=True)
class InstanceState:
    instance_id: str
    up: bool
    reason: str = ""  # why it is down: stopped, critical check, chaos outage, injected faults


@dataclass
class GraphState:
    instances: dict[str, list[InstanceState]] = field(default_factory=dict)
    breakers: dict[str, str] = field(default_factory=dict)  # "caller->callee" -> CLOSED/OPEN/...
    chaos: list[dict[str, Any]] = field(default_factory=list)  # active scenarios (to_dict form)
    trace_id: str | None = None
    trace_edges: list[tuple[str, str]] = field(default_factory=list)  # caller->callee hops of the trace
    trace_services: list[str] = field(default_factory=list)
    title: str = ""


def trace_path(spans: list[Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """The service hops of one mesh trace: (parent span's service, child span's service) pairs."""
    by_id = {s.span_id: s for s in spans}
    edges: list[tuple[str, str]] = []
    services: list[str] = []
    for s in sorted(spans, key=lambda s: s.start):
        if s.service not in services:
            services.append(s.service)
        parent = by_id.get(s.parent_span_id) if s.parent_span_id else None
        if parent is not None and parent.service != s.service and (parent.service, s.service) not in edges:
            edges.append((parent.service, s.service))
    return edges, services


def _instance_state(mesh: MockServiceMesh, inst: Any, outages: dict[str, str]) -> InstanceState:
    iid = inst.instance_id
    if not inst.running:
        return InstanceState(iid, False, "stopped")
    if iid in outages:
        return InstanceState(iid, False, outages[iid])
    checks = mesh.registry.checks(iid)
    if not checks and mesh.registry.get(iid) is None:
        return InstanceState(iid, False, "not registered")
    bad = sorted({c.status for c in checks.values() if c.status != "passing"})
    if bad:
        return InstanceState(iid, False, "health " + "/".join(bad))
    mode = inst.faults.mode()
    if mode == "permanent_failure":  # serving, but every call fails: down as a caller sees it
        return InstanceState(iid, False, "injected permanent failure")
    if mode != "success":
        return InstanceState(iid, True, f"injected faults: {mode}")
    return InstanceState(iid, True, "")


def mesh_state(mesh: MockServiceMesh, trace_id: str | None = None) -> GraphState:
    """Instances up/down per service, breaker state per edge, active chaos, one trace's path."""
    scenarios = [s for s in mesh.chaos.scenarios() if s.get("status") == "active"]
    outages: dict[str, str] = {}
    for sc in scenarios:
        if sc["kind"] == "outage":
            for iid in sc["params"].get("instances", []):
                outages[iid] = f"chaos {sc['id']} outage ({sc['params'].get('mode')})"
    instances = {name: [_instance_state(mesh, inst, outages) for inst in list(group)]
                 for name, group in list(mesh.instances.items())}
    breakers: dict[str, str] = {}
    for edge, state in mesh.breakers.states().items():
        key = edge.split("/", 1)[0] if "/" in edge.split("->", 1)[1] else edge  # per-endpoint breakers
        rank = _SEVERITY.get(state, 0)
        if rank >= _SEVERITY.get(breakers.get(key, ""), -1):
            breakers[key] = state
    picture = GraphState(instances, breakers, scenarios, title=f"mesh {mesh.spec.name}")
    if trace_id:
        picture.trace_id = trace_id
        picture.trace_edges, picture.trace_services = trace_path(mesh.trace(trace_id))
    return picture


_SEVERITY = {"DISABLED": 0, "CLOSED": 1, "HALF_OPEN": 2, "OPEN": 3, "FORCED_OPEN": 4}
