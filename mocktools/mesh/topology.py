"""Generated topologies: a layered mesh of any size, for tests, benchmarks and demos.

``layered_spec(50)`` gives a gateway that fans out in parallel to the API tier, each API calling
two mid-tier services in sequence, each mid-tier service one leaf, each leaf the shared ``db``,
plus a fire-and-forget ``audit`` call and a ``/deep`` endpoint that walks a chain through every
tier. Services beyond those reached by ``/checkout`` still exist and are reachable directly.
"""

from __future__ import annotations

from typing import Any

from .spec import MeshSpec

__all__ = ["layered_spec", "layered_doc"]


def layered_doc(services: int = 50, *, instances: int = 2, apis: int = 4, latency_ms: float = 0.0) -> dict[str, Any]:
    """The dict form (so it can be dumped as YAML/JSON); at least 8 services."""
    if services < 8:
        raise ValueError("a layered mesh needs at least 8 services")
    rest = services - apis - 3  # gateway, db, audit
    mids = max(2 * apis, rest // 2)
    leaves = max(1, rest - mids)
    doc: dict[str, Any] = {"name": f"layered-{services}", "defaults": {"instances": instances,
                                                                        "latency_ms": latency_ms}, "services": {}}
    svc = doc["services"]
    svc["gateway"] = {"endpoints": {
        "/checkout": {"calls": [{"parallel": [f"api-{i}:/" for i in range(apis)]}, {"async": ["audit:/log"]}]},
        "/deep": {"calls": ["api-0:/deep"]},
        "/": {"response": {"ok": True}},
    }}
    for i in range(apis):
        svc[f"api-{i}"] = {"tags": ["api"], "endpoints": {
            "/": {"calls": [f"mid-{(2 * i) % mids}:/", f"mid-{(2 * i + 1) % mids}:/"]},
            "/deep": {"calls": [f"mid-{i % mids}:/deep"]}}}
    for k in range(mids):
        leaf = f"leaf-{k % leaves}"
        svc[f"mid-{k}"] = {"tags": ["mid"], "endpoints": {"/": {"calls": [f"{leaf}:/"]},
                                                          "/deep": {"calls": [f"{leaf}:/deep"]}}}
    for j in range(leaves):
        svc[f"leaf-{j}"] = {"tags": ["leaf"], "endpoints": {"/": {"calls": ["db:/query"]},
                                                            "/deep": {"calls": ["db:/query"]}}}
    svc["db"] = {"tags": ["storage"], "endpoints": {"/query": {"response": {"rows": 1}}}}
    svc["audit"] = {"instances": 1, "endpoints": {"/log": {"status": 202}}}
    return doc


def layered_spec(services: int = 50, **kwargs: Any) -> MeshSpec:
    return MeshSpec.from_dict(layered_doc(services, **kwargs))
