"""py-consul 1.8, unmodified, against the mesh's registry API: register, discover, TTL, blocking queries."""

import threading
import time

import consul
import pytest
import requests

from mocktools.mesh import MockServiceMesh

SPEC = {"services": {"web": {"instances": 2, "tags": ["edge"], "calls": ["db:/q"]},
                     "db": {"endpoints": {"/q": {"response": {"rows": 1}}}}}}


@pytest.fixture(scope="module")
def mesh():
    with MockServiceMesh(SPEC) as m:
        yield m


@pytest.fixture()
def c(mesh):
    mesh.reset()
    client = consul.Consul(host="127.0.0.1", port=mesh.port)
    yield client
    client.http.close()


def test_mesh_instances_visible_to_py_consul(mesh, c):
    services = c.agent.services()
    assert {s["Service"] for s in services.values()} == {"web", "db"}
    web = [s for s in services.values() if s["Service"] == "web"]
    assert len(web) == 2 and all(s["Tags"] == ["edge"] and s["Port"] > 0 for s in web)
    index, catalog = c.catalog.services()
    assert catalog == {"consul": [], "db": [], "web": ["edge"]} and int(index) > 0
    index, nodes = c.health.service("web", passing=True)
    assert sorted(n["Service"]["Port"] for n in nodes) == sorted(i.port for i in mesh.instances["web"])
    assert nodes[0]["Checks"][0]["CheckID"] == "serfHealth" and nodes[0]["Node"]["Node"] == "mesh-node"


def test_register_ttl_discover_deregister(mesh, c):
    assert c.agent.service.register("pay", service_id="pay-1", address="10.0.0.1", port=8080, tags=["v1"],
                                    meta={"zone": "a"}, check=consul.Check.ttl("10s"))
    assert c.agent.services()["pay-1"]["Meta"] == {"zone": "a"}
    assert c.agent.checks()["service:pay-1"]["Status"] == "critical"
    _, passing = c.health.service("pay", passing=True)
    assert passing == []
    assert c.agent.check.ttl_pass("service:pay-1", "all good")
    _, passing = c.health.service("pay", passing=True)
    assert [p["Service"]["ID"] for p in passing] == ["pay-1"]
    assert passing[0]["Checks"][1]["Output"] == "all good"
    index, entries = c.catalog.service("pay", tag="v1")
    assert entries[0]["ServiceAddress"] == "10.0.0.1" and entries[0]["ServicePort"] == 8080
    assert c.catalog.service("pay", tag="v2")[1] == []
    assert c.agent.check.ttl_warn("service:pay-1")
    assert c.health.service("pay", passing=True)[1] == []
    assert c.agent.service.deregister("pay-1")
    assert "pay-1" not in c.agent.services()
    assert c.agent.service.deregister("never-there")  # Consul: a no-op 200


def test_agent_checks_and_maintenance(mesh, c):
    c.agent.service.register("job", service_id="job-1", check=consul.Check.ttl("5s"))
    assert c.agent.check.register("disk", check=consul.Check.ttl("30s"), service_id="job-1")
    assert c.agent.check.ttl_pass("disk") and c.agent.check.ttl_pass("service:job-1")
    r = requests.get(f"{mesh.url}/v1/agent/health/service/name/job")
    assert r.status_code == 200 and r.json()[0]["AggregatedStatus"] == "passing"
    assert c.agent.service.maintenance("job-1", True, "upgrade")
    r = requests.get(f"{mesh.url}/v1/agent/health/service/name/job?format=text")
    assert r.status_code == 503 and r.text == "maintenance"
    assert c.agent.service.maintenance("job-1", False)
    assert c.agent.check.deregister("disk")
    _, checks = c.health.checks("job")
    assert [ch["CheckID"] for ch in checks] == ["service:job-1"]
    r = requests.put(f"{mesh.url}/v1/agent/check/update/service:job-1", json={"Status": "warning", "Output": "hm"})
    assert r.status_code == 200
    assert requests.get(f"{mesh.url}/v1/agent/health/service/name/job").status_code == 429
    assert requests.get(f"{mesh.url}/v1/agent/health/service/name/nope").status_code == 404
    _, warn = c.health.state("warning")
    assert [w["CheckID"] for w in warn] == ["service:job-1"]
    assert c.agent.self()["Config"]["Datacenter"] == "dc1" and c.agent.members()[0]["Name"] == "mesh-node"
    assert c.status.leader() == "127.0.0.1:8300"
    assert c.catalog.nodes()[1][0]["Node"] == "mesh-node" and c.catalog.datacenters() == ["dc1"]


def test_ttl_expiry_on_the_mesh_clock():
    from mocktools.clock import FakeClock

    clock = FakeClock()
    with MockServiceMesh(clock=clock) as m:
        cl = consul.Consul(port=m.port)
        cl.agent.service.register("w", check=consul.Check.ttl("15s"))
        cl.agent.check.ttl_pass("service:w")
        assert len(cl.health.service("w", passing=True)[1]) == 1
        clock.advance(16)
        assert cl.health.service("w", passing=True)[1] == []
        assert "TTL expired" in cl.agent.checks()["service:w"]["Output"]


def test_blocking_query_wakes_on_registration(mesh, c):
    index, _ = c.health.service("late", passing=True)
    result = {}

    def block():
        t0 = time.perf_counter()
        result["reply"] = c.health.service("late", index=index, wait="5m", passing=True)
        result["took"] = time.perf_counter() - t0

    t = threading.Thread(target=block)
    t.start()
    mesh.registry.wait_for_waiters(1)
    assert t.is_alive()
    c.agent.service.register("late", service_id="late-1", port=1)  # no check: passing at once
    t.join(30)
    assert not t.is_alive()  # woken by the registration: the query itself would wait 5 minutes
    new_index, nodes = result["reply"]
    assert int(new_index) > int(index) and [n["Service"]["ID"] for n in nodes] == ["late-1"]


def test_blocking_query_times_out_unchanged(mesh, c):
    index, services = c.catalog.services()
    t0 = time.perf_counter()
    again, same = c.catalog.services(index=index, wait="100ms")
    assert again == index and same == services and 0.08 < time.perf_counter() - t0 < 5


def test_scaling_visible_through_discovery(mesh, c):
    index, nodes = c.health.service("db", passing=True)
    assert len(nodes) == 1
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", c.health.service("db", index=index, wait="20s")))
    t.start()
    mesh.registry.wait_for_waiters(1)
    mesh.scale("db", 3)
    t.join(10)
    assert int(result["r"][0]) > int(index)
    assert len(c.health.service("db", passing=True)[1]) == 3
    mesh.scale("db", 1)
    assert len(c.health.service("db", passing=True)[1]) == 1
    assert requests.get(mesh.url_of("web") + "/").status_code == 200


def test_partition_view_through_registry_api(mesh, c):
    ids = [i.instance_id for i in mesh.instances["web"]]
    requests.post(f"{mesh.url}/_mock/mesh/partition", json={"caller": "edge-proxy", "hide": ids[:1]}).raise_for_status()
    seen = requests.get(f"{mesh.url}/v1/health/service/web?caller=edge-proxy").json()
    assert [s["Service"]["ID"] for s in seen] == ids[1:]
    assert len(c.health.service("web")[1]) == 2  # other callers still see both
    requests.delete(f"{mesh.url}/_mock/mesh/partition").raise_for_status()
    assert len(requests.get(f"{mesh.url}/v1/health/service/web?caller=edge-proxy").json()) == 2


def test_stop_wakes_blocking_queries_fast():
    m = MockServiceMesh(SPEC).start()
    cl = consul.Consul(port=m.port)
    index, _ = cl.catalog.services()
    done = threading.Event()

    def block():
        try:
            cl.catalog.services(index=index, wait="5m")
        except Exception:  # noqa: BLE001 - the connection may be closed under it: either way it returns
            pass
        done.set()

    t = threading.Thread(target=block)
    t.start()
    m.registry.wait_for_waiters(1)
    m.stop()
    assert done.wait(30)  # woken by stop(): the query itself would wait 5 minutes
    assert not m.running and all(not i.running for g in m.instances.values() for i in g)
