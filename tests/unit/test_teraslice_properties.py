"""Property tests: over seeds and clock advances, jobs/executions/controllers stay consistent."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocktools.clock import FakeClock
from mocktools.teraslice import TerasliceCluster
from mocktools.teraslice.render import controllers, ex_record, job_record
from mocktools.teraslice.states import TERMINAL, verify_status

#: every status change the flowchart allows (timed, lifecycle and API-driven)
ALLOWED = {
    ("pending", "scheduling"), ("scheduling", "initializing"), ("initializing", "running"),
    ("initializing", "recovering"), ("recovering", "running"), ("failing", "failed"),
    ("failing", "terminated"), ("stopping", "stopped"), ("running", "paused"),
    ("paused", "running"),
} | {(s, "stopping") for s in ("pending", "scheduling", "initializing", "running",
                               "recovering", "failing", "paused")}

advances = st.lists(st.floats(min_value=0.0, max_value=900.0, allow_nan=False), min_size=1,
                    max_size=12)


def check_consistent(c: TerasliceCluster) -> None:
    now = c.now()
    living_per_job: dict[str, int] = {}
    for ex in c.executions.values():
        rec = ex_record(ex)
        job = c.jobs[rec["job_id"]]
        assert rec["name"] == job_record(job)["name"]
        assert ex in job.executions
        assert ex.workers_active() <= ex.workers_joined() <= ex.workers
        if ex.status not in TERMINAL:
            living_per_job[job.job_id] = living_per_job.get(job.job_id, 0) + 1
        assert rec["_updated"] >= rec["_created"]
    assert all(n == 1 for n in living_per_job.values())
    assert set(c.living) == {ex.ex_id for ex in c.executions.values() if ex.status not in TERMINAL}
    assert [ex.ex_id for ex in c.living_executions()] == list(c.living)
    for stats in controllers(c.executions.values(), now):
        ex = c.executions[stats["ex_id"]]
        assert ex.status not in TERMINAL
        assert stats["job_id"] == ex.job.job_id and stats["name"] == ex_record(ex)["name"]
        assert stats["workers_active"] <= stats["workers_joined"] <= ex.workers
        assert stats["queued"] == stats["workers_active"]
        assert stats["failed"] <= stats["processed"] <= stats["subslices"]


@pytest.mark.timeout(120)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), steps=advances)
def test_consistency_over_seeds_and_advances(seed: int, steps: list[float]) -> None:
    c = TerasliceCluster(clock=FakeClock(), seed=seed)
    seen: list[tuple[str, str]] = []
    c.on_transition(lambda old, ex, reason: seen.append((old, ex.status)))
    check_consistent(c)
    counters: dict[str, tuple[int, int, int, int]] = {}
    terminal = {ex.ex_id: ex.status for ex in c.executions.values() if ex.status in TERMINAL}
    n_jobs, n_ex = len(c.jobs), len(c.executions)
    for step in steps:
        c.advance(step)
        check_consistent(c)
        now = c.now()
        assert len(c.jobs) >= n_jobs and len(c.executions) >= n_ex
        n_jobs, n_ex = len(c.jobs), len(c.executions)
        for ex in c.executions.values():
            stats = ex.controller_stats(now)
            cur = (stats["processed"], stats["failed"], stats["subslices"], stats["job_duration"])
            prev = counters.get(ex.ex_id)
            if prev is not None:
                assert all(a >= b for a, b in zip(cur, prev)), (ex.status, prev, cur)
            counters[ex.ex_id] = cur
        for ex_id, status in terminal.items():
            assert c.executions[ex_id].status == status
        terminal.update({ex.ex_id: ex.status for ex in c.executions.values()
                         if ex.status in TERMINAL})
    for old, new in seen:
        assert (old, new) in ALLOWED, (old, new)
        assert verify_status(old, new) == new


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1),
       total=st.floats(min_value=1.0, max_value=4000.0, allow_nan=False),
       parts=st.integers(min_value=1, max_value=20))
def test_polling_frequency_does_not_change_the_outcome(seed: int, total: float,
                                                       parts: int) -> None:
    a = TerasliceCluster(clock=FakeClock(), seed=seed)
    b = TerasliceCluster(clock=FakeClock(), seed=seed)
    start = a.clock.time()
    a.advance(total)
    for i in range(1, parts + 1):  # the same end time to the last bit, reached in `parts` polls
        target = start + total if i == parts else start + total * i / parts
        b.clock.set(target)
        b.now()
    assert a.now() == b.now()
    sa = sorted((ex.ex_id, ex.status) for ex in a.executions.values())
    sb = sorted((ex.ex_id, ex.status) for ex in b.executions.values())
    assert sa == sb


operations = st.lists(st.one_of(
    st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=400.0, allow_nan=False)),
    st.tuples(st.sampled_from(["pause", "resume", "stop", "force_stop", "recover"]),
              st.integers(min_value=0, max_value=10_000)),
    st.tuples(st.just("workers"), st.integers(min_value=0, max_value=10_000),
              st.sampled_from(["add", "remove", "total"]), st.integers(min_value=1, max_value=8)),
    st.tuples(st.just("start"), st.integers(min_value=0, max_value=10_000)),
    st.tuples(st.just("force"), st.integers(min_value=0, max_value=10_000),
              st.sampled_from(["pending", "running", "paused", "failing", "recovering",
                               "stopping", "completed", "rejected"])),
), min_size=1, max_size=25)


@pytest.mark.timeout(120)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), ops=operations)
def test_actions_keep_the_cluster_consistent(seed: int, ops: list[tuple]) -> None:
    from mocktools.teraslice import ActionError, StatusError

    c = TerasliceCluster(clock=FakeClock(), seed=seed, jobs=8)
    seen: list[tuple[str, str]] = []
    c.on_transition(lambda old, ex, reason: seen.append((old, ex.status)))
    for op in ops:
        ex_ids = list(c.executions)
        ex_id = ex_ids[op[1] % len(ex_ids)] if op[0] != "advance" and ex_ids else ""
        before = c.executions[ex_id].status if ex_id else None
        try:
            if op[0] == "advance":
                c.advance(op[1])
            elif op[0] == "pause":
                c.pause(ex_id)
            elif op[0] == "resume":
                c.resume(ex_id)
            elif op[0] == "stop":
                c.stop(ex_id)
            elif op[0] == "force_stop":
                c.stop(ex_id, force=True)
            elif op[0] == "recover":
                c.recover_execution(ex_id, None)
            elif op[0] == "workers":
                c.change_workers(ex_id, op[2], op[3])
            elif op[0] == "start":
                c.start_job(c.executions[ex_id].job.job_id)
            else:
                c.force_status(ex_id, op[2])
        except (ActionError, StatusError):
            if before is not None:
                assert c.executions[ex_id].status == before  # a refused action changes nothing
        check_consistent(c)
    for old, new in seen:
        assert verify_status(old, new) == new
