"""Rendering of model objects into the real server's JSON records.

Job and execution records change only when their `rev` changes, so each is rendered (and
JSON-encoded, indented as Express's `json spaces 4` does) once per change and reused: a
`GET /v1/ex?size=1000` on a 10,000-execution cluster joins cached fragments.
"""
from __future__ import annotations

import heapq
import json
import zlib
from typing import Any, Iterable

from ..safe_json import MAX_DEPTH
from .entities import Execution, Job, Node
from .states import RUNNING, iso

TERASLICE_VERSION = "v3.18.0"
NODE_VERSION = "v20.10.0"


_dumps = json.JSONEncoder(ensure_ascii=False).encode
# one level per container a job spec may nest (safe_json.MAX_DEPTH) plus the record's own levels
_PAD = ["    " * n for n in range(MAX_DEPTH + 8)]
_FLAT_ENC = [json.JSONEncoder(ensure_ascii=False, separators=(",\n" + pad, ": ")).encode
             for pad in _PAD]


def _flat(items: Iterable[Any]) -> bool:
    return not any(isinstance(v, (dict, list)) for v in items)


def pretty(obj: Any, level: int = 0) -> str:
    """`JSON.stringify(obj, null, 4)`, byte for byte, but flat containers are encoded by the C
    encoder (json.dumps with indent= falls back to the pure-Python one, ~10x slower)."""
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        pad, end = _PAD[level + 1], _PAD[level]
        if _flat(obj.values()):
            return "{\n" + pad + _FLAT_ENC[level + 1](obj)[1:-1] + "\n" + end + "}"
        return "{\n" + ",\n".join(f"{pad}{_dumps(k)}: {pretty(v, level + 1)}"
                                   for k, v in obj.items()) + "\n" + end + "}"
    if isinstance(obj, list):
        if not obj:
            return "[]"
        pad, end = _PAD[level + 1], _PAD[level]
        if _flat(obj):
            return "[\n" + pad + _FLAT_ENC[level + 1](obj)[1:-1] + "\n" + end + "]"
        return "[\n" + ",\n".join(pad + pretty(v, level + 1) for v in obj) + "\n" + end + "]"
    return _dumps(obj)


def _fragment(record: dict[str, Any]) -> str:
    """The record as it appears inside a 4-space indented JSON array."""
    return "    " + pretty(record, 1)


def job_record(job: Job) -> dict[str, Any]:
    """The stored job record (cached per revision; callers must not mutate it)."""
    cache = job.cache
    if cache is not None and cache[0] == job.rev:
        return cache[1]
    rec: dict[str, Any] = dict(job.spec)
    if job.active is not None:
        rec["active"] = job.active
    else:
        rec.pop("active", None)
    rec["job_id"] = job.job_id
    rec["_context"] = "job"
    rec["_created"] = iso(job.created)
    rec["_updated"] = iso(job.updated)
    if job.deleted:
        rec["_deleted"] = True
        rec["_deleted_on"] = iso(job.deleted_on or job.updated)
    job.cache = (job.rev, rec, None)
    return rec


def ex_record(ex: Execution) -> dict[str, Any]:
    """The stored execution context record (cached per revision)."""
    cache = ex.cache
    if cache is not None and cache[0] == ex.rev:
        return cache[1]
    rec: dict[str, Any] = dict(ex.spec)
    rec.pop("active", None)
    rec["workers"] = ex.workers
    rec.update({
        "job_id": ex.job.job_id,
        "ex_id": ex.ex_id,
        "metadata": dict(ex.metadata),
        "_context": "ex",
        "_created": iso(ex.created),
        "_updated": iso(ex.updated),
        "_status": ex.status,
        "_has_errors": ex.has_errors,
        "_failureReason": ex.failure_reason,
        "_slicer_stats": dict(ex.final_stats) if ex.final_stats else {},
        "teraslice_version": TERASLICE_VERSION,
    })
    if ex.slicer_hostname is not None:
        rec["slicer_hostname"] = ex.slicer_hostname
        rec["slicer_port"] = ex.slicer_port
    if ex.recovered_execution:
        rec["recovered_execution"] = ex.recovered_execution
        if ex.recovered_slice_type:
            rec["recovered_slice_type"] = ex.recovered_slice_type
    if ex.deleted:
        rec["_deleted"] = True
        rec["_deleted_on"] = iso(ex.deleted_on or ex.updated)
    ex.cache = (ex.rev, rec, None)
    return rec


def fragment(obj: Job | Execution) -> str:
    """The cached JSON fragment of a job or execution record."""
    rec = job_record(obj) if isinstance(obj, Job) else ex_record(obj)
    cache = obj.cache
    if cache[2] is None:
        obj.cache = cache = (cache[0], rec, _fragment(rec))
    return cache[2]


def json_array(objs: Iterable[Job | Execution]) -> str:
    """A JSON array of records, byte-for-byte what `JSON.stringify(list, null, 4)` gives."""
    parts = [fragment(obj) for obj in objs]
    if not parts:
        return "[]"
    return "[\n" + ",\n".join(parts) + "\n]"


def with_ex_fields(job: Job, fields: list[str]) -> dict[str, Any]:
    """A job record plus `ex`: the chosen fields of its latest execution (`?ex=` on /v1/jobs)."""
    rec = dict(job_record(job))
    latest = job.latest()
    ex: dict[str, Any] = {}
    if latest is not None:
        full = ex_record(latest)
        ex = {f: full[f] for f in fields if f in full}
    rec["ex"] = ex
    return rec


def controllers(executions: Iterable[Execution], now: float) -> list[dict[str, Any]]:
    """Controller stats of every running-group execution, sorted like multiFieldSort(...).reverse()."""
    stats = [ex.controller_stats(now) for ex in executions if ex.status in RUNNING]
    stats.sort(key=lambda s: (s["name"], s["started"]), reverse=True)
    return stats


def cluster_state(nodes: list[Node], executions: Iterable[Execution]) -> dict[str, Any]:
    """`/v1/cluster/state` for native clustering: controllers and workers placed on nodes."""
    if not nodes:
        return {}
    active: list[list[dict[str, Any]]] = [[] for _ in nodes]
    first = active[0]
    first.append({"worker_id": 1, "assignment": "cluster_master", "pid": nodes[0].pid + 1})
    first.append({"worker_id": 2, "assignment": "assets_service", "pid": nodes[0].pid + 2})
    free = [(-(node.total - len(active[i])), i) for i, node in enumerate(nodes)]
    heapq.heapify(free)
    living = sorted((ex for ex in executions if ex.status in RUNNING), key=lambda e: e.created)
    for ex in living:
        procs = [("execution_controller", 0)] + [("worker", n + 1)
                                                 for n in range(ex.workers_active())]
        for assignment, n in procs:
            neg_free, i = free[0]
            if neg_free >= 0:
                break  # cluster full: the real master would leave these pending
            entries = active[i]
            pid = 1000 + zlib.crc32(f"{ex.ex_id}/{n}".encode()) % 98000
            entries.append({"worker_id": len(entries) + 1, "assignment": assignment, "pid": pid,
                            "ex_id": ex.ex_id, "job_id": ex.job.job_id,
                            "assets": list(ex.spec.get("assets", []))})
            heapq.heapreplace(free, (neg_free + 1, i))
    state: dict[str, Any] = {}
    for node, entries in zip(nodes, active):
        state[node.node_id] = {
            "node_id": node.node_id,
            "hostname": node.hostname,
            "pid": node.pid,
            "node_version": NODE_VERSION,
            "teraslice_version": TERASLICE_VERSION,
            "total": node.total,
            "state": node.state,
            "available": max(0, node.total - len(entries)),
            "active": entries,
        }
    return state
