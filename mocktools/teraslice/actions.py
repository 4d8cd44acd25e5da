"""What an API client can ask the master to do, with the real services' checks and messages.

Mixed into TerasliceCluster; every method takes the lock, applies what time made due, and
raises ActionError(status, message) where the real master answers an error.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from mocktools.errors import WireError

from .. import safe_json
from .entities import Execution, Job
from .states import INIT, RUNNING, TERMINAL, StatusError

if TYPE_CHECKING:
    from threading import RLock

CLEANUP_TYPES = ("all", "errors", "pending")
LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
JOB_DEFAULTS: dict[str, Any] = {
    "lifecycle": "once", "workers": 10, "slicers": 1, "analytics": True, "max_retries": 3,
    "probation_window": 300000, "assets": [], "apis": [], "env_vars": {}, "autorecover": False,
}


#: jobs the simulated cluster stores at most (generated and submitted)
MAX_STORED_JOBS = 100_000


class ActionError(WireError):
    """An error the real master answers with `{"error": status, "message": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


def _check_depth(spec: dict[str, Any]) -> None:
    """A job spec from Python nests no deeper than one a client may send (rendering recurses)."""
    if safe_json.depth(spec) > safe_json.MAX_DEPTH:
        raise ActionError(400, f"job spec nests deeper than {safe_json.MAX_DEPTH} levels")


class ClusterActions:
    """Job and execution actions (start, stop, pause, resume, recover, workers, ...)."""

    lock: "RLock"
    jobs: dict[str, Job]
    executions: dict[str, Execution]
    version: int
    placement_version: int

    # provided by TerasliceCluster
    if TYPE_CHECKING:
        def now(self) -> float: ...
        def set_status(self, ex: Execution, desired: str, t: float, reason: str = "") -> str: ...
        def add_execution(self, job: Job, created: float, rng: Any = None, *, status: str = ...,
                          since: float | None = ..., recovered_from: Execution | None = ...,
                          cleanup_type: str | None = ...) -> Execution: ...
        def add_job_record(self, spec: dict[str, Any], created: float, *, updated: float | None = ...,
                           active: bool | None = ..., job_id: str | None = ...) -> Job: ...

    def _touch(self, obj: Job | Execution) -> None:
        """Mark a record changed (its cached rendering and every cached listing go stale)."""
        obj.rev += 1
        self.version += 1

    # ---------------------------------------------------------------- lookups
    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise ActionError(404, "Not Found")
        return job

    def execution(self, ex_id: str) -> Execution:
        ex = self.executions.get(ex_id)
        if ex is None:
            raise ActionError(404, "Not Found")
        return ex

    def latest_execution(self, job_id: str) -> Execution:
        """jobsService.getLatestExecution: the newest execution of a job, by creation."""
        job = self.jobs.get(job_id)
        latest = job.latest() if job is not None else None
        if latest is None:
            raise ActionError(404, f"No execution was found for job {job_id}")
        return latest

    def active_execution(self, ex_id: str) -> Execution:
        """executionStorage.getActiveExecution: the execution, unless terminal or unknown."""
        ex = self.executions.get(ex_id)
        if ex is None or ex.status in TERMINAL:
            raise ActionError(404, f"no active execution context was found for ex_id: {ex_id}")
        return ex

    def _write_status(self, ex: Execution, status: str, now: float) -> None:
        try:
            self.set_status(ex, status, now, "api")
        except StatusError as err:
            raise ActionError(422, f"Unable to set execution {ex.ex_id} status code to {status}, "
                                   f"caused by {err.message}") from None

    # ---------------------------------------------------------------- jobs
    def submit_job(self, spec: dict[str, Any], start: bool = True) -> dict[str, str]:
        """POST /v1/jobs: store a job and (unless start=false) create its first execution."""
        if not spec.get("operations"):
            raise ActionError(400, "No job was posted")
        if "job_id" in spec:
            raise ActionError(422, "Job cannot include a job_id on submit")
        ops = spec["operations"]
        if not isinstance(ops, list) or not all(
                isinstance(op, dict) and isinstance(op.get("_op"), str) for op in ops):
            raise ActionError(400, "operations must be an array of objects with an _op name")
        workers = spec.get("workers", JOB_DEFAULTS["workers"])
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ActionError(400, "workers must be a positive integer")
        full = copy.deepcopy(JOB_DEFAULTS)
        full["name"] = "Custom Job"
        _check_depth(spec)
        full.update(safe_json.copy(spec, clean=True))  # a Python caller's surrogates too
        with self.lock:
            if len(self.jobs) >= MAX_STORED_JOBS:  # a submit loop cannot grow the model without limit
                raise ActionError(400, f"the mock cluster holds at most {MAX_STORED_JOBS} jobs; reset() or "
                                       "regenerate() to make room")
            now = self.now()
            job = self.add_job_record(full, now, active=full.pop("active", True))
            if not start:
                return {"job_id": job.job_id}
            ex = self.add_execution(job, now)
            return {"job_id": job.job_id, "ex_id": ex.ex_id}

    def update_job(self, job_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """PUT /v1/jobs/:id: replace the job spec (keeps _created)."""
        from .render import job_record

        if not spec:
            raise ActionError(400, f"no data was provided to update job {job_id}")
        if spec.get("job_id") not in (None, job_id):
            raise ActionError(406, "job.job_id doesn't match request id")
        with self.lock:
            now = self.now()
            job = self.job(job_id)
            if job.deleted:
                raise ActionError(404, f"Job {job_id} has been deleted and cannot be updated.")
            _check_depth(spec)
            new = {k: v for k, v in safe_json.copy(spec, clean=True).items() if not k.startswith("_")}
            new.pop("job_id", None)
            if "active" in new:
                job.active = new.pop("active")
            job.spec = new
            job.updated = now
            self._touch(job)
            return job_record(job)

    def set_job_active(self, job_id: str, active: bool) -> dict[str, Any]:
        from .render import job_record

        with self.lock:
            now = self.now()
            job = self.job(job_id)
            if job.deleted:
                raise ActionError(404, f"Job {job_id} has been deleted and cannot be updated.")
            job.active = active
            job.updated = now
            self._touch(job)
            return job_record(job)

    def delete_job(self, job_id: str) -> dict[str, Any]:
        """DELETE /v1/jobs/:id: soft delete, only when no execution of it is living."""
        from .render import job_record

        with self.lock:
            now = self.now()
            job = self.jobs.get(job_id)
            if job is not None and job.living() is not None:
                raise ActionError(409, f"Job {job_id} is currently running, cannot delete a "
                                       f"running job.")
            job = self.job(job_id)
            if job.deleted:
                raise ActionError(404, f"Job {job_id} has already been deleted.")
            job.deleted, job.deleted_on, job.active = True, now, False
            job.updated = now
            self._touch(job)
            for ex in job.executions:
                ex.deleted, ex.deleted_on, ex.updated = True, now, max(ex.updated, now)
                self._touch(ex)
            return job_record(job)

    def start_job(self, job_id: str) -> dict[str, str]:
        """POST /v1/jobs/:id/_start (an autorecover job recovers instead)."""
        with self.lock:
            now = self.now()
            job = self.jobs.get(job_id)
            if job is not None and job.living() is not None:
                raise ActionError(409, f"Job {job_id} is currently running, cannot have the same "
                                       f"job concurrently running")
            job = self.job(job_id)
            if job.deleted:
                raise ActionError(404, f"Job {job_id} has been deleted and cannot be started.")
            if job.spec.get("autorecover"):
                return self._recover(job, job.latest(), None, now)
            ex = self.add_execution(job, now)
            return {"job_id": job.job_id, "ex_id": ex.ex_id}

    def recover_job(self, job_id: str, cleanup_type: str | None) -> dict[str, str]:
        _check_cleanup(cleanup_type)
        with self.lock:
            now = self.now()
            job = self.job(job_id)
            if job.deleted:
                raise ActionError(404, f"Job {job_id} has been deleted and cannot be recovered.")
            return self._recover(job, job.latest(), cleanup_type, now)

    def recover_execution(self, ex_id: str, cleanup_type: str | None) -> dict[str, str]:
        _check_cleanup(cleanup_type)
        with self.lock:
            now = self.now()
            ex = self.execution(ex_id)
            return self._recover(ex.job, ex, cleanup_type, now)

    def _recover(self, job: Job, source: Execution | None, cleanup_type: str | None,
                 now: float) -> dict[str, str]:
        if job.living() is not None:
            # the simulation keeps one living execution per job
            raise ActionError(409, f"Job {job.job_id} is currently running, cannot have the "
                                   f"same job concurrently running")
        if source is None and not job.spec.get("autorecover"):
            raise ActionError(404, f"Job {job.job_id} is missing an execution to recover from")
        ex = self.add_execution(job, now, recovered_from=source, cleanup_type=cleanup_type)
        return {"job_id": job.job_id, "ex_id": ex.ex_id}

    # ---------------------------------------------------------------- executions
    def stop(self, ex_id: str, force: bool = False) -> str:
        """Ask an execution to stop: -> stopping (-> stopped after 60 s); force: stopped now."""
        with self.lock:
            now = self.now()
            ex = self.execution(ex_id)
            if ex.status in TERMINAL:
                return ex.status
            if force:
                self._write_status(ex, "stopped", now)
            elif ex.status != "stopping":
                self._write_status(ex, "stopping", now)
            return ex.status

    def pause(self, ex_id: str) -> dict[str, str]:
        return self._pause_resume(ex_id, "paused", "pause")

    def resume(self, ex_id: str) -> dict[str, str]:
        return self._pause_resume(ex_id, "running", "resume")

    def _pause_resume(self, ex_id: str, status: str, verb: str) -> dict[str, str]:
        with self.lock:
            now = self.now()
            ex = self.active_execution(ex_id)
            if ex.status not in RUNNING:  # no execution controller connected yet
                raise ActionError(500, f"Execution {ex.ex_id} is not available to {verb}")
            self._write_status(ex, status, now)
            return {"status": status}

    def change_workers(self, ex_id: str, action: str, count: int) -> dict[str, str]:
        """POST .../_workers with add/remove/total (validated by the caller)."""
        with self.lock:
            now = self.now()
            ex = self.active_execution(ex_id)
            ex.fold(now)
            if action == "add":
                ex.workers += count
                done = "added"
            elif action == "remove":
                ex.workers = max(1, ex.workers - count)
                done = "removed"
            else:
                ex.workers = count
                done = "set"
            ex.fold(now)
            self._touch(ex)
            self.placement_version += 1
            ex.updated = max(ex.updated, now)
            return {"message": f"{count} workers have been {done} for execution: {ex.ex_id}"}

    def set_log_level(self, ex_id: str, level: str | None) -> dict[str, str]:
        if not level or level not in LOG_LEVELS:
            raise ActionError(400, f'Invalid log level "{level}", must be one of: '
                                   f'{", ".join(LOG_LEVELS)}')
        with self.lock:
            self.now()
            ex = self.active_execution(ex_id)
            if ex.status in INIT:
                raise ActionError(404, f"Execution {ex_id} is not available")
            return {"exId": ex_id, "level": level}


def _check_cleanup(cleanup_type: str | None) -> None:
    if cleanup_type and cleanup_type not in CLEANUP_TYPES:
        raise ActionError(400, f"cleanup_type must be empty or set to {', '.join(CLEANUP_TYPES)}")
