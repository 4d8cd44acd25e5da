"""The JSON endpoints of MockTerasliceServer (mixed into the server class)."""
from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Callable

from werkzeug.wrappers import Request, Response

from ..errors import ApiError
from . import render as rec
from .states import RUNNING, TERMINAL

if TYPE_CHECKING:
    from .model import TerasliceCluster

JSON_MIME = "application/json; charset=utf-8"


def _pretty(obj: Any) -> Response:
    text = rec.pretty(obj)
    return Response(text.encode("utf-8"), content_type=JSON_MIME)


def _raw(text: str) -> Response:
    return Response(text.encode("utf-8"), content_type=JSON_MIME)


class ViewsMixin:
    """Handlers for /v1/... routes; relies on the server's `cluster` and `_select*` helpers."""

    cluster: "TerasliceCluster"
    _select: Callable[..., Any]
    _select_jobs: Callable[..., Any]
    _select_executions: Callable[..., Any]

    # ---------------------------------------------------------------- cluster
    def get_info(self, request: Request) -> Response:
        return _pretty({"arch": "x64", "clustering_type": "native", "name": "teracluster",
                        "node_version": rec.NODE_VERSION, "platform": "linux",
                        "teraslice_version": rec.TERASLICE_VERSION})

    def cluster_state(self) -> tuple[dict[str, Any], str]:
        """The node map and its JSON, cached until the model changes (call with the lock held)."""
        c = self.cluster
        c.now()
        cached = getattr(self, "_state_cache", None)
        if cached is None or cached[0] != c.placement_version:
            state = rec.cluster_state(c.nodes, c.executions.values())
            cached = (c.placement_version, state, rec.pretty(state))
            self._state_cache = cached
        return cached[1], cached[2]

    def get_cluster_state(self, request: Request) -> Response:
        with self.cluster.lock:
            return _raw(self.cluster_state()[1])

    def get_controllers(self, request: Request) -> Response:
        c = self.cluster
        with c.lock:
            now = c.now()
            return _pretty(rec.controllers(c.executions.values(), now))

    def get_cluster_stats(self, request: Request) -> Response:
        c = self.cluster
        keys = ("processed", "failed", "queued", "job_duration", "workers_joined",
                "workers_disconnected", "workers_reconnected")
        with c.lock:
            now = c.now()
            totals = dict.fromkeys(keys, 0)
            for stats in rec.controllers(c.executions.values(), now):
                for key in keys:
                    totals[key] += stats[key]
        return _pretty({"controllers": totals, "slicer": dict(totals)})

    def post_refresh(self, request: Request) -> Response:
        seed = request.args.get("seed")
        jobs = request.args.get("jobs")
        try:
            seed_n = int(seed) if seed else None
            jobs_n = int(jobs) if jobs else None
        except ValueError:
            raise ApiError(400, "seed and jobs must be integers") from None
        if jobs_n is not None and not 0 <= jobs_n <= 20000:
            raise ApiError(400, "jobs must be between 0 and 20000")
        self.regenerate(seed=seed_n, jobs=jobs_n)  # type: ignore[attr-defined]
        c = self.cluster
        with c.lock:
            counts = {"nodes": len(c.nodes), "jobs": len(c.jobs), "execution_contexts":
                      len(c.executions), "controllers": sum(
                          1 for ex in c.executions.values() if ex.status in RUNNING)}
        return _pretty({"message": "All data refreshed", "seed": c.seed, "counts": counts})

    # ---------------------------------------------------------------- jobs
    def get_jobs(self, request: Request) -> Response:
        c = self.cluster
        with c.lock:
            c.now()
            objs, size, start = self._select_jobs(request)
            page = objs[start:start + size]
            ex_fields = request.args.get("ex")
            if ex_fields is not None:
                fields = ex_fields.split(",")
                return _pretty([rec.with_ex_fields(job, fields) for job in page])
            return _raw(rec.json_array(page))

    def get_job(self, request: Request, job_id: str) -> Response:
        c = self.cluster
        with c.lock:
            c.now()
            job = c.job(job_id)
            ex_fields = request.args.get("ex")
            if ex_fields is not None:
                return _pretty(rec.with_ex_fields(job, ex_fields.split(",")))
            return _pretty(rec.job_record(job))

    def _body(self, request: Request) -> Any:
        data = request.get_data(cache=True)
        if request.mimetype not in ("application/json", "application/x-www-form-urlencoded"):
            return {}
        if request.mimetype == "application/x-www-form-urlencoded":
            return dict(request.form)
        if not data.strip():
            return {}
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise ApiError(400, "the json submitted is malformed") from None

    def post_job(self, request: Request) -> Response:
        body = self._body(request)
        if not isinstance(body, dict) or not body.get("operations"):
            raise ApiError(400, "No job was posted")
        start = request.args.get("start", "true") != "false"
        return _pretty(self.cluster.submit_job(body, start))

    def put_job(self, request: Request, job_id: str) -> Response:
        body = self._body(request)
        if not isinstance(body, dict) or not body:
            raise ApiError(400, f"no data was provided to update job {job_id}")
        return _pretty(self.cluster.update_job(job_id, body))

    def delete_job(self, request: Request, job_id: str) -> Response:
        return _pretty(self.cluster.delete_job(job_id))

    def get_job_ex(self, request: Request, job_id: str) -> Response:
        c = self.cluster
        with c.lock:
            c.now()
            return _pretty(rec.ex_record(c.latest_execution(job_id)))

    def get_job_controller(self, request: Request, job_id: str) -> Response:
        c = self.cluster
        with c.lock:
            c.now()
            ex = c.latest_execution(job_id)
            return self._controller_of(ex.ex_id)

    # ---------------------------------------------------------------- executions
    def get_executions(self, request: Request) -> Response:
        c = self.cluster
        with c.lock:
            c.now()
            objs, size, start = self._select_executions(request)
            return _raw(rec.json_array(objs[start:start + size]))

    def get_execution(self, request: Request, ex_id: str) -> Response:
        c = self.cluster
        with c.lock:
            c.now()
            return _pretty(rec.ex_record(c.execution(ex_id)))

    def get_ex_controller(self, request: Request, ex_id: str) -> Response:
        with self.cluster.lock:
            return self._controller_of(ex_id)

    def _controller_of(self, ex_id: str) -> Response:
        c = self.cluster
        now = c.now()
        ex = c.executions.get(ex_id)
        if ex is None or ex.status not in RUNNING:
            raise ApiError(404, f"Could not find active slicer for ex_id: {ex_id}")
        return _pretty([ex.controller_stats(now)])

    def get_errors(self, request: Request, ex_id: str | None = None,
                   job_id: str | None = None) -> Response:
        """Slice errors of one execution, of a job's latest execution, or of all executions."""
        from .query import parse_query, parse_sort
        from .slice_errors import SORTABLE, select_errors

        size, start, sort = self._search_options(request)  # type: ignore[attr-defined]
        query = request.args.get("filter") or ""
        keys = parse_sort(sort, SORTABLE)
        keep = parse_query(query) if query.strip() else None
        descending = keys[0][1] if keys else True
        c = self.cluster
        with c.lock:
            now = c.now()
            if job_id is not None:
                ex_id = c.latest_execution(job_id).ex_id
            if ex_id is None:
                exs = list(c.executions.values())
            else:
                ex = c.executions.get(ex_id)
                exs = [ex] if ex is not None else []
            return _pretty(select_errors(exs, now, start, size, descending, keep))

    # ---------------------------------------------------------------- actions
    def _job_action(self, verb: str) -> Callable[..., Response]:
        def handler(request: Request, job_id: str) -> Response:
            c = self.cluster
            cleanup = request.args.get("cleanup_type") or request.args.get("cleanup")
            if verb == "_start":
                return _pretty(c.start_job(job_id))
            if verb == "_recover":
                return _pretty(c.recover_job(job_id, cleanup))
            if verb in ("_active", "_inactive"):
                return _pretty(c.set_job_active(job_id, verb == "_active"))
            with c.lock:
                c.now()
                ex_id = c.latest_execution(job_id).ex_id
            return self._ex_verb(verb, ex_id, request)

        handler.__name__ = f"job{verb}"
        return handler

    def _ex_action(self, verb: str) -> Callable[..., Response]:
        def handler(request: Request, ex_id: str) -> Response:
            if verb == "_recover":
                cleanup = request.args.get("cleanup_type") or request.args.get("cleanup")
                return _pretty(self.cluster.recover_execution(ex_id, cleanup))
            return self._ex_verb(verb, ex_id, request)

        handler.__name__ = f"ex{verb}"
        return handler

    def _ex_verb(self, verb: str, ex_id: str, request: Request) -> Response:
        c = self.cluster
        if verb == "_stop":
            force = request.args.get("force", "false") not in ("false", "")
            blocking = request.args.get("blocking", "true") == "true"
            status = c.stop(ex_id, force)
            if force:
                return _pretty({"message": f"Force stop complete for exId {ex_id}",
                                "status": status})
            if blocking and status not in TERMINAL:
                status = self._wait_for_stop(ex_id)
            return _pretty({"status": status})
        if verb == "_pause":
            return _pretty(c.pause(ex_id))
        if verb == "_resume":
            return _pretty(c.resume(ex_id))
        if verb == "_settings":
            return _pretty(c.set_log_level(ex_id, request.args.get("log_level")))
        action, count = _workers_query(request)
        return _pretty(c.change_workers(ex_id, action, count))

    def _wait_for_stop(self, ex_id: str) -> str:
        """`blocking=true`: wait (on the mock's clock) until the execution is terminal."""
        c = self.cluster
        fake = hasattr(c.clock, "advance")
        stopping = self.stopping  # type: ignore[attr-defined]
        while True:
            with c.lock:
                c.now()
                ex = c.executions[ex_id]
                if ex.status in TERMINAL or stopping.is_set():
                    return ex.status
                remaining = (ex.next_at - c.clock.time()) if ex.next_at is not None else 0.5
            step = max(remaining, 0.001) if fake else min(max(remaining, 0.001), 0.25)
            c.clock.sleep(step)


def _workers_query(request: Request) -> tuple[str, int]:
    """The real `_changeWorkers` validation: one of add/remove/total, a number, not negative."""
    action, raw = None, None
    for key, value in request.args.items(multi=True):
        if key in ("add", "remove", "total"):
            action, raw = key, value
    message = ("Must provide a valid worker parameter(add/remove/total) that is a number and "
               "greater than zero")
    if action is None or raw is None:
        raise ApiError(400, message)
    text = raw.strip()
    try:
        number = float(text) if text else 0.0
    except ValueError:
        raise ApiError(400, message) from None
    if not math.isfinite(number) or number < 0 or not number.is_integer():
        raise ApiError(400, message)
    return action, int(number)
