"""Mesh II through real HTTP: edge breakers, chaos scenarios, cascades, reproducibility, controls."""

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import consul
import pybreaker
import pytest
import requests

from mocktools.clock import FakeClock
from mocktools.mesh import MockServiceMesh
from mocktools.mesh.circuit_breaker import CLOSED, HALF_OPEN, OPEN
from tests.integration.mesh_paths import mesh_on

FAST = {"window_size": 4, "minimum_calls": 4, "failure_rate_threshold": 50, "wait_duration": 30,
        "half_open_calls": 1}


def chain(breakers=None, **extra):
    return {"services": {"api": {"calls": ["db:/q"]}, "db": {"instances": 2, "endpoints": {"/q": {}}}, **extra},
            **({"breakers": breakers} if breakers is not None else {})}


def get(m, service, path="/"):
    return requests.get(m.url_of(service) + path, timeout=10)


def db_calls(m):
    return sum(i.get_call_count("/q") for i in m.instances["db"])


def test_breaker_opens_on_leaf_outage_fails_fast_and_recovers_on_the_clock():
    clock = FakeClock()
    with MockServiceMesh(chain({"default": FAST}), clock=clock) as m:
        opened = []
        m.breakers.add_listener(opened.append)
        m.chaos.outage("db", mode="503")
        assert [get(m, "api").status_code for _ in range(4)] == [502] * 4
        b = m.breakers["api->db"]
        assert b.state == OPEN and opened[0].to_state == OPEN and "failure rate 100.0%" in opened[0].reason
        before = db_calls(m)
        r = get(m, "api")
        call = r.json()["calls"][0]
        assert r.status_code == 502 and call["short_circuited"] and call["error"] == "circuit breaker api->db is OPEN"
        assert db_calls(m) == before  # the callee was not touched
        m.chaos.clear()
        clock.advance(29)
        assert get(m, "api").json()["calls"][0]["short_circuited"]
        clock.advance(1)
        r = get(m, "api")
        assert r.status_code == 200 and b.state == CLOSED and db_calls(m) == before + 1
        assert [(e.from_state, e.to_state) for e in m.breakers.edge_events("api->db")] == [
            (CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
        assert m.graph.to_dict()["edges"][0]["state"] == CLOSED


@pytest.mark.timeout(30)
def test_half_open_probe_limit_under_concurrent_load():
    clock = FakeClock()
    with MockServiceMesh(chain({"default": {**FAST, "half_open_calls": 2}}), clock=clock) as m:
        m.breakers.get("api", "db", "/q").transition_to_open("test")
        clock.advance(30)
        m.chaos.hang("db")  # the two trial calls stall until every other request was decided
        before = db_calls(m)
        with ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(lambda: get(m, "api").json()["calls"][0]) for _ in range(10)]
            rejected = []
            for f in as_completed(futures):
                rejected.append(f.result())
                if len(rejected) == 8:
                    m.chaos.clear()  # release the trials
        assert db_calls(m) - before == 2
        assert sum(1 for r in rejected if r.get("short_circuited")) == 8
        assert m.breakers["api->db"].state == CLOSED


def test_partition_during_discovery_and_heal():
    spec = chain(web={"calls": ["db:/q"]})
    with MockServiceMesh(spec) as m:
        c = consul.Consul(port=m.port)
        sc = m.chaos.partition(["api"], ["db"], direction="a->b")
        seen = requests.get(f"{m.url}/v1/health/service/db?caller=api").json()
        assert seen == [] and len(c.health.service("db")[1]) == 2  # only api's view changed
        r = get(m, "api")
        assert r.status_code == 502 and r.json()["calls"][0]["error"] == "no healthy instance of db"
        assert get(m, "web").status_code == 200  # the rest of the mesh still reaches db
        m.chaos.clear(sc.id)
        assert get(m, "api").status_code == 200
        m.chaos.partition(["api"], ["db"], discovery=False, mode="refuse")
        call = get(m, "api").json()["calls"][0]
        assert "refused" in call["error"] and "network partition" in call["error"] and call["attempts"] == 2
        m.chaos.clear()
        m.chaos.partition(["api"], ["db"], discovery=False, mode="timeout")
        m.set_endpoint("api", "/", latency=0)
        m.spec.services["api"].endpoints["/"].calls[0].timeout = 0.05
        assert get(m, "api").json()["calls"][0]["status"] == 504
        report = m.chaos.report()
        assert report["targets"] == ["api", "db"] and report["upstream_impact"] == ["web"]


def test_partition_scheduled_on_the_mesh_clock():
    clock = FakeClock()
    with MockServiceMesh(chain(), clock=clock) as m:
        sc = m.chaos.partition(["api"], ["db"], start_after=10, duration=5)
        assert get(m, "api").status_code == 200 and m.chaos.scenarios()[0]["status"] == "pending"
        clock.advance(10)
        assert get(m, "api").status_code == 502 and m.chaos.scenarios()[0]["status"] == "active"
        clock.advance(5)
        assert get(m, "api").status_code == 200 and m.chaos.scenarios()[0]["status"] == "expired"
        assert sc.injections == 0 and m.registry.hidden() == {}


def _cascade(breakers):
    spec = {"services": {
        # edge gives up on mid long before mid gives up on the hung leaf, and both margins are
        # seconds, so a loaded machine cannot reorder them
        "edge": {"calls": [{"service": "mid", "timeout_ms": 1500}]},
        "mid": {"calls": [{"service": "leaf", "optional": True, "timeout_ms": 3000}]},
        "leaf": {}}}
    if breakers:
        spec["breakers"] = {"edges": {"mid->leaf": {"window_size": 2, "minimum_calls": 2, "wait_duration": 600}}}
    return spec


@pytest.mark.timeout(30)
@pytest.mark.parametrize("with_breaker", [True, False])
def test_cascade_contained_by_breaker_or_not(with_breaker):
    with MockServiceMesh(_cascade(with_breaker)) as m:
        opened = threading.Event()
        m.breakers.add_listener(lambda e: opened.set() if e.to_state == OPEN else None)
        m.chaos.hang("leaf", seconds=60)
        first = [get(m, "edge").status_code for _ in range(2)]
        assert first == [502, 502]  # mid waits 3 s on leaf; edge gives up at 1.5 s
        if with_breaker:
            assert opened.wait(20)
            r = get(m, "edge")
            assert r.status_code == 200 and r.json()["calls"][0]["body"]["degraded"] is True
            assert m.chaos.report()["breakers_opened"] == ["mid->leaf"]
        else:
            assert get(m, "edge").status_code == 502
        report = m.chaos.report()
        assert report["upstream_impact"] == ["edge", "mid"] and report["targets"] == ["leaf"]
        assert "edge" in report["affected_services"]
        assert any(f["callee"] == "mid" and f["status"] == 504 for f in report["failed_calls"])
        m.chaos.clear()


def _statuses(seed, n=24, path="loop"):
    with mesh_on(path, chain(), seed=seed) as m:
        m.chaos.error_rate(service="db", rate=0.5)
        m.chaos.latency(edge="api->db", distribution="uniform", low=0, high=0.002)
        out = [get(m, "api").status_code for _ in range(n)]
        injected = [s["injections"] for s in m.chaos.scenarios()]
        return out, injected


def test_same_seed_same_failures():
    a, b, c = _statuses(42), _statuses(42), _statuses(7)
    assert a == b and 200 in a[0] and 502 in a[0]
    assert a[0] != c[0]
    assert a[1][1] == 24  # every call over the edge got its (seeded) latency
    assert _statuses(42, path="thread") == a  # the blocking executor draws and fails the same


def _call_results(path, scenario, timeout_ms):
    """Every kind of client chaos and failure over both hop paths: the results, minus trace ids.
    A call that must succeed gets a generous timeout (a hop on a loaded machine may take tens of
    ms); the scenarios that time out use 30 ms and make every call time out (deterministic)."""
    spec = {"services": {"api": {"calls": [{"service": "db", "endpoint": "/q", "timeout_ms": timeout_ms}]},
                         "db": {"instances": 2, "endpoints": {"/q": {}}}}}
    with mesh_on(path, spec, seed=5) as m:
        scenario(m)
        out = []
        for _ in range(4):
            r = get(m, "api")
            calls = [{k: v for k, v in c.items() if k != "body"} for c in r.json()["calls"]]
            out.append((r.status_code, calls))
        return out


def _both_slow(m):
    for instance in m.instances["db"]:
        instance.set_latency(1.0)  # past the call's 30 ms: a 504


@pytest.mark.parametrize("scenario, timeout_ms", [
    (lambda m: m.chaos.outage("db", mode="refuse"), 5000),
    (lambda m: m.chaos.outage("db", instances=1, mode="refuse"), 5000),
    (lambda m: m.chaos.outage("db", instances=1, mode="503"), 5000),
    (lambda m: m.chaos.error_rate(edge="api->db", rate=1.0, status=429), 5000),
    (lambda m: m.chaos.latency(edge="api->db", distribution="fixed", seconds=0.001), 5000),
    (lambda m: m.chaos.partition(["api"], ["db"]), 5000),
    (lambda m: m.chaos.partition(["api"], ["db"], mode="timeout", discovery=False), 30),
    (lambda m: m.instances["db"][0].set_connection_fault("reset"), 5000),
    (_both_slow, 30),
], ids=["refuse-all", "refuse-one", "503-one", "edge-429", "edge-latency", "partition", "partition-timeout",
         "reset", "timeout"])
def test_both_hop_paths_give_the_same_results(scenario, timeout_ms):
    expected = _call_results("thread", scenario, timeout_ms)
    assert _call_results("loop", scenario, timeout_ms) == expected
    assert _call_results("own-loop", scenario, timeout_ms) == expected


def test_outage_modes_and_stacking():
    with MockServiceMesh(chain(web={"calls": ["db:/q"]}, cache={"instances": 2}), seed=3) as m:
        ids = [i.instance_id for i in m.instances["db"]]
        sc = m.chaos.outage("db", instances=1, mode="stop")
        (down,) = sc.params["instances"]
        assert not m.instance(down).running
        for _ in range(4):  # the surviving instance answers; callers fail over from the refused one
            assert get(m, "api").status_code == 200
        m.chaos.outage("cache", mode="refuse")  # stacked with the first, simultaneous
        m.add_dependency("web", "cache")
        assert get(m, "web").json()["calls"][1]["error"].startswith("connection to cache-")
        assert len(m.chaos.scenarios()) == 2
        m.chaos.clear()
        assert m.instance(down).running and sorted(e.id for e in m.discover("db")) == sorted(ids)
        assert get(m, "web").status_code == 200
        with pytest.raises(ValueError):
            m.chaos.outage("db", mode="stop", duration=5)
        with pytest.raises(ValueError):
            m.chaos.outage("db", instances=["nope"])


def test_client_side_breaker_pybreaker_against_the_mesh():
    with MockServiceMesh(chain()) as m:
        cb = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=60)

        def call():
            r = get(m, "api")
            r.raise_for_status()
            return r

        m.chaos.outage("db", mode="503")
        for _ in range(2):
            with pytest.raises(requests.HTTPError):
                cb.call(call)
        with pytest.raises(pybreaker.CircuitBreakerError):
            cb.call(call)
        assert cb.current_state == "open"


def test_flapping_detected_from_event_log():
    clock = FakeClock()
    with MockServiceMesh(chain({"default": {**FAST, "wait_duration": 1}}), clock=clock) as m:
        for _ in range(3):
            m.chaos.outage("db", mode="503")
            for _ in range(4):
                get(m, "api")
            m.chaos.clear()
            clock.advance(1)
            get(m, "api")  # half-open trial succeeds: closed again
        assert [e.to_state for e in m.breakers.edge_events()].count(OPEN) == 3
        assert m.breakers.flapping(window=10, opens=3) == ["api->db"]
        assert m.breakers.flapping(window=0.5, opens=3) == []


def test_resilience_http_controls():
    with MockServiceMesh(chain({"default": FAST})) as m:
        base = f"{m.url}/_mock/mesh"
        get(m, "api")
        assert requests.get(f"{base}/breakers").json()["breakers"]["api->db"]["state"] == CLOSED
        assert requests.post(f"{base}/breakers/api->db/force-open").json()["state"] == "FORCED_OPEN"
        assert get(m, "api").json()["calls"][0]["breaker"] == "FORCED_OPEN"
        assert requests.post(f"{base}/breakers/api->db/reset").json()["state"] == CLOSED
        assert requests.post(f"{base}/breakers/api->db/disable").json()["state"] == "DISABLED"
        assert requests.post(f"{base}/breakers/x->y/reset").status_code == 404
        ev = requests.get(f"{base}/breakers/events").json()
        assert [e["to"] for e in ev["events"]] == ["FORCED_OPEN", CLOSED, "DISABLED"]
        assert requests.put(f"{base}/breakers/config", json={"bogus": 1}).status_code == 400
        assert requests.put(f"{base}/breakers/config", json={"default": {"wait_duration": 5}}).json()["enabled"]
        r = requests.post(f"{base}/chaos", json={"kind": "error_rate", "service": "db", "rate": 1.0, "status": 500})
        assert r.status_code == 200 and r.json()["scenario"]["id"] == "chaos-1"
        assert get(m, "api").status_code == 502
        assert requests.post(f"{base}/chaos", json={"kind": "meteor"}).status_code == 400
        assert requests.post(f"{base}/chaos", json={"kind": "latency", "service": "db", "edge": "a->b"}).status_code == 422
        assert requests.post(f"{base}/chaos", json={"kind": "outage", "service": "ghost"}).status_code == 422
        assert requests.post(f"{base}/chaos", json={"kind": "partition", "a": ["api"], "b": ["db"],
                                                    "direction": "sideways"}).status_code == 400
        assert len(requests.get(f"{base}/chaos").json()["scenarios"]) == 1
        report = requests.get(f"{base}/chaos/report").json()
        assert report["failed_calls"][0]["short_circuited"] and report["failed_calls"][-1]["status"] == 500
        assert report["targets"] == ["db"]
        assert requests.delete(f"{base}/chaos?id=chaos-9").status_code == 404
        assert requests.delete(f"{base}/chaos").json()["scenarios"][0]["status"] == "cleared"
        assert get(m, "api").status_code == 200
        assert "FORCED_OPEN" not in requests.get(f"{base}/graph?format=dot").text
