"""Seeded generation of a cluster, with the seed's age and state distributions.

Every execution is placed at the exact point of its timeline its age implies (a 5 s old
execution is `scheduling`, entered 3-4 s after creation), so the lazily applied transitions of
the model continue it seamlessly.
"""
from __future__ import annotations

import math
import random
import zlib
from typing import TYPE_CHECKING, Any

from .entities import FAILURE_REASONS, Execution, Job, Node
from .states import TERMINAL_STATUSES

if TYPE_CHECKING:
    from .model import TerasliceCluster

DAY = 86400.0
PREFIXES = ("daily_etl", "hourly_sync", "export_data", "process_logs", "ingest", "reindex",
            "enrich", "kafka_to_es", "es_to_s3", "dedupe")
TOPICS = ("orders", "events", "users", "clicks", "metrics", "audit", "billing", "sessions",
          "inventory", "alerts", "geo", "search")
READERS = ("elasticsearch_reader", "kafka_reader", "data_generator", "s3_reader")
PROCESSORS = ("noop", "filter_by_date", "dedupe", "add_key", "set_field")
#: completed, stopped, rejected, failed, terminated
TERMINAL_WEIGHTS = (0.4, 0.3, 0.05, 0.15, 0.1)
WRITERS = ("elasticsearch_bulk", "kafka_sender", "s3_exporter", "noop")


def make_node(rng: random.Random, slots: int) -> Node:
    tag = f"{rng.getrandbits(32):08x}"
    return Node(node_id=f"node-{tag}", hostname=f"worker-{tag}.example.com",
                pid=rng.randint(1000, 99999), total=slots)


def make_spec(rng: random.Random, index: int) -> dict[str, Any]:
    """A job spec with the fields the real job records carry."""
    topic = rng.choice(TOPICS)
    ops: list[dict[str, Any]] = [{"_op": rng.choice(READERS), "index": f"{topic}-v1",
                                  "size": rng.choice((1000, 5000, 10000))}]
    for _ in range(rng.randint(0, 2)):
        ops.append({"_op": rng.choice(PROCESSORS)})
    ops.append({"_op": rng.choice(WRITERS), "index": f"{topic}-out", "size": 5000})
    spec: dict[str, Any] = {
        "name": f"job_{rng.choice(PREFIXES)}_{topic}_{index}",
        "lifecycle": rng.choice(("once", "persistent")),
        "workers": rng.randint(1, 20),
        "slicers": 1 if rng.random() < 0.8 else rng.randint(2, 3),
        "analytics": rng.random() < 0.7,
        "max_retries": rng.randint(0, 5),
        "probation_window": rng.choice((300000, 60000, 600000)),
        "assets": sorted(rng.sample(("elasticsearch", "standard", "kafka", "file"),
                                    rng.randint(1, 2))),
        "apis": [],
        "operations": ops,
        "env_vars": {},
        "autorecover": rng.random() < 0.1,
    }
    if rng.random() < 0.5:
        spec["log_level"] = rng.choice(("info", "debug", "warn"))
    return spec


def _active_age(rng: random.Random) -> float:
    """The seed's execution age distribution."""
    bucket = rng.random()
    if bucket < 0.20:
        return rng.uniform(0.0, 10.0)
    if bucket < 0.35:
        return rng.uniform(10.0, 300.0)
    if bucket < 0.55:
        return rng.uniform(300.0, DAY)
    return rng.uniform(DAY, 90 * DAY)


def _running_status(rng: random.Random, age: float) -> str:
    """The seed's status weights once the initial steps are over."""
    if age < 60:
        statuses, weights = ["running", "recovering", "failing", "paused"], [.90, .04, .03, .03]
    else:
        statuses, weights = ["running", "paused", "recovering", "failing"], [.97, .02, .005, .005]
    if 30 <= age <= 90:
        statuses.append("stopping")
        weights.append(.03)
    return rng.choices(statuses, weights)[0]


def place_living(model: TerasliceCluster, ex: Execution, now: float,
                 rng: random.Random) -> None:
    """Put a living execution where its age puts it on the timeline."""
    c = ex.created
    s0, s1, s2 = ex.steps
    age = now - c
    if age < s0:
        status, since = "pending", c
    elif age < s0 + s1:
        status, since = "scheduling", c + s0
    elif age < s0 + s1 + s2:
        status, since = "initializing", c + s0 + s1
        model.allocate_slicer(ex, rng)
    else:
        started = c + s0 + s1 + s2
        ex.started = started
        model.allocate_slicer(ex, rng)
        status = _running_status(rng, age)
        span = now - started
        since = {
            "running": started,
            "recovering": now - rng.uniform(0.0, min(span, 179.0)),
            "failing": now - rng.uniform(0.0, min(span, 119.0)),
            "stopping": now - rng.uniform(0.0, min(span, 59.0)),
            "paused": started + rng.uniform(0.0, span),
        }[status]
        ex.status = "running"  # rate of the processing phase
        end = since if status in ("paused", "stopping") else now
        ex.slices = ex.slice_rate() * max(0.0, end - started)
        ex.segments = [(started, 0.0, ex.slice_rate())]
    ex.status = status
    ex.since = since
    ex.updated = since
    ex.seg_start = None
    ex.fold(now)
    model.schedule(ex)


def place_terminal(model: TerasliceCluster, ex: Execution, ended: float, status: str,
                   rng: random.Random) -> None:
    """Make a historical execution that ended at `ended` in a terminal `status`."""
    never_started = status == "rejected" or (status == "failed" and rng.random() < 0.25)
    if not never_started:
        started = min(ended, ex.created + sum(ex.steps))
        ex.started = started
        model.allocate_slicer(ex, rng)
        ex.status = "running"
        ex.slices = ex.slice_rate() * max(0.0, ended - started)
        ex.segments = [(started, 0.0, ex.slice_rate())]
        ex.final_stats = ex.controller_stats(ended)
    else:
        ex.final_stats = {}
    ex.status = status
    ex.since = ended
    ex.updated = ended
    ex.seg_start = None
    ex.next_at = None
    if status in ("failed", "terminated"):
        ex.has_errors = True
        ex.failure_reason = rng.choice(FAILURE_REASONS)


def populate(model: TerasliceCluster, rng: random.Random, now: float,
             job_count: int | None, node_count: int | None) -> None:
    """Fill `model` with nodes, jobs and executions drawn from `rng`."""
    n_nodes = node_count if node_count is not None else rng.randint(3, 8)
    n_jobs = job_count if job_count is not None else rng.randint(10, 30)
    for index in range(n_jobs):
        add_generated_job(model, rng, now, index)
    demand = sum(ex.workers + 1 for ex in model.executions.values()
                 if ex.status not in TERMINAL_STATUSES) + 2
    model.slots_per_node = max(10, math.ceil(demand * 1.25 / max(1, n_nodes)))
    model.nodes = [make_node(rng, model.slots_per_node) for _ in range(n_nodes)]
    for ex in model.executions.values():
        if ex.slicer_hostname is not None and model.nodes:
            ex.slicer_hostname = model.nodes[zlib.crc32(ex.ex_id.encode()) % len(model.nodes)].hostname


def add_generated_job(model: TerasliceCluster, rng: random.Random, now: float,
                      index: int) -> Job:
    """One job with 60 % chance of a living execution and 0-3 historical ones (the seed)."""
    spec = make_spec(rng, index)
    active_age = _active_age(rng) if rng.random() < 0.6 else None
    newest = now - active_age if active_age is not None else now
    historical = sorted(newest - rng.uniform(3600.0, 180 * DAY) for _ in range(rng.randint(0, 3)))
    first = historical[0] if historical else newest
    created = first - rng.uniform(60.0, 7 * DAY) if (historical or active_age) else \
        now - rng.uniform(0.0, 30 * DAY)
    updated = created + rng.uniform(0.0, max(0.0, min(DAY, first - created)))
    living = active_age is not None
    active: bool | None = (True if rng.random() < 0.8 else None) if living else \
        rng.choices((True, False, None), (.6, .3, .1))[0]
    job = model.add_job_record(spec, created, updated=updated, active=active)
    for i, h_created in enumerate(historical):
        limit = historical[i + 1] if i + 1 < len(historical) else newest
        ex = model.add_execution(job, h_created, rng)
        ended = min(h_created + rng.uniform(60.0, 3 * DAY), limit - 1.0)
        status = rng.choices(TERMINAL_STATUSES, TERMINAL_WEIGHTS)[0]
        place_terminal(model, ex, max(h_created, ended), status, rng)
        model.sync_living(ex)
    if active_age is not None:
        ex = model.add_execution(job, newest, rng)
        if historical:
            ex.recovered_execution = job.executions[-2].ex_id if rng.random() < 0.3 else None
        place_living(model, ex, now, rng)
    return job
