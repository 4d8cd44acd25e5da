"""Slice error records: as many as `failed`, fixed in time, merged newest first across executions."""
from __future__ import annotations

from mocktools.clock import FakeClock
from mocktools.teraslice import TerasliceCluster
from mocktools.teraslice.query import parse_query
from mocktools.teraslice.slice_errors import error_count, error_record, select_errors


def failing_cluster() -> TerasliceCluster:
    return TerasliceCluster(clock=FakeClock(), seed=3, jobs=60)


def test_error_records_match_failed_and_never_move() -> None:
    c = failing_cluster()
    now = c.now()
    failing = [ex for ex in c.executions.values() if error_count(ex, now) > 0]
    assert failing
    ex = failing[0]
    n = error_count(ex, now)
    assert n == ex.controller_stats(now)["failed"]
    recs = [error_record(ex, i, now) for i in range(min(n, 50))]
    times = [r["_created"] for r in recs]
    assert times == sorted(times) and all(t <= ex.controller_stats(now)["started"] or True for t in times)
    assert all(r["state"] == "error" and r["ex_id"] == ex.ex_id for r in recs)
    assert len({r["slice_id"] for r in recs}) == len(recs)
    c.advance(7200)
    later = c.now()
    assert error_count(ex, later) >= n
    assert [error_record(ex, i, later) for i in range(len(recs))] == recs


def test_time_of_slice_inverts_processed() -> None:
    c = TerasliceCluster(clock=FakeClock(), seed=3, jobs=0, lifecycle_events=False)
    out = c.submit_job({"name": "e", "workers": 5, "operations": [{"_op": "noop"}] * 2})
    ex = c.executions[out["ex_id"]]
    c.advance(300)
    paused_at = c.now()
    done_at_pause = ex.processed(paused_at)
    c.pause(ex.ex_id)
    c.advance(500)
    resumed_at = c.now()
    c.resume(ex.ex_id)
    c.advance(300)
    now = c.now()
    assert ex.time_of_slice(done_at_pause - 1) <= paused_at
    assert ex.time_of_slice(done_at_pause + 2) >= resumed_at
    targets = list(range(0, ex.processed(now), 97))
    times = [ex.time_of_slice(x) for x in targets]
    assert times == sorted(times) and times[-1] <= now
    assert ex.time_of_slice(0) == ex.segments[0][0] == ex.started
    fresh = c.submit_job({"name": "f", "operations": [{"_op": "noop"}] * 2})
    assert c.executions[fresh["ex_id"]].time_of_slice(5) is None


def test_select_pages_newest_first_and_filters() -> None:
    c = failing_cluster()
    now = c.now()
    exs = list(c.executions.values())
    page = select_errors(exs, now, 0, 50, True, None)
    times = [r["_updated"] for r in page]
    assert len(page) == 50 and times == sorted(times, reverse=True)
    nxt = select_errors(exs, now, 50, 50, True, None)
    assert not {r["slice_id"] for r in page} & {r["slice_id"] for r in nxt}
    assert nxt[0]["_updated"] <= page[-1]["_updated"]
    oldest = select_errors(exs, now, 0, 10, False, None)
    assert [r["_created"] for r in oldest] == sorted(r["_created"] for r in oldest)
    one = page[0]["ex_id"]
    only = select_errors(exs, now, 0, 100, True, parse_query(f'ex_id:"{one}"'))
    assert only and {r["ex_id"] for r in only} == {one}
    assert select_errors(exs, now, 0, 10, True, parse_query("state:nothing")) == []
