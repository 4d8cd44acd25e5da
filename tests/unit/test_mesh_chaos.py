"""Breaker registry configuration and chaos decisions, without a socket (the mesh is built, not started)."""

import pytest

from mocktools.clock import FakeClock
from mocktools.mesh import MockServiceMesh
from mocktools.mesh.circuit_breaker import OPEN
from mocktools.mesh.edge_breakers import BreakerRegistry, validate_breaker_doc
from mocktools.mesh.spec import MeshSpec, SpecError


def test_breaker_config_resolution_and_per_endpoint():
    reg = BreakerRegistry(FakeClock(), {"default": {"window_size": 10}, "services": {"db": {"wait_duration": 5}},
                                        "edges": {"api->db": {"half_open_calls": 1}, "api->db/q": {"minimum_calls": 2}}})
    assert reg.config_for("web", "db").wait_duration == 5 and reg.config_for("web", "db").window_size == 10
    assert reg.config_for("api", "db").half_open_calls == 1 and reg.config_for("api", "db").wait_duration == 5
    assert reg.config_for("api", "cache").wait_duration == 60
    assert reg.get("api", "db", "/q") is reg.get("api", "db", "/other")  # not per endpoint: one breaker
    reg.configure({"per_endpoint": True, "edges": {"api->db/q": {"minimum_calls": 2}}})
    assert reg.get("api", "db", "/q").edge == "api->db/q" and reg.get("api", "db", "/q").config.minimum_calls == 2
    assert reg.get("api", "db", "/x").config.minimum_calls == 100
    assert reg.graph_state() == {"edges": {}}  # per-endpoint breakers are not graph edges
    reg.configure(None)
    assert not reg.enabled and reg.breakers() == {}


def test_breaker_registry_events_listeners_reset():
    reg = BreakerRegistry(FakeClock(), {})
    seen = []
    remove = reg.add_listener(seen.append)
    reg.get("a", "b").transition_to_open("x")
    remove()
    remove()
    reg.get("a", "c").transition_to_open("y")
    assert [e.edge for e in seen] == ["a->b"] and reg.opened_order() == ["a->b", "a->c"]
    assert reg.states() == {"a->b": OPEN, "a->c": OPEN} and reg.describe()["events"] == 2
    reg.reset("a->b")
    assert reg["a->b"].state == "CLOSED"
    reg.reset()
    assert reg.breakers() == {} and reg.events == []


@pytest.mark.parametrize("doc", [
    [], {"bogus": 1}, {"default": []}, {"default": {"window": 3}}, {"services": {"db": {"window_size": 0}}},
    {"edges": {"api": {}}}, {"edges": {"a->b": {"failure_rate_threshold": 0}}}, {"services": 3},
])
def test_invalid_breaker_docs(doc):
    assert validate_breaker_doc(doc)
    with pytest.raises(SpecError, match="breakers"):
        MeshSpec.from_dict({"services": {"a": {}}, "breakers": doc})


def test_spec_carries_breakers():
    spec = MeshSpec.from_dict({"services": {"a": {}}, "breakers": {"default": {"window_size": 3}}})
    assert spec.to_dict()["breakers"] == {"default": {"window_size": 3}}
    assert MockServiceMesh(spec).breakers.enabled and not MockServiceMesh({"services": {"a": {}}}).breakers.enabled


def built(seed=1, **services):
    m = MockServiceMesh({"services": services or {"api": {"calls": ["db:/q"]}, "db": {"endpoints": {"/q": {}}}}},
                        clock=FakeClock(), seed=seed)
    for name, svc in m.spec.services.items():  # instances exist (not started) so outages can pick them
        m.instances[name] = [m._new_instance(name) for _ in range(max(svc.instances, 2))]
    return m


def test_seeded_latency_distributions_are_reproducible():
    draws = {}
    for dist, kw in (("uniform", {"low": 1, "high": 2}), ("exponential", {"mean": 0.5}),
                     ("normal", {"mean": 1, "stddev": 0.1})):
        a, b = built(seed=9), built(seed=9)
        for m in (a, b):
            m.chaos.latency(service="db", distribution=dist, **kw)
        xs = [a.chaos.server_fault("db", "db-0")[1] for _ in range(50)]
        assert xs == [b.chaos.server_fault("db", "db-0")[1] for _ in range(50)]
        draws[dist] = xs
    assert all(1 <= x <= 2 for x in draws["uniform"]) and len(set(draws["uniform"])) == 50
    assert min(draws["exponential"]) >= 0 and 0.3 < sum(draws["exponential"]) / 50 < 0.8
    assert 0.9 < sum(draws["normal"]) / 50 < 1.1
    m = built()
    m.chaos.latency(edge="api->db", seconds=0.25)
    m.chaos.latency(edge="api->db", seconds=0.5)  # stacked: delays add up
    assert m.chaos.client_fault("api", "db", "db-0", "/q") == ("latency", 0.75)
    assert m.chaos.client_fault("web", "db", "db-0", "/q") is None


def test_outage_503_partial_hang_and_error_rate_edges():
    m = built(seed=5)
    sc = m.chaos.outage("db", instances=1, mode="503", status=500)
    (down,) = sc.params["instances"]
    up = next(i.instance_id for i in m.instances["db"] if i.instance_id != down)
    assert m.chaos.server_fault("db", down) == ("status", 500) and m.chaos.server_fault("db", up) is None
    m.chaos.clear(sc.id)
    h = m.chaos.hang("db", seconds=120)
    kind, (released, seconds) = m.chaos.server_fault("db", up)
    assert kind == "hang" and seconds == 60 and not released.is_set()
    m.chaos.clear()
    assert released.is_set() and m.chaos.server_fault("db", up) is None and not m.chaos.active
    assert h.status(0) == "cleared"
    m.chaos.error_rate(edge="api->db", rate=1.0, status=429)
    assert m.chaos.client_fault("api", "db", up, "/q") == ("status", 429)
    m.chaos.error_rate(service="db", rate=0.0)
    assert m.chaos.server_fault("db", up) is None
    with pytest.raises(KeyError):
        m.chaos.clear("chaos-99")


def test_scheduled_hang_released_when_it_expires():
    m = built()
    sc = m.chaos.hang("db", start_after=1, duration=2)
    assert m.chaos.server_fault("db", "x") is None
    m.clock.advance(1)
    assert m.chaos.server_fault("db", "x")[0] == "hang"
    m.clock.advance(2)
    assert m.chaos.server_fault("db", "x") is None and sc.released.is_set()


@pytest.mark.parametrize("call", [
    lambda c: c.outage("db", mode="explode"), lambda c: c.outage("ghost"),
    lambda c: c.partition(["api"], ["ghost"]), lambda c: c.partition(["api"], ["db"], mode="drop"),
    lambda c: c.latency(service="db", distribution="pareto"), lambda c: c.latency(), lambda c: c.latency(edge="ab"),
    lambda c: c.error_rate(service="db", rate=2), lambda c: c.error_rate(service="db", status=200),
    lambda c: c.hang("db", start_after=-1), lambda c: c.hang("db", duration=0), lambda c: c.add({"kind": "flood"}),
])
def test_invalid_scenarios(call):
    with pytest.raises((ValueError, KeyError)):
        call(built().chaos)


def test_add_from_documents_and_report_targets():
    m = built()
    m.chaos.add({"kind": "outage", "service": "db", "mode": "503"})
    m.chaos.add({"kind": "partition", "a": ["api"], "b": ["db"], "direction": "a->b", "discovery": False})
    m.chaos.add({"kind": "latency", "edge": "api->db", "seconds": 0.1})
    m.chaos.add({"kind": "error_rate", "service": "api", "rate": 0.5})
    m.chaos.add({"kind": "hang", "service": "db", "seconds": 1})
    assert [s["kind"] for s in m.chaos.scenarios()] == ["outage", "partition", "latency", "error_rate", "hang"]
    report = m.chaos.report()
    assert report["targets"] == ["api", "db"] and report["seed"] == 1 and report["failed_calls"] == []
    m.chaos.reset()
    assert m.chaos.scenarios() == [] and m.chaos.outage("db").id == "chaos-1"
