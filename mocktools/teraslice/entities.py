"""The simulated records: jobs, executions and nodes, with their time-derived statistics.

An execution keeps only what changes at discrete moments (status, since when, worker counts,
an accumulator of processed slices); everything that grows with time (processed, failed,
subslices, job_duration) is computed from those and `now`, so it never needs a refresh and
never decreases.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from .states import INIT_STEP_MAX, INIT_STEP_MIN, PROCESSING, RUNNING, TERMINAL, iso

#: why a generated or failing execution failed (what the real master reports)
FAILURE_REASONS = (
    "TSError: slice failed after max_retries, caused by Error: Request Timeout",
    "TSError: execution controller lost connection to the cluster master",
    "TSError: Failure to allocateWorkers, caused by Error: no available nodes",
)

#: ~1 slice per 10 seconds per active worker (the seed)
SLICES_PER_WORKER_SECOND = 0.1


def new_id(rng: random.Random) -> str:
    """A UUID4 string drawn from the seeded generator (Teraslice ids are UUID4s)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(eq=False)
class Job:
    """A stored job spec. `spec` holds the user-visible job fields (name, workers, operations...)."""

    job_id: str
    spec: dict[str, Any]
    created: float
    updated: float
    active: bool | None = True
    deleted: bool = False
    deleted_on: float | None = None
    executions: list["Execution"] = field(default_factory=list)
    rev: int = 0
    cache: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    def latest(self) -> "Execution | None":
        """The latest execution by creation (what the real server resolves job actions to)."""
        return self.executions[-1] if self.executions else None

    def living(self) -> "Execution | None":
        """The latest non-terminal execution, if any."""
        for ex in reversed(self.executions):
            if ex.status not in TERMINAL:
                return ex
        return None


@dataclass(eq=False)
class Execution:
    """One execution context of a job, with the parameters its statistics are derived from."""

    ex_id: str
    job: Job
    spec: dict[str, Any]
    created: float
    status: str
    since: float
    updated: float
    steps: tuple[float, float, float]
    fail_outcome: str
    workers: int
    joined_short: int
    active_short: int
    disconnected: int
    reconnected: int
    rate: float
    fail_rate: float
    sub_ratio: float
    slice_range_expansion: int
    subslice_by_key: int
    queuing_after: float
    slicer_hostname: str | None = None
    slicer_port: int | None = None
    started: float | None = None
    slices: float = 0.0
    seg_start: float | None = None
    seg_rate: float = 0.0
    next_at: float | None = None
    final_stats: dict[str, Any] | None = None
    has_errors: bool = False
    failure_reason: str = ""
    recovered_execution: str | None = None
    recovered_slice_type: str | None = None
    deleted: bool = False
    deleted_on: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    rev: int = 0
    cache: Any = field(default=None, repr=False)
    iso_cache: tuple[float, str, str] | None = field(default=None, repr=False)
    #: processing history [(start time, slices done at start, slices per second)]
    segments: list[tuple[float, float, float]] = field(default_factory=list, repr=False)

    # ---- worker statistics (the seed: all requested workers joined 95 % of the time) ----
    def workers_joined(self) -> int:
        if self.status not in RUNNING or self.workers <= 0:
            return 0
        return min(self.workers, max(1, self.workers - self.joined_short))

    def workers_active(self) -> int:
        joined = self.workers_joined()
        if joined == 0:
            return 0
        return min(joined, max(1, joined - self.active_short))

    def slice_rate(self) -> float:
        """Slices per second right now: only while workers process (running/recovering/failing)."""
        if self.status not in PROCESSING:
            return 0.0
        return self.workers_active() * self.rate

    def fold(self, t: float) -> None:
        """Close the current processing segment at `t` (call before anything changes the rate)."""
        if self.seg_start is not None and t > self.seg_start:
            self.slices += self.seg_rate * (t - self.seg_start)
        self.seg_start = t
        self.seg_rate = self.slice_rate()
        if self.seg_rate == 0.0:
            self.seg_start = None
        else:
            self.add_segment(t, self.slices, self.seg_rate)

    def add_segment(self, t: float, slices: float, rate: float) -> None:
        """Remember that from `t` on (at `slices` done) slices accrued at `rate` per second."""
        segs = self.segments
        if segs and segs[-1][0] == t:
            segs[-1] = (t, slices, rate)
        else:
            segs.append((t, slices, rate))

    def time_of_slice(self, target: float) -> float | None:
        """When the `target`-th slice was done (exact: the history is piecewise linear)."""
        segs = self.segments
        if not segs:
            return None
        lo, hi = 0, len(segs) - 1
        while lo < hi:  # last segment whose start count is <= target
            mid = (lo + hi + 1) // 2
            if segs[mid][1] <= target:
                lo = mid
            else:
                hi = mid - 1
        t0, s0, rate = segs[lo]
        return t0 + max(0.0, target - s0) / rate if rate > 0 else t0

    # ---- slice statistics, all non-decreasing in `now` ----
    def processed(self, now: float) -> int:
        total = self.slices
        if self.seg_start is not None and now > self.seg_start:
            total += self.seg_rate * (now - self.seg_start)
        return int(total)

    def controller_stats(self, now: float) -> dict[str, Any]:
        """The execution controller's analytics at `now` (the /v1/cluster/controllers record)."""
        processed = self.processed(now)
        joined = self.workers_joined()
        active = self.workers_active()
        started = self.started if self.started is not None else self.created
        cached = self.iso_cache
        if cached is None or cached[0] != started:
            cached = self.iso_cache = (started, iso(started), iso(started + self.queuing_after))
        stats: dict[str, Any] = {
            "ex_id": self.ex_id,
            "job_id": self.job.job_id,
            "name": self.spec.get("name", ""),
            "workers_available": max(0, self.workers - joined),
            "workers_active": active,
            "workers_joined": joined,
            "workers_reconnected": min(self.reconnected, joined // 4),
            "workers_disconnected": min(self.disconnected, joined // 4),
            "job_duration": max(0, int(now - started)) if self.started is not None else 0,
            "failed": int(processed * self.fail_rate),
            "subslices": int(processed * self.sub_ratio),
            "queued": active,
            "slice_range_expansion": self.slice_range_expansion,
            "processed": processed,
            "slicers": int(self.spec.get("slicers", 1)),
            "subslice_by_key": self.subslice_by_key,
            "started": cached[1],
        }
        if self.spec.get("lifecycle") == "once" and now >= started + self.queuing_after:
            stats["queuing_complete"] = cached[2]
        return stats


def draw_execution_params(rng: random.Random) -> dict[str, Any]:
    """Per-execution random parameters, drawn in a fixed order so a seed replays exactly."""
    steps = tuple(rng.uniform(INIT_STEP_MIN, INIT_STEP_MAX) for _ in range(3))
    joined_short = 0 if rng.random() < 0.95 else rng.randint(1, 3)
    active_short = 0 if rng.random() < 0.95 else rng.randint(1, 2)
    disconnected = rng.randint(0, 2)
    reconnected = rng.randint(0, disconnected)
    failing = rng.random() >= 0.90
    return {
        "steps": steps,
        "fail_outcome": rng.choice(("failed", "terminated")),
        "joined_short": joined_short,
        "active_short": active_short,
        "disconnected": disconnected,
        "reconnected": reconnected,
        "rate": SLICES_PER_WORKER_SECOND * rng.uniform(0.9, 1.1),
        "fail_rate": rng.uniform(0.0005, 0.005) if failing else 0.0,
        "sub_ratio": rng.uniform(1.0, 1.5),
        "slice_range_expansion": rng.randint(0, 10),
        "subslice_by_key": rng.randint(0, 100),
        "queuing_after": rng.uniform(60.0, 3600.0),
    }


@dataclass(eq=False)
class Node:
    """A native-clustering node: fixed worker slots; its `active` list is derived per request."""

    node_id: str
    hostname: str
    pid: int
    total: int
    state: str = "connected"
