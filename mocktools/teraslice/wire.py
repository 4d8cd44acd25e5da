"""The Teraslice master's public HTTP API: the route table, list selection (filter, sort, paging)
and the txt tables; the handlers are in views.py, the cluster in model.py.

Every route exists at `/v1/<path>` and `/<path>` like the real master; errors are
`{"error": <status>, "message": ...}`; unknown routes answer 405 `cannot GET endpoint ...`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from werkzeug.wrappers import Request, Response

from ..errors import ApiError
from ..routing import Router
from . import render as rec
from .model import TerasliceCluster
from .openapi import DOCS_HTML, openapi_spec
from .query import check_window, parse_int, parse_query, parse_sort, sort_fast
from .txt import make_table, parse_fields
from .views import ViewsMixin

JSON_MIME = "application/json; charset=utf-8"
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


class TerasliceWire(ViewsMixin):
    """The master's routes for a mock that has `cluster`, `url` and `running`."""

    cluster: TerasliceCluster
    _list_cache: dict[tuple[Any, ...], tuple[int, list[Any]]]
    url: str
    running: bool

    # ------------------------------------------------------------------ wire plumbing
    def error_response(self, status: int, message: str, *, type: str | None = None,
                       headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
        return json_body(pretty({"error": status, "message": message}), status, headers)

    def register_routes(self, router: Router) -> None:
        get, post = ("GET",), ("POST",)
        for prefix in ("/v1", ""):
            add: Callable[..., None] = lambda rule, fn, methods=get, prefix=prefix: router.add(
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
            keep = lambda job: job.active is not False
        elif active == "false":
            keep = lambda job: job.active is False
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




__all__ = ["JSON_MIME", "TerasliceWire", "json_body", "pretty"]
