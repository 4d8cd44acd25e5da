"""API sharp edges: durations as seconds or timedelta, one chaos calling convention, strict mesh specs."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from mocktools import FakeClock, FaultPlan, Journal
from mocktools.clock import to_seconds
from mocktools.mesh import MeshSpec, MockServiceMesh, SpecError
from mocktools.teraslice.model import TerasliceCluster


def test_fake_clock_takes_timedelta_and_says_what_it_wants() -> None:
    clock = FakeClock(start=100.0)
    assert clock.advance(timedelta(minutes=3)) == 280.0 and clock.monotonic() == 180.0
    clock.sleep(timedelta(seconds=1.5))
    assert clock.time() == 281.5
    with pytest.raises(TypeError, match=r"seconds \(int or float\) or a datetime.timedelta, got str"):
        clock.advance("3m")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got bool"):
        to_seconds(True)
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(timedelta(seconds=-1))


def test_teraslice_advance_takes_timedelta() -> None:
    clock = FakeClock()
    cluster = TerasliceCluster(clock=clock, seed=1, jobs=3, nodes=2)
    before = cluster.now()
    assert cluster.advance(timedelta(minutes=3)) == before + 180


def test_fault_and_journal_durations() -> None:
    plan = FaultPlan(FakeClock(), seed=1)
    plan.set_latency(timedelta(milliseconds=250))
    assert plan.decide("/x").latency == 0.25
    plan.set_rate_limit(1, window=timedelta(minutes=1), retry_after=timedelta(seconds=30))
    plan.decide("/y")
    assert plan.decide("/y").retry_after == 30.0
    journal = Journal(10)
    with pytest.raises(TimeoutError):
        journal.wait_for(1, timeout=timedelta(0))


def test_chaos_builders_share_one_convention() -> None:
    clock = FakeClock()
    with MockServiceMesh({"services": {"api": {"calls": ["payments"]}, "payments": {}}}, clock=clock) as mesh:
        latency = mesh.chaos.latency("payments", 0.3)
        errors = mesh.chaos.error_rate("payments", 0.5, start_after=timedelta(seconds=10))
        hang = mesh.chaos.hang("payments", timedelta(seconds=2), duration=timedelta(seconds=5))
        edge = mesh.chaos.latency(edge="api->payments", seconds=timedelta(milliseconds=20))
        outage = mesh.chaos.outage("payments", duration=timedelta(minutes=1))
        assert latency.params["seconds"] == 0.3 and hang.params["seconds"] == 2.0
        assert edge.params["seconds"] == 0.02 and errors.params["rate"] == 0.5
        assert [s["id"] for s in mesh.chaos.scenarios(active=True)] == [latency.id, hang.id, edge.id, outage.id]
        mesh.chaos.clear(latency.id)
        listed = [s["id"] for s in mesh.chaos.scenarios()]
        assert latency.id not in listed and errors.id in listed            # cleared ones leave the list
        assert [s["id"] for s in mesh.chaos.scenarios(include_cleared=True)][0] == latency.id
        assert mesh.chaos.report()["scenarios"][0]["status"] == "cleared"  # ...but stay in the report
        clock.advance(timedelta(seconds=11))
        assert hang.id not in [s["id"] for s in mesh.chaos.scenarios(active=True)]
        assert errors.id in [s["id"] for s in mesh.chaos.scenarios(active=True)]
        over_http = requests.get(f"{mesh.url}/_mock/mesh/chaos?active=true", timeout=5).json()["scenarios"]
        assert [s["id"] for s in over_http] == [s["id"] for s in mesh.chaos.scenarios(active=True)]
        mesh.chaos.clear()


@pytest.mark.parametrize("doc, fragment", [
    ({"services": {"a": {}}, "circuit_breaker": {}}, "unknown key 'circuit_breaker' (did you mean 'breakers'?)"),
    ({"services": {"a": {}}, "defaults": {"instance": 2}}, "defaults: unknown key 'instance'"),
    ({"services": {"a": {"replicas": 2}}}, "service 'a': unknown keys ['replicas']"),
    ({"services": {"a": {"endpoints": {"/": {"latency": 1}}}}}, "a/: unknown endpoint keys ['latency']"),
    ({"services": {"a": {"calls": [{"service": "a", "retries": 1}]}}}, "unknown call keys ['retries']"),
    ({"services": {"a": {}}, "breakers": {"defaults": {}}}, "breakers: unknown keys"),
    ({"services": {"a": {}}, "allow_cycles": "no"}, "allow_cycles must be true or false"),
])
def test_mesh_spec_rejects_unknown_keys_at_every_level(doc: dict, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        MeshSpec.from_dict(doc)
    assert any(fragment in e for e in info.value.errors), info.value.errors
