"""The simulated Teraslice cluster without a socket: generation, timed transitions, statistics."""
from __future__ import annotations

import pytest

from mocktools.clock import FakeClock, SystemClock
from mocktools.teraslice import StatusError, TerasliceCluster
from mocktools.teraslice.render import cluster_state, controllers, ex_record, job_record
from mocktools.teraslice.states import INIT, RUNNING, TERMINAL, iso, verify_status

START = 1_700_000_000.0


def make(seed: int = 7, jobs: int | None = None, nodes: int | None = None,
         events: bool = True) -> TerasliceCluster:
    return TerasliceCluster(clock=FakeClock(START), seed=seed, jobs=jobs, nodes=nodes,
                            lifecycle_events=events)


def snapshot(c: TerasliceCluster) -> list[tuple]:
    now = c.now()
    return [(ex.ex_id, ex.job.job_id, ex.status, ex.processed(now), ex_record(ex)["_updated"])
            for ex in c.executions.values()]


def fresh_execution(c: TerasliceCluster, workers: int = 4) -> str:
    out = c.submit_job({"name": "t", "workers": workers,
                        "operations": [{"_op": "noop"}, {"_op": "noop"}]})
    return out["ex_id"]


def run_to_running(c: TerasliceCluster, ex_id: str) -> None:
    c.advance(13)
    assert c.executions[ex_id].status == "running"


def test_same_seed_same_cluster_and_different_seed_differs() -> None:
    a, b = make(11), make(11)
    assert snapshot(a) == snapshot(b)
    assert [job_record(j) for j in a.jobs.values()] == [job_record(j) for j in b.jobs.values()]
    assert snapshot(make(12)) != snapshot(a)


def test_default_sizes_follow_the_seed_ranges() -> None:
    for seed in range(5):
        c = make(seed)
        assert 10 <= len(c.jobs) <= 30
        assert 3 <= len(c.nodes) <= 8
    c = make(1, jobs=40, nodes=2)
    assert len(c.jobs) == 40 and len(c.nodes) == 2


def test_regenerate_same_seed_rebuilds_same_ids_and_drops_changes() -> None:
    c = make(5)
    before = sorted(c.executions)
    fresh_execution(c)
    assert len(c.executions) == len(before) + 1
    c.regenerate()
    assert sorted(c.executions) == before
    c.regenerate(seed=6)
    assert sorted(c.executions) != before and c.seed == 6


def test_initial_steps_take_three_to_four_seconds_each() -> None:
    c = make(3, jobs=0, events=False)
    ex_id = fresh_execution(c)
    ex = c.executions[ex_id]
    seen = [(0.0, ex.status)]
    for tenth in range(1, 140):
        c.advance(0.1)
        if ex.status != seen[-1][1]:
            seen.append((tenth / 10, ex.status))
    assert [s for _, s in seen] == ["pending", "scheduling", "initializing", "running"]
    steps = [b[0] - a[0] for a, b in zip(seen, seen[1:])]
    assert all(2.9 <= step <= 4.1 for step in steps), steps
    assert ex.slicer_hostname and ex.slicer_port
    assert ex.started == pytest.approx(START + sum(ex.steps))


def test_recovering_runs_after_three_minutes() -> None:
    c = make(3, jobs=0, events=False)
    ex_id = fresh_execution(c)
    run_to_running(c, ex_id)
    c.force_status(ex_id, "recovering")
    c.advance(179)
    assert c.executions[ex_id].status == "recovering"
    c.advance(2)
    assert c.executions[ex_id].status == "running"


def test_failing_ends_failed_or_terminated_after_two_minutes() -> None:
    c = make(3, jobs=0, events=False)
    outcomes = set()
    for _ in range(12):
        ex_id = fresh_execution(c)
        run_to_running(c, ex_id)
        c.force_status(ex_id, "failing")
        c.advance(119)
        assert c.executions[ex_id].status == "failing"
        c.advance(2)
        ex = c.executions[ex_id]
        assert ex.status in ("failed", "terminated")
        assert ex.has_errors and ex.failure_reason
        outcomes.add(ex.status)
    assert outcomes == {"failed", "terminated"}


def test_stopping_stops_after_sixty_seconds_with_final_stats_then_never_changes() -> None:
    c = make(3, jobs=0, events=False)
    ex_id = fresh_execution(c, workers=5)
    run_to_running(c, ex_id)
    c.advance(100)
    assert c.stop(ex_id) == "stopping"
    c.advance(59)
    assert c.executions[ex_id].status == "stopping"
    c.advance(2)
    ex = c.executions[ex_id]
    assert ex.status == "stopped"
    stats = ex_record(ex)["_slicer_stats"]
    assert stats["processed"] > 0 and stats["workers_joined"] >= 1
    c.advance(5 * 3600)
    assert ex.status == "stopped" and ex_record(ex)["_slicer_stats"] == stats


def test_status_guard_matches_the_real_storage() -> None:
    assert verify_status("running", "running") == "running"
    assert verify_status("stopped", "completed") == "stopped"
    assert verify_status("pending", "stopping") == "stopping"
    for current, desired in [("running", "pending"), ("paused", "scheduling"),
                             ("failed", "running"), ("completed", "stopped"),
                             ("stopping", "running"), ("running", "nonsense")]:
        with pytest.raises(StatusError) as info:
            verify_status(current, desired)
        assert info.value.status == 422


def test_force_status_goes_through_the_guard() -> None:
    c = make(3, jobs=0, events=False)
    ex_id = fresh_execution(c)
    assert c.force_status(ex_id, "initializing") == "initializing"
    assert c.executions[ex_id].slicer_hostname
    run_to_running(c, ex_id)
    with pytest.raises(StatusError):
        c.force_status(ex_id, "pending")
    direct = fresh_execution(c)
    assert c.force_status(direct, "running") == "running"
    assert c.executions[direct].slicer_hostname and c.executions[direct].started is not None
    c.force_status(ex_id, "completed")
    with pytest.raises(StatusError):
        c.force_status(ex_id, "running")
    with pytest.raises(KeyError):
        c.force_status("nope", "running")


def test_processed_slices_grow_with_time_and_pause_halts_them() -> None:
    c = make(3, jobs=0, events=False)
    ex_id = fresh_execution(c, workers=6)
    run_to_running(c, ex_id)
    ex = c.executions[ex_id]
    p0 = ex.processed(c.now())
    c.advance(600)
    p1 = ex.processed(c.now())
    rate = ex.workers_active() * 0.1
    assert p1 - p0 == pytest.approx(600 * rate, rel=0.12)
    c.pause(ex_id)
    c.advance(600)
    assert ex.processed(c.now()) == p1
    c.resume(ex_id)
    c.advance(100)
    assert ex.processed(c.now()) > p1
    stats = ex.controller_stats(c.now())
    assert stats["queued"] == stats["workers_active"]
    assert stats["processed"] <= stats["subslices"] <= 1.5 * stats["processed"] + 1
    assert stats["job_duration"] == int(c.now() - ex.started)


def test_worker_and_slice_distributions_follow_the_seed() -> None:
    c = make(21, jobs=3000)
    now = c.now()
    stats = controllers(c.executions.values(), now)
    assert len(stats) > 1000
    full = sum(s["workers_joined"] == c.executions[s["ex_id"]].workers for s in stats)
    assert 0.88 <= full / len(stats) <= 0.99
    no_fail = sum(ex.fail_rate == 0 for ex in c.executions.values()) / len(c.executions)
    assert 0.86 <= no_fail <= 0.94
    for s in stats:
        assert s["failed"] <= s["processed"] * 0.005 + 1
        assert s["workers_disconnected"] <= s["workers_joined"] // 4
        assert s["workers_reconnected"] <= s["workers_disconnected"] or s["workers_joined"] < 8


def test_age_and_state_distribution_of_living_executions() -> None:
    c = make(22, jobs=3000)
    now = c.now()
    living = [ex for ex in c.executions.values() if ex.status not in TERMINAL]
    assert 0.55 <= len(living) / len(c.jobs) <= 0.65
    ages = [now - ex.created for ex in living]
    fresh = sum(a < 10 for a in ages) / len(ages)
    recent = sum(10 <= a < 300 for a in ages) / len(ages)
    old = sum(a >= 86400 for a in ages) / len(ages)
    assert 0.16 <= fresh <= 0.24 and 0.11 <= recent <= 0.19 and 0.40 <= old <= 0.50
    for ex, age in zip(living, ages):
        if age < 9:
            assert ex.status in INIT or ex.status in RUNNING
        if ex.status in INIT:
            assert age <= 12
    running = sum(ex.status == "running" for ex in living) / len(living)
    assert running > 0.7


def test_lifecycle_event_every_three_minutes() -> None:
    c = make(4, jobs=30)
    c.advance(3 * 3600)
    events = c.events
    assert 20 <= len(events) <= 40  # 60 slots at p = 1/2
    for event in events:
        assert (event["at"] - START) % 180 == 0
        ex = c.executions[event["ex_id"]]
        assert ex.job.job_id == event["job_id"]
        if event["action"] == "stop":
            assert ex.status in ("stopped", "stopping")
    assert {e["action"] for e in events} == {"start", "stop"}


def test_result_does_not_depend_on_how_often_it_is_polled() -> None:
    a, b = make(9), make(9)
    a.advance(3600)
    for _ in range(360):
        b.advance(10)
    assert snapshot(a) == snapshot(b)


def test_timestamps_use_the_z_form() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1.9996) == "1970-01-01T00:00:02.000Z"
    c = make(2)
    for ex in c.executions.values():
        rec = ex_record(ex)
        assert rec["_created"].endswith("Z") and rec["_updated"] >= rec["_created"]


def test_cluster_state_places_controllers_and_workers_on_nodes() -> None:
    c = make(8)
    state = cluster_state(c.nodes, c.executions.values())
    assert len(state) == len(c.nodes)
    placed: dict[str, int] = {}
    for node in state.values():
        assert node["available"] == node["total"] - len(node["active"])
        for w in node["active"]:
            if w["assignment"] == "worker":
                placed[w["ex_id"]] = placed.get(w["ex_id"], 0) + 1
    for ex in c.executions.values():
        if ex.status in RUNNING:
            assert placed.get(ex.ex_id, 0) == ex.workers_active()
    assert cluster_state([], c.executions.values()) == {}
    c.set_cluster_size(1, slots_per_node=3)
    small = cluster_state(c.nodes, c.executions.values())
    (node,) = small.values()
    assert len(node["active"]) == 3 and node["available"] == 0


def test_set_cluster_size_keeps_existing_nodes() -> None:
    c = make(8, nodes=4)
    ids = [n.node_id for n in c.nodes]
    c.set_cluster_size(6)
    assert [n.node_id for n in c.nodes][:4] == ids and len(c.nodes) == 6
    c.set_cluster_size(2)
    assert [n.node_id for n in c.nodes] == ids[:2]
    with pytest.raises(ValueError):
        c.set_cluster_size(0)
    with pytest.raises(ValueError):
        c.set_cluster_size(2, slots_per_node=0)


def test_advance_needs_a_fake_clock() -> None:
    c = TerasliceCluster(clock=SystemClock(), seed=1, jobs=2)
    with pytest.raises(TypeError):
        c.advance(1)


@pytest.mark.timeout(60)
def test_a_simulated_quarter_stays_fast_and_bounded() -> None:
    c = make(1, jobs=30)
    c.advance(90 * 86400)
    assert len(c.events) == 100  # only the most recent events are kept
    assert len(c.living) <= len(c.jobs)
