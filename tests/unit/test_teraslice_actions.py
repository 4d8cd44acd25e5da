"""Job and execution actions of the simulated master: valid transitions only, real errors."""
from __future__ import annotations

import pytest

from mocktools.clock import FakeClock
from mocktools.teraslice import ActionError, TerasliceCluster
from mocktools.teraslice.render import ex_record, job_record, with_ex_fields

OPS = [{"_op": "elasticsearch_reader"}, {"_op": "noop"}]


@pytest.fixture
def c() -> TerasliceCluster:
    return TerasliceCluster(clock=FakeClock(), seed=5, jobs=0, lifecycle_events=False)


def err(fn, *args) -> ActionError:
    with pytest.raises(ActionError) as info:
        fn(*args)
    return info.value


def test_submit_job_fills_defaults_and_validates(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    job = c.jobs[out["job_id"]]
    rec = job_record(job)
    assert rec["workers"] == 10 and rec["lifecycle"] == "once" and rec["_context"] == "job"
    assert c.executions[out["ex_id"]].status == "pending"
    stored = c.submit_job({"name": "b", "operations": OPS}, start=False)
    assert set(stored) == {"job_id"} and not c.jobs[stored["job_id"]].executions
    assert err(c.submit_job, {"name": "x"}).status == 400
    assert err(c.submit_job, {"operations": OPS, "job_id": "x"}).status == 422
    assert err(c.submit_job, {"operations": [1, 2]}).status == 400
    assert err(c.submit_job, {"operations": OPS, "workers": 0}).status == 400
    assert err(c.submit_job, {"operations": OPS, "workers": True}).status == 400


def test_start_refuses_a_running_job_and_unknown_or_deleted_jobs(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    e = err(c.start_job, out["job_id"])
    assert e.status == 409 and "currently running" in e.message
    assert err(c.start_job, "nope").status == 404
    c.stop(out["ex_id"], force=True)
    again = c.start_job(out["job_id"])
    assert again["ex_id"] != out["ex_id"]
    c.stop(again["ex_id"], force=True)
    deleted = c.delete_job(out["job_id"])
    assert deleted["_deleted"] is True and deleted["active"] is False
    assert all(ex.deleted for ex in c.jobs[out["job_id"]].executions)
    assert err(c.start_job, out["job_id"]).status == 404
    assert err(c.delete_job, out["job_id"]).status == 404
    assert err(c.update_job, out["job_id"], {"name": "z"}).status == 404
    assert err(c.set_job_active, out["job_id"], True).status == 404
    assert err(c.recover_job, out["job_id"], None).status == 404


def test_delete_refuses_a_running_job(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    assert err(c.delete_job, out["job_id"]).status == 409


def test_pause_resume_need_a_controller_and_a_living_execution(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    ex_id = out["ex_id"]
    e = err(c.pause, ex_id)
    assert e.status == 500 and "not available to pause" in e.message
    c.advance(13)
    assert c.pause(ex_id) == {"status": "paused"}
    assert c.resume(ex_id) == {"status": "running"}
    c.stop(ex_id)
    e = err(c.pause, ex_id)
    assert e.status == 422 and "Unable to set execution" in e.message
    c.advance(61)
    e = err(c.resume, ex_id)
    assert e.status == 404 and "no active execution context" in e.message
    assert err(c.pause, "nope").status == 404


def test_stop_is_idempotent_and_force_stops_at_once(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    ex_id = out["ex_id"]
    assert c.stop(ex_id) == "stopping"
    assert c.stop(ex_id) == "stopping"
    assert c.stop(ex_id, force=True) == "stopped"
    assert c.stop(ex_id) == "stopped"
    assert ex_record(c.executions[ex_id])["_slicer_stats"] == {}
    assert err(c.stop, "nope").status == 404


def test_recover_creates_a_recovering_execution(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    assert err(c.recover_job, out["job_id"], None).status == 409
    assert err(c.recover_job, out["job_id"], "bogus").status == 400
    c.stop(out["ex_id"], force=True)
    rec = c.recover_job(out["job_id"], "errors")
    ex = c.executions[rec["ex_id"]]
    assert ex.recovered_execution == out["ex_id"] and ex.recovered_slice_type == "errors"
    c.advance(13)
    assert ex.status == "recovering"
    c.advance(181)
    assert ex.status == "running"
    c.stop(ex.ex_id, force=True)
    again = c.recover_execution(ex.ex_id, None)
    assert c.executions[again["ex_id"]].recovered_execution == ex.ex_id
    assert err(c.recover_execution, "nope", None).status == 404
    never = c.submit_job({"name": "b", "operations": OPS}, start=False)
    assert err(c.recover_job, never["job_id"], None).status == 404


def test_autorecover_job_starts_by_recovering(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS, "autorecover": True}, start=False)
    first = c.start_job(out["job_id"])
    assert c.executions[first["ex_id"]].recovered_execution is None
    c.stop(first["ex_id"], force=True)
    second = c.start_job(out["job_id"])
    ex = c.executions[second["ex_id"]]
    assert ex.recovered_execution == first["ex_id"] and ex.recovered_slice_type == "pending"


def test_change_workers_keeps_counters_monotonic(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS, "workers": 4})
    ex = c.executions[out["ex_id"]]
    c.advance(100)
    before = ex.processed(c.now())
    msg = c.change_workers(ex.ex_id, "add", 3)
    assert msg["message"] == f"3 workers have been added for execution: {ex.ex_id}"
    assert ex.workers == 7
    c.change_workers(ex.ex_id, "remove", 10)
    assert ex.workers == 1
    assert ex.processed(c.now()) >= before
    c.change_workers(ex.ex_id, "total", 5)
    assert ex.workers == 5 and ex.workers_joined() <= 5
    c.stop(ex.ex_id, force=True)
    assert err(c.change_workers, ex.ex_id, "add", 1).status == 404


def test_log_level_settings(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    assert err(c.set_log_level, out["ex_id"], "loud").status == 400
    assert err(c.set_log_level, out["ex_id"], "debug").status == 404
    c.advance(13)
    assert c.set_log_level(out["ex_id"], "debug") == {"exId": out["ex_id"], "level": "debug"}


def test_update_and_active_flags(c: TerasliceCluster) -> None:
    out = c.submit_job({"name": "a", "operations": OPS})
    rec = c.update_job(out["job_id"], {"name": "renamed", "operations": OPS, "active": False})
    assert rec["name"] == "renamed" and rec["active"] is False
    assert err(c.update_job, out["job_id"], {}).status == 400
    assert err(c.update_job, out["job_id"], {"job_id": "other"}).status == 406
    assert c.set_job_active(out["job_id"], True)["active"] is True
    assert err(c.job, "nope").status == 404
    assert err(c.latest_execution, "nope").message == "No execution was found for job nope"
    job = c.jobs[out["job_id"]]
    assert with_ex_fields(job, ["_status", "nope"])["ex"] == {"_status": "pending"}
    stored = c.submit_job({"name": "b", "operations": OPS}, start=False)
    assert with_ex_fields(c.jobs[stored["job_id"]], ["_status"])["ex"] == {}
