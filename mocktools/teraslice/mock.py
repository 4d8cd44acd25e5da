"""MockTerasliceServer: the Teraslice master (wire.py + views.py) over the simulated cluster
(model.py), with Python controls and the /_mock/teraslice/ controls."""
from __future__ import annotations

import argparse
from typing import Any


from ..clock import Clock, Duration
from ..http_mock import HTTPMockServer
from . import render as rec
from .controls import teraslice_controls
from .model import TerasliceCluster
from .states import RUNNING
from .wire import TerasliceWire



class MockTerasliceServer(TerasliceWire, HTTPMockServer):
    """A Teraslice cluster master with live, time-aware jobs, executions and controllers."""

    name = "teraslice"
    default_port = 5678
    protocol = "Teraslice cluster master"
    #: off loopback the routes that regenerate the simulated cluster need the control token
    token_protected_paths = frozenset({"/v1/data/refresh", "/data/refresh", "/v1/cluster/state/refresh",
                                       "/cluster/state/refresh"})

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, jobs: int | None = None,
                 nodes: int | None = None, lifecycle_events: bool = True, clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_body_bytes: int | None = None) -> None:
        self._list_cache: dict[tuple[Any, ...], tuple[int, list[Any]]] = {}
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes)
        self.cluster = TerasliceCluster(clock=self.clock, seed=self.seed, jobs=jobs, nodes=nodes,
                                        lifecycle_events=lifecycle_events)
        self.admin.add_controls(teraslice_controls(self.cluster))

    # ------------------------------------------------------------------ Python controls
    def set_cluster_size(self, nodes: int, slots_per_node: int | None = None) -> None:
        """Resize the simulated cluster to `nodes` nodes."""
        self.cluster.set_cluster_size(nodes, slots_per_node)

    def add_job(self, spec: dict[str, Any] | None = None, *, start: bool = True) -> dict[str, str]:
        """Add a job (defaults filled in like the real master) and, unless start=False, run it."""
        body: dict[str, Any] = {"name": "added-job", "workers": 2,
                                "operations": [{"_op": "elasticsearch_reader"},
                                               {"_op": "elasticsearch_bulk"}]}
        body.update(spec or {})
        return self.cluster.submit_job(body, start)

    def force_status(self, ex_id: str, status: str) -> str:
        """Move an execution to `status` if the real status guard allows it (else StatusError)."""
        return self.cluster.force_status(ex_id, status)

    def advance(self, seconds: Duration) -> float:
        """Advance the (fake) clock and apply what became due."""
        return self.cluster.advance(seconds)

    def regenerate(self, seed: int | None = None, jobs: int | None = None) -> None:
        """Build a fresh cluster (same seed -> same cluster, aged relative to now)."""
        self.cluster.regenerate(seed=seed, jobs=jobs)
        self._list_cache.clear()

    def reset_state(self) -> None:
        self.regenerate()

    def describe_state(self) -> dict[str, Any]:
        c = self.cluster
        with c.lock:
            now = c.now()
            by_status: dict[str, int] = {}
            for ex in c.executions.values():
                by_status[ex.status] = by_status.get(ex.status, 0) + 1
            return {"seed": c.seed, "jobs": len(c.jobs), "executions": len(c.executions),
                    "nodes": len(c.nodes), "by_status": by_status,
                    "controllers": sum(n for s, n in by_status.items() if s in RUNNING),
                    "clock": rec.iso(now), "recent_events": [
                        {**e, "at": rec.iso(e["at"])} for e in c.events[-10:]]}

    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--jobs", type=int, default=None,
                            help="number of jobs to generate (default: 10-30 from the seed)")
        parser.add_argument("--nodes", type=int, default=None,
                            help="number of cluster nodes (default: 3-8 from the seed)")

    @classmethod
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> MockTerasliceServer:
        return cls(jobs=getattr(args, "jobs", None), nodes=getattr(args, "nodes", None), **kwargs)


__all__ = ["MockTerasliceServer"]
