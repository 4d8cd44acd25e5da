"""MockTerasliceServer: the Teraslice master's HTTP API over the simulated cluster.

Every route exists at `/v1/<path>` and `/<path>` like the real master; errors are
`{"error": <status>, "message": ...}`; unknown routes answer 405 `cannot GET endpoint ...`.
"""
from __future__ import annotations

import argparse
from operator import attrgetter
from typing import Any, Callable, Mapping

from werkzeug.wrappers import Request, Response

from ..clock import Clock, Duration
from ..errors import ApiError
from ..routing import Router, read_json_object
from ..http_mock import HTTPMockServer
from . import render as rec
from .actions import ActionError
from .model import TerasliceCluster
from .openapi import DOCS_HTML, openapi_spec
from .query import check_window, parse_int, parse_query, parse_sort, sort_fast
from .states import RUNNING, StatusError
from .txt import make_table, parse_fields
from .views import ViewsMixin

JSON_MIME = "application/json; charset=utf-8"
MAX_ADVANCE = 366 * 86400.0
#: sort fields every object carries, read without rendering the record
FAST_KEYS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "ex": {"_updated": attrgetter("updated"), "_created": attrgetter("created"),
           "_status": attrgetter("status"), "ex_id": attrgetter("ex_id"),
           "workers": attrgetter("workers")},
    "jobs": {"_updated": attrgetter("updated"), "_created": attrgetter("created"),
             "job_id": attrgetter("job_id")},
}
SORTABLE = ("_created", "_updated", "_status", "name", "ex_id", "job_id", "workers", "slicers",
            "lifecycle", "active", "_deleted_on", "analytics", "max_retries")


def pretty(obj: Any) -> str:
    """Express's `json spaces 4` rendering."""
    return rec.pretty(obj)


def json_body(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(text.encode("utf-8"), status=status, headers=dict(headers or {}),
                    content_type=JSON_MIME)


class MockTerasliceServer(ViewsMixin, HTTPMockServer):
    """A Teraslice cluster master with live, time-aware jobs, executions and controllers."""

    name = "teraslice"
    default_port = 5678
    protocol = "Teraslice cluster master"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, jobs: int | None = None,
                 nodes: int | None = None, lifecycle_events: bool = True, clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_body_bytes: int | None = None) -> None:
        self._list_cache: dict[tuple[Any, ...], tuple[int, list[Any]]] = {}
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes)
        self.cluster = TerasliceCluster(clock=self.clock, seed=self.seed, jobs=jobs, nodes=nodes,
                                        lifecycle_events=lifecycle_events)

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
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> "MockTerasliceServer":
        return cls(jobs=getattr(args, "jobs", None), nodes=getattr(args, "nodes", None), **kwargs)

    # ------------------------------------------------------------------ wire plumbing
    def error_response(self, status: int, message: str, *, type: str | None = None,
                       headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
        return json_body(pretty({"error": status, "message": message}), status, headers)

    def register_routes(self, router: Router) -> None:
        get, post = ("GET",), ("POST",)
        for prefix in ("/v1", ""):
            add: Callable[..., None] = lambda rule, fn, methods=get, prefix=prefix: router.add(  # noqa: E731
                prefix + rule, fn, methods)
            add("/", self.get_info)
            add("/cluster/state", self.get_cluster_state)
            add("/cluster/controllers", self.get_controllers)
            add("/cluster/slicers", self.get_controllers)
            add("/cluster/stats", self.get_cluster_stats)
            add("/cluster/state/refresh", self.post_refresh, post)
            add("/data/refresh", self.post_refresh, post)
            add("/jobs", self.get_jobs)
            add("/jobs", self.post_job, post)
            add("/jobs/<job_id>", self.get_job)
            add("/jobs/<job_id>", self.put_job, ("PUT",))
            add("/jobs/<job_id>", self.delete_job, ("DELETE",))
            add("/jobs/<job_id>/ex", self.get_job_ex)
            add("/jobs/<job_id>/controller", self.get_job_controller)
            add("/jobs/<job_id>/slicer", self.get_job_controller)
            add("/ex", self.get_executions)
            add("/ex/errors", self.get_errors)
            add("/ex/<ex_id>/errors", self.get_errors)
            add("/jobs/<job_id>/errors", self.get_errors)
            add("/ex/<ex_id>", self.get_execution)
            add("/ex/<ex_id>/controller", self.get_ex_controller)
            add("/ex/<ex_id>/slicer", self.get_ex_controller)
            for verb in ("_start", "_stop", "_pause", "_resume", "_recover", "_workers",
                         "_settings", "_active", "_inactive"):
                add(f"/jobs/<job_id>/{verb}", self._job_action(verb), post)
            for verb in ("_stop", "_pause", "_resume", "_recover", "_workers"):
                add(f"/ex/<ex_id>/{verb}", self._ex_action(verb), post)
        router.add("/v1", self.get_info)
        for table in ("workers", "nodes", "jobs", "ex", "controllers", "slicers"):
            router.add(f"/txt/{table}", self._txt(table))
        router.add("/openapi.json", self.get_openapi)
        router.add("/docs", self.get_docs)
        router.add("/<path:anything>", self.not_supported,
                   ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"))
        router.add("/", self.not_supported, ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"))

    def register_admin_routes(self, router: Router) -> None:
        """Domain controls for another process: advance, cluster size, add job, force status."""
        router.add("/_mock/teraslice/advance", self._admin_advance, ("POST",))
        router.add("/_mock/teraslice/cluster-size", self._admin_cluster_size, ("POST",))
        router.add("/_mock/teraslice/jobs", self._admin_add_job, ("POST",))
        router.add("/_mock/teraslice/status", self._admin_force_status, ("POST",))

    def _admin_advance(self, request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        try:
            seconds = float(body.get("seconds", 0))
            if seconds > MAX_ADVANCE:
                raise ValueError(f"seconds must be at most {MAX_ADVANCE:.0f} (one year) per call")
            now = self.advance(seconds)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), type="bad_request") from None
        return {"ok": True, "clock": rec.iso(now)}

    def _admin_cluster_size(self, request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        try:
            self.set_cluster_size(int(body["nodes"]), body.get("slots_per_node"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, f"nodes (>= 1) is required: {exc}", type="bad_request") from None
        return {"ok": True, "nodes": len(self.cluster.nodes)}

    def _admin_add_job(self, request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        start = bool(body.pop("start", True))
        try:
            return self.add_job(body, start=start)
        except ActionError as exc:
            raise ApiError(exc.status, exc.message, type="bad_request") from None

    def _admin_force_status(self, request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        try:
            status = self.force_status(str(body["ex_id"]), str(body["status"]))
        except KeyError as exc:
            raise ApiError(404, f"unknown execution or missing field: {exc}",
                           type="not_found") from None
        except StatusError as exc:
            raise ApiError(exc.status, exc.message, type="invalid_transition") from None
        return {"ok": True, "status": status}

    def not_supported(self, request: Request, anything: str = "") -> Response:
        url = request.path + (f"?{request.query_string.decode('latin-1')}"
                              if request.query_string else "")
        raise ApiError(405, f"cannot {request.method} endpoint {url}")

    # ------------------------------------------------------------------ search options
    def _search_options(self, request: Request) -> tuple[int, int, str]:
        args = request.args
        try:
            size = parse_int(args.get("size"), "size", 100)
            start = parse_int(args.get("from"), "from", 0)
        except ValueError as exc:
            raise ApiError(500, str(exc)) from None
        check_window(size, start)  # a QueryError answers 400
        return size, start, args.get("sort") or "_updated:desc"

    def _deleted_option(self, request: Request) -> str:
        deleted = request.args.get("deleted", "false")
        if deleted not in ("true", "false", ""):
            raise ApiError(400, "deleted query option must true or false")
        return deleted

    def _select(self, kind: str, request: Request, *, extra: tuple[Any, ...] = (),
                keep: Callable[[Any], bool] | None = None) -> tuple[list[Any], int, int]:
        """Filter + sort the jobs or executions for a list request (cached per model version)."""
        size, start, sort = self._search_options(request)
        deleted = self._deleted_option(request)
        query = request.args.get("filter") or ""
        c = self.cluster
        key = (kind, sort, query, deleted) + extra
        cached = self._list_cache.get(key)
        if cached is not None and cached[0] == c.version:
            return cached[1], size, start
        keys = parse_sort(sort, SORTABLE)
        pred = parse_query(query) if query.strip() else None
        if kind == "jobs":
            objs: list[Any] = list(c.jobs.values())
            render: Callable[[Any], dict[str, Any]] = rec.job_record
        else:
            objs = list(c.executions.values())
            render = rec.ex_record
        if deleted == "false":
            objs = [o for o in objs if not o.deleted]
        elif deleted == "true":
            objs = [o for o in objs if o.deleted]
        if keep is not None:
            objs = [o for o in objs if keep(o)]
        if pred is not None:
            objs = [o for o in objs if pred(render(o))]
        objs = sort_fast(objs, keys, FAST_KEYS[kind], render)
        if len(self._list_cache) > 64:
            self._list_cache.clear()
        self._list_cache[key] = (c.version, objs)
        return objs, size, start

    def _select_jobs(self, request: Request) -> tuple[list[Any], int, int]:
        active = request.args.get("active", "")
        keep = None
        if active == "true":
            keep = lambda job: job.active is not False  # noqa: E731
        elif active == "false":
            keep = lambda job: job.active is False  # noqa: E731
        return self._select("jobs", request, extra=(active if active in ("true", "false") else "",),
                            keep=keep)

    def _select_executions(self, request: Request) -> tuple[list[Any], int, int]:
        statuses = tuple(s.strip() for s in request.args.get("status", "").split(",") if s.strip())
        keep = (lambda ex: ex.status in statuses) if statuses else None
        return self._select("ex", request, extra=statuses, keep=keep)

    # ------------------------------------------------------------------ txt tables
    def _txt(self, table: str) -> Callable[[Request], Response]:
        defaults = {
            "workers": ["assignment", "job_id", "ex_id", "node_id", "pid"],
            "nodes": ["node_id", "state", "hostname", "total", "active", "pid",
                      "teraslice_version", "node_version"],
            "jobs": ["job_id", "name", "active", "lifecycle", "slicers", "workers", "_created",
                     "_updated"],
            "ex": ["name", "lifecycle", "slicers", "workers", "_status", "ex_id", "job_id",
                   "_created", "_updated"],
            "controllers": ["name", "job_id", "workers_available", "workers_active", "failed",
                            "queued", "processed"],
        }[table if table != "slicers" else "controllers"]

        def handler(request: Request) -> Response:
            cols = list(defaults)
            if table in ("jobs", "ex") and self._deleted_option(request) != "false":
                cols.append("_deleted_on")
            rows = self._txt_rows(table, request)
            fields = parse_fields(request.args.get("fields"), cols)
            text = make_table(rows, fields, request.args.get("headers") != "false")
            return Response(text.encode("utf-8"), content_type="text/html; charset=utf-8")

        return handler

    def _txt_rows(self, table: str, request: Request) -> list[dict[str, Any]]:
        c = self.cluster
        with c.lock:
            now = c.now()
            if table in ("jobs", "ex"):
                objs, size, start = (self._select_jobs(request) if table == "jobs"
                                     else self._select("ex", request))
                render = rec.job_record if table == "jobs" else rec.ex_record
                return [render(o) for o in objs[start:start + size]]
            size, start, _ = self._search_options(request)
            if table in ("controllers", "slicers"):
                rows = rec.controllers(c.executions.values(), now)
            else:
                state = self.cluster_state()[0]
                if table == "nodes":
                    rows = [{**node, "active": len(node["active"])} for node in state.values()]
                else:
                    rows = [{**w, "node_id": node["node_id"], "hostname": node["hostname"]}
                            for node in state.values() if node["state"] == "connected"
                            for w in node["active"]]
            return rows[start:size]  # the real master slices (from, size) here

    # ------------------------------------------------------------------ docs
    def get_openapi(self, request: Request) -> Response:
        return json_body(pretty(openapi_spec(self.url if self.running else "")))

    def get_docs(self, request: Request) -> Response:
        return Response(DOCS_HTML.encode("utf-8"), content_type="text/html; charset=utf-8")



__all__ = ["MockTerasliceServer"]
