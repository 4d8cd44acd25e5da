"""Record rendering: Express-identical JSON, caching by revision, controller records."""
from __future__ import annotations

import json

from mocktools.clock import FakeClock
from mocktools.teraslice import TerasliceCluster
from mocktools.teraslice.render import (cluster_state, controllers, ex_record, fragment,
                                         job_record, json_array, pretty)


def test_pretty_is_json_stringify_with_four_spaces() -> None:
    c = TerasliceCluster(clock=FakeClock(), seed=3)
    samples = [cluster_state(c.nodes, c.executions.values()),
               controllers(c.executions.values(), c.now()),
               [ex_record(e) for e in c.executions.values()], {}, [], 5, None, "é",
               {"a": [], "b": {}, "c": [{}], "d": "é\n\"x"}, [[1, [2]], {"x": [1]}]]
    for obj in samples:
        assert pretty(obj) == json.dumps(obj, indent=4, ensure_ascii=False)
    exs = list(c.executions.values())[:5]
    assert json_array(exs) == json.dumps([ex_record(e) for e in exs], indent=4, ensure_ascii=False)
    assert json_array([]) == "[]"


def test_records_are_cached_per_revision() -> None:
    c = TerasliceCluster(clock=FakeClock(), seed=3, jobs=2, lifecycle_events=False)
    out = c.submit_job({"name": "a", "operations": [{"_op": "noop"}, {"_op": "noop"}]})
    ex = c.executions[out["ex_id"]]
    first = ex_record(ex)
    assert ex_record(ex) is first and fragment(ex) is fragment(ex)
    c.advance(4.5)
    assert ex_record(ex) is not first and ex_record(ex)["_status"] != "pending"
    job = c.jobs[out["job_id"]]
    rec = job_record(job)
    c.set_job_active(job.job_id, False)
    assert job_record(job) is not rec and job_record(job)["active"] is False
    job.active = None
    job.rev += 1
    assert "active" not in job_record(job)


def test_controller_record_fields_and_ordering() -> None:
    c = TerasliceCluster(clock=FakeClock(), seed=4, jobs=30)
    stats = controllers(c.executions.values(), c.now())
    assert stats
    ints = ("workers_available", "workers_active", "workers_joined", "workers_reconnected",
            "workers_disconnected", "job_duration", "failed", "subslices", "queued",
            "slice_range_expansion", "processed", "slicers", "subslice_by_key")
    for s in stats:
        assert all(isinstance(s[k], int) for k in ints)
        assert s["started"].endswith("Z")
        assert {"ex_id", "job_id", "name"} <= set(s)
    keys = [(s["name"], s["started"]) for s in stats]
    assert keys == sorted(keys, reverse=True)


def test_versions_never_repeat_across_regenerations() -> None:
    c = TerasliceCluster(clock=FakeClock(), seed=3, jobs=5)
    seen = c.version
    placement = c.placement_version
    c.regenerate()
    assert c.version > seen and c.placement_version > placement
