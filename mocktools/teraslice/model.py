"""The simulated Teraslice cluster: one seeded generator, one injectable clock, time-derived state.

Status changes that the passage of time causes (pending -> scheduling -> initializing ->
running in 3-4 s steps, recovering -> running after 3 min, failing -> failed/terminated after
2 min, stopping -> stopped after 60 s, a start/stop lifecycle event every 3 min) are kept in a
heap and applied lazily, in time order and at their exact scheduled time, whenever the model is
read. So a poll costs nothing when nothing is due, an hour of fake time is applied in one go,
and the result does not depend on how often anyone looked.
"""
from __future__ import annotations

import heapq
import math
import random
import threading
from collections.abc import Callable
from typing import Any

from ..clock import Clock, Duration, SystemClock, to_seconds
from .actions import ActionError, ClusterActions
from .entities import (
    FAILURE_REASONS,
    Execution,
    Job,
    Node,
    draw_execution_params,
    new_id,
)
from .generate import make_node, populate
from .states import (
    FAILING_SECONDS,
    LIFECYCLE_EVENT_SECONDS,
    PROCESSING,
    RECOVERING_SECONDS,
    RUNNING,
    STOPPING_SECONDS,
    TERMINAL,
    StatusError,
    verify_status,
)


#: bounds of the simulated cluster: a model far past these is a mistake, not a test, and building
#: it would hold the cluster lock for minutes (every route waits on that lock)
MAX_NODES = 10_000
MAX_SLOTS_PER_NODE = 10_000
MAX_JOBS = 100_000


def bounded_int(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in [low, high]; ValueError naming `name` otherwise (bools, 1.5, NaN, 1e30)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


class TerasliceCluster(ClusterActions):
    """Jobs, executions, controllers and nodes of one simulated cluster (thread-safe)."""

    job_count: int | None
    node_count: int | None

    def __init__(self, clock: Clock | None = None, seed: int | None = None,
                 jobs: int | None = None, nodes: int | None = None,
                 lifecycle_events: bool = True) -> None:
        self.clock: Clock = clock or SystemClock()
        #: the seed's random start/stop every 3 minutes (off: only timed transitions happen)
        self.lifecycle_events = lifecycle_events
        self.lock = threading.RLock()
        self._listeners: list[Callable[[str, Execution, str], None]] = []
        self.regenerate(seed=seed, jobs=jobs, nodes=nodes)

    # ------------------------------------------------------------------ generation
    def regenerate(self, seed: int | None = None, jobs: int | None = None,
                   nodes: int | None = None) -> None:
        """Throw the cluster away and build it again from the seed, aged relative to now."""
        with self.lock:
            if seed is not None:
                self.seed = int(seed)
            elif not hasattr(self, "seed") or self.seed is None:
                self.seed = random.SystemRandom().randrange(2**32)
            if jobs is not None:
                self.job_count = bounded_int("jobs", jobs, 0, MAX_JOBS)
            elif not hasattr(self, "job_count"):
                self.job_count = None
            if nodes is not None:
                self.node_count = bounded_int("nodes", nodes, 1, MAX_NODES)
            elif not hasattr(self, "node_count"):
                self.node_count = None
            self.rng = random.Random(self.seed)
            self.jobs: dict[str, Job] = {}
            self.executions: dict[str, Execution] = {}
            #: non-terminal executions, in creation order (kept incrementally: lifecycle events
            #: choose among them, and a year of fake time must not rescan every execution)
            self.living: dict[str, Execution] = {}
            self.nodes: list[Node] = []
            self.slots_per_node = 0
            self._heap: list[tuple[float, int, str, str]] = []
            self._seq = 0
            #: bumped on every change; never reset, so caches keyed on it survive regenerate()
            self.version = getattr(self, "version", 0) + 1
            #: bumped only when what /v1/cluster/state shows can change (placements, sizes)
            self.placement_version = getattr(self, "placement_version", 0) + 1
            self.events: list[dict[str, Any]] = []
            now = self.clock.time()
            self.generated_at = now
            self.settled_at = now
            self._event_index = 1
            populate(self, self.rng, now, self.job_count, self.node_count)
            self.version += 1

    def on_transition(self, listener: Callable[[str, Execution, str], None]) -> None:
        """Call `listener(old_status, execution, reason)` after every status change."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ records
    def add_job_record(self, spec: dict[str, Any], created: float, *, updated: float | None = None,
                       active: bool | None = True, job_id: str | None = None) -> Job:
        job = Job(job_id=job_id or new_id(self.rng), spec=spec, created=created,
                  updated=created if updated is None else updated, active=active)
        self.jobs[job.job_id] = job
        self.version += 1
        return job

    def add_execution(self, job: Job, created: float, rng: random.Random | None = None, *,
                      status: str = "pending", since: float | None = None,
                      recovered_from: Execution | None = None,
                      cleanup_type: str | None = None) -> Execution:
        """Create an execution of `job` (a copy of its spec) in `status` since `since`."""
        rng = rng or self.rng
        spec = dict(job.spec)
        ex = Execution(ex_id=new_id(rng), job=job, spec=spec, created=created, status=status,
                       since=created if since is None else since,
                       updated=created if since is None else since,
                       workers=int(spec.get("workers", 1)), **draw_execution_params(rng))
        if recovered_from is not None:
            ex.recovered_execution = recovered_from.ex_id
            if cleanup_type:
                ex.recovered_slice_type = cleanup_type
            elif spec.get("autorecover"):
                ex.recovered_slice_type = "pending"
        job.executions.append(ex)
        self.executions[ex.ex_id] = ex
        self.sync_living(ex)
        self.schedule(ex)
        self.version += 1
        return ex

    def allocate_slicer(self, ex: Execution, rng: random.Random | None = None) -> None:
        """Give the execution a slicer host/port (what `initializing` means in Teraslice)."""
        rng = rng or random.Random(f"{self.seed}/slicer/{ex.ex_id}")
        if self.nodes:
            ex.slicer_hostname = self.nodes[rng.randrange(len(self.nodes))].hostname
        else:
            ex.slicer_hostname = "localhost"
        ex.slicer_port = rng.randint(45678, 46678)

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        """Clock time, after applying everything that became due (call with the lock held)."""
        now = self.clock.time()
        self.settle(now)
        return now

    def settle(self, now: float) -> None:
        """Apply timed transitions and lifecycle events due at or before `now`, in time order."""
        if now < self.settled_at:
            return
        heap = self._heap
        while True:
            t_ex = heap[0][0] if heap else math.inf
            t_ev = self.generated_at + self._event_index * LIFECYCLE_EVENT_SECONDS
            if min(t_ex, t_ev) > now:
                break
            if t_ex <= t_ev:
                at, _, ex_id, status = heapq.heappop(heap)
                ex = self.executions.get(ex_id)
                if ex is not None and ex.status == status and ex.next_at == at:
                    self._timed_transition(ex, at)
            else:
                if self.lifecycle_events:
                    self._lifecycle_event(self._event_index, t_ev)
                self._event_index += 1
        self.settled_at = now

    def sync_living(self, ex: Execution) -> None:
        """Keep `living` in step with the execution's status."""
        if ex.status in TERMINAL:
            self.living.pop(ex.ex_id, None)
        else:
            self.living[ex.ex_id] = ex

    def schedule(self, ex: Execution) -> None:
        """Compute when the current status ends by itself and queue it."""
        status, since = ex.status, ex.since
        if status == "pending":
            at: float | None = since + ex.steps[0]
        elif status == "scheduling":
            at = since + ex.steps[1]
        elif status == "initializing":
            at = since + ex.steps[2]
        elif status == "recovering":
            at = since + RECOVERING_SECONDS
        elif status == "failing":
            at = since + FAILING_SECONDS
        elif status == "stopping":
            at = since + STOPPING_SECONDS
        else:
            at = None
        ex.next_at = at
        if at is not None:
            self._seq += 1
            heapq.heappush(self._heap, (at, self._seq, ex.ex_id, status))

    def _timed_transition(self, ex: Execution, at: float) -> None:
        status = ex.status
        if status == "pending":
            self.set_status(ex, "scheduling", at, "scheduled")
        elif status == "scheduling":
            self.set_status(ex, "initializing", at, "slicer allocated")
        elif status == "initializing":
            nxt = "recovering" if ex.recovered_execution else "running"
            self.set_status(ex, nxt, at, "execution controller started")
        elif status in ("recovering", "failing"):
            nxt = "running" if status == "recovering" else ex.fail_outcome
            self.set_status(ex, nxt, at, f"{status} timed out")
        elif status == "stopping":
            self.set_status(ex, "stopped", at, "workers shut down")

    def set_status(self, ex: Execution, desired: str, t: float, reason: str = "") -> str:
        """Write a status through the storage guard (raises StatusError) and reschedule."""
        old = ex.status
        new = verify_status(old, desired)
        if new == old:
            return old
        ex.fold(t)
        if new in TERMINAL:
            ex.final_stats = ex.controller_stats(t) if ex.started is not None else {}
        ex.status = new
        ex.since = t
        ex.updated = max(ex.updated, t)
        if (new in PROCESSING or new in ("initializing", "paused")) and ex.slicer_hostname is None:
            self.allocate_slicer(ex)
        if new in PROCESSING and ex.started is None:
            ex.started = t
        if new in TERMINAL:
            if new in ("failed", "terminated"):
                ex.has_errors = True
                ex.failure_reason = FAILURE_REASONS[int(ex.fail_rate * 1e6) % len(FAILURE_REASONS)]
        ex.fold(t)
        ex.rev += 1
        self.version += 1
        self.sync_living(ex)
        if (old in RUNNING) != (new in RUNNING):
            self.placement_version += 1
        self.schedule(ex)
        for listener in self._listeners:
            listener(old, ex, reason)
        return new

    def _lifecycle_event(self, index: int, t: float) -> None:
        """Every 3 minutes: with probability 1/2, start an idle job or stop a living execution."""
        rng = random.Random(f"{self.seed}/event/{index}")
        if rng.random() >= 0.5:
            return
        living = [ex for ex in self.living.values() if ex.status != "stopping" and not ex.deleted]
        busy = {ex.job.job_id for ex in self.living.values()}
        idle = [job for job in self.jobs.values()
                if job.job_id not in busy and not job.deleted and job.active is not False]
        if idle and living:
            action = rng.choice(("start", "stop"))
        elif idle or living:
            action = "start" if idle else "stop"
        else:
            return
        if action == "start":
            job = rng.choice(idle)
            ex = self.add_execution(job, t, rng)
            self.events.append({"at": t, "action": "start", "ex_id": ex.ex_id,
                                "job_id": job.job_id})
        else:
            ex = rng.choice(living)
            self.set_status(ex, "stopping", t, "lifecycle event")
            self.events.append({"at": t, "action": "stop", "ex_id": ex.ex_id,
                                "job_id": ex.job.job_id})
        del self.events[:-100]

    # ------------------------------------------------------------------ controls
    def advance(self, seconds: Duration) -> float:
        """Move a FakeClock forward (seconds or a timedelta) and apply what became due; returns the new time."""
        seconds = to_seconds(seconds, "advance(seconds)")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("advance() needs a FakeClock; this cluster runs on the real clock")
        with self.lock:
            advance(seconds)
            return self.now()

    def set_cluster_size(self, nodes: int, slots_per_node: int | None = None) -> None:
        """Resize the cluster to `nodes` nodes (existing nodes keep their ids)."""
        nodes = bounded_int("nodes", nodes, 1, MAX_NODES)
        if slots_per_node is not None:
            slots_per_node = bounded_int("slots_per_node", slots_per_node, 1, MAX_SLOTS_PER_NODE)
        with self.lock:
            self.now()
            if slots_per_node is not None:
                self.slots_per_node = slots_per_node
                for node in self.nodes:
                    node.total = self.slots_per_node
            del self.nodes[nodes:]
            while len(self.nodes) < nodes:
                rng = random.Random(f"{self.seed}/node/{len(self.nodes)}")
                self.nodes.append(make_node(rng, self.slots_per_node))
            self.node_count = nodes
            self.version += 1
            self.placement_version += 1

    def force_status(self, ex_id: str, status: str) -> str:
        """Move an execution to `status` through the storage guard (StatusError if invalid)."""
        with self.lock:
            now = self.now()
            ex = self.executions.get(ex_id)
            if ex is None:
                raise KeyError(ex_id)
            return self.set_status(ex, status, now, "forced")

    def living_executions(self) -> list[Execution]:
        return list(self.living.values())

    def check_status_change(self, ex: Execution, desired: str) -> None:
        """Raise StatusError now if `desired` is not reachable from the current status."""
        verify_status(ex.status, desired)


__all__ = ["ActionError", "StatusError", "TerasliceCluster"]
