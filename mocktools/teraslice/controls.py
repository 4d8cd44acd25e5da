"""Teraslice's domain controls under /_mock/teraslice/, declared on the cluster model: advance the
simulated clock, resize the cluster, add a job, force an execution's status."""
from __future__ import annotations

from typing import Any

from ..control_schema import BOOLEAN, STRING, ControlRoute, array, enum, integer, nullable, number, obj
from ..errors import ApiError
from . import render as rec
from .actions import ActionError
from .model import TerasliceCluster
from .states import ALL_STATUSES, StatusError

#: the longest single advance (one leap year): the simulation catches up on the next read
MAX_ADVANCE = 366 * 86400.0
#: a cluster at most this large (nodes and worker slots per node) keeps every route fast
MAX_NODES, MAX_SLOTS_PER_NODE = 1000, 100
#: what an added job carries unless the body says otherwise (the real master requires operations)
ADDED_JOB: dict[str, Any] = {"name": "added-job", "workers": 2,
                             "operations": [{"_op": "elasticsearch_reader"}, {"_op": "elasticsearch_bulk"}]}


def teraslice_controls(cluster: TerasliceCluster) -> list[ControlRoute]:
    def advance(seconds: float = 0.0) -> dict[str, Any]:
        try:
            now = cluster.advance(seconds)
        except TypeError as exc:  # the cluster runs on the real clock
            raise ApiError(409, str(exc), type="conflict") from None
        return {"ok": True, "clock": rec.iso(now)}

    def cluster_size(nodes: int, slots_per_node: int | None = None) -> dict[str, Any]:
        cluster.set_cluster_size(nodes, slots_per_node)
        return {"ok": True, "nodes": len(cluster.nodes)}

    def add_job(start: bool = True, **spec: Any) -> dict[str, str]:
        try:
            return cluster.submit_job({**ADDED_JOB, **spec}, start)
        except ActionError as exc:
            raise ApiError(exc.status, exc.message, type="bad_request") from None

    def force_status(ex_id: str, status: str) -> dict[str, Any]:
        try:
            return {"ok": True, "status": cluster.force_status(ex_id, status)}
        except KeyError:
            raise ApiError(404, f"unknown execution {ex_id!r}", type="not_found") from None
        except StatusError as exc:
            raise ApiError(exc.status, exc.message, type="invalid_transition") from None

    job = obj(additional=True, start=BOOLEAN, name=STRING, workers=integer(1, 1000),
              operations=array({"type": "object", "required": ["_op"], "properties": {"_op": STRING}}, min_items=1,
                               max_items=100))
    job["description"] = "a job spec (defaults: two workers, an elasticsearch reader and bulk sender)"
    return [
        ControlRoute("/_mock/teraslice/advance", "POST", advance,
                     obj(seconds=number(0.0, MAX_ADVANCE, description="seconds of simulated time")),
                     summary="Advance the fake clock and apply what became due", responses={409: "real clock"},
                     tag="teraslice"),
        ControlRoute("/_mock/teraslice/cluster-size", "POST", cluster_size,
                     obj(["nodes"], nodes=integer(1, MAX_NODES),
                         slots_per_node=nullable(integer(1, MAX_SLOTS_PER_NODE))),
                     summary="Resize the simulated cluster (existing nodes keep their ids)", tag="teraslice"),
        ControlRoute("/_mock/teraslice/jobs", "POST", add_job, job,
                     summary="Add a job and, unless start is false, run it", tag="teraslice"),
        ControlRoute("/_mock/teraslice/status", "POST", force_status,
                     obj(["ex_id", "status"], ex_id=STRING, status=enum(*ALL_STATUSES)),
                     summary="Move an execution to `status` if the real status guard allows it",
                     responses={404: "unknown execution", 422: "a transition the real storage refuses"},
                     tag="teraslice"),
    ]


__all__ = ["ADDED_JOB", "MAX_ADVANCE", "MAX_NODES", "MAX_SLOTS_PER_NODE", "teraslice_controls"]
