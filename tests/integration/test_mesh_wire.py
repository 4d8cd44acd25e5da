"""Cycles and the hop limit, bad input on both APIs, run-time topology changes, /_mock/mesh controls."""

import pytest
import requests

from mocktools.mesh import MeshSpec, MockServiceMesh, ServiceSpec
from mocktools.mesh.instance import HOP_HEADER
from mocktools.mesh.spec import SpecError
from mocktools.otlp import MockOTLPCollector

CYCLE = {"hop_limit": 6, "services": {
    "a": {"calls": ["b"]}, "b": {"calls": ["c"]}, "c": {"calls": ["a"]},
    "entry": {"endpoints": {"/": {"calls": ["a"]}, "/slow": {"latency_ms": 1, "response": {"slow": True}},
                            "/soft": {"calls": [{"service": "a", "optional": True}]}}}}}


@pytest.fixture(scope="module")
def mesh():
    with MockServiceMesh(CYCLE) as m:
        yield m


def test_cycle_reported_by_name(mesh):
    assert mesh.graph.find_cycles() == [["a", "b", "c"]]
    assert mesh.describe_state()["cycles"] == [["a", "b", "c"]]
    assert mesh.graph.upstream_impact("b") == {"a", "b", "c", "entry"} - {"b"} | {"b"} - {"b"}
    with pytest.raises(SpecError, match="circular dependency: a -> b -> c -> a"):
        MockServiceMesh({**CYCLE, "allow_cycles": False})


def test_hop_limit_stops_recursion_with_clear_error(mesh):
    r = requests.get(mesh.url_of("entry") + "/", timeout=10)
    assert r.status_code == 502
    body = r.json()
    depth, node = 0, body
    while node.get("calls") and "body" in node["calls"][0]:
        node = node["calls"][0]["body"]
        depth += 1
    assert node["error"]["type"] == "hop_limit_exceeded" and node["error"]["code"] == 508
    assert "hop limit 6" in node["error"]["message"] and depth == 6
    spans = mesh.spans.spans(body["trace_id"], kind="server")
    assert len(spans) == 7 and max(s.attributes["mesh.hops"] for s in spans) == 6
    soft = requests.get(mesh.url_of("entry") + "/soft", timeout=10)
    assert soft.status_code == 200 and soft.json()["degraded"] is True  # optional call: degraded, not failed


@pytest.mark.parametrize("value", ["-1", "x", "1.5"])
def test_bad_hop_header(mesh, value):
    r = requests.get(mesh.url_of("a") + "/", headers={HOP_HEADER: value})
    assert r.status_code == 400 and r.json()["error"]["type"] == "bad_hop_header"


def test_unknown_endpoint_and_oversized_body(mesh):
    inst = mesh.instances["entry"][0]
    before = inst.get_call_count()
    r = requests.get(inst.url + "/nope")
    assert r.status_code == 404 and r.json()["error"]["type"] == "unknown_endpoint"
    r = requests.post(inst.url + "/slow", data=b"x" * (inst.max_body_bytes + 1))
    assert r.status_code == 413
    assert requests.get(inst.url + "/slow").json()["response"] == {"slow": True}
    assert inst.get_call_count() == before + 3


@pytest.mark.parametrize("body, message", [
    (b"{", "Request decode failed"), (b"", "empty body"), (b'{"Port": 1}', "Missing service name"),
    (b'{"Name": "x", "Port": "80"}', "port"), (b'{"Name": "x", "Check": {"TTL": "soon"}}', "duration"),
    (b'{"Name": "x", "Tags": "a,b"}', "Tags"), (b"[1, 2]", "JSON object"), (b'{"Name": ' + b"[" * 5000, "decode"),
])
def test_malformed_registrations_get_400_and_registry_keeps_serving(mesh, body, message):
    before = mesh.registry.describe()["services"]
    r = requests.put(f"{mesh.url}/v1/agent/service/register", data=body)
    assert r.status_code == 400 and message in r.text
    assert mesh.registry.describe()["services"] == before
    assert requests.get(f"{mesh.url}/v1/catalog/services").status_code == 200
    assert [c.status for c in mesh.calls[-2:]] == [400, 200]  # journal intact


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/v1/health/service/a?index=abc", 400), ("GET", "/v1/health/service/a?index=1&wait=forever", 400),
    ("GET", "/v1/catalog/services?filter=Service%20==%20a", 400), ("PUT", "/v1/agent/check/pass/ghost", 404),
    ("PUT", "/v1/agent/check/deregister/ghost", 404), ("PUT", "/v1/agent/service/maintenance/ghost?enable=1", 404),
    ("PUT", "/v1/agent/service/maintenance/a-0", 400), ("GET", "/v1/agent/service/ghost", 404),
    ("GET", "/v1/health/state/sunny", 400), ("PUT", "/v1/agent/check/update/ghost", 400),
    ("GET", "/v1/agent/services/extra", 404), ("DELETE", "/v1/agent/services", 405),
])
def test_registry_api_errors(mesh, method, path, status):
    assert requests.request(method, mesh.url + path).status_code == status


def test_check_update_validation(mesh):
    mesh.registry.register({"name": "u", "check": {"ttl": "1m"}})
    url = f"{mesh.url}/v1/agent/check/update/service:u"
    assert requests.put(url, json={"Status": "fine"}).status_code == 400
    assert requests.put(url, json={"Status": "passing", "Output": 5}).status_code == 400
    assert requests.put(url, json=[1]).status_code == 400
    assert requests.put(url, json={"status": "passing", "output": "ok"}).status_code == 200
    agent = requests.get(f"{mesh.url}/v1/agent/service/u")
    assert agent.json()["ID"] == "u" and agent.headers["X-Consul-ContentHash"]
    mesh.registry.deregister("u")


def test_runtime_topology_changes():
    with MockServiceMesh({"services": {"front": {}, "back": {"endpoints": {"/x": {"response": 1}}}}}) as m:
        assert requests.get(m.url_of("front") + "/").json()["calls"] == []
        m.add_dependency("front", "back", target="/x")
        r = requests.get(m.url_of("front") + "/").json()
        assert r["calls"][0]["body"]["response"] == 1 and m.graph.dependencies("front") == {"back"}
        m.add_service(ServiceSpec("extra", 2))
        assert len(m.discover("extra")) == 2
        m.add_dependency("back", "extra", endpoint="/x", mode="async")
        m.set_endpoint("back", "/x", status=201, response={"v": 2})
        r = requests.get(m.url_of("front") + "/").json()
        assert r["calls"][0]["status"] == 201 and r["calls"][0]["body"]["calls"][0]["mode"] == "async"
        m.remove_dependency("front", "back")
        assert requests.get(m.url_of("front") + "/").json()["calls"] == []
        m.add_dependency("front", "extra")
        m.remove_service("extra")
        r = requests.get(m.url_of("front") + "/")
        assert r.status_code == 502 and r.json()["calls"][0]["error"] == "no healthy instance of extra"
        assert "extra" not in m.graph.services
        for bad in (lambda: m.add_service(ServiceSpec("front")), lambda: m.add_dependency("front", "ghost"),
                    lambda: m.add_dependency("front", "back", target="/nope"),
                    lambda: m.add_dependency("front", "back", target="/x", mode="later"),
                    lambda: m.set_endpoint("back", "/x", colour="red"), lambda: m.scale("back", 99),
                    lambda: m.instance("ghost"), lambda: m.set_instance_health("back-1", "sunny")):
            with pytest.raises((KeyError, ValueError)):
                bad()
        with pytest.raises(SpecError):
            m.add_service(ServiceSpec("broken", endpoints={"/": __import__("mocktools.mesh.spec", fromlist=["x"])
                                                           .EndpointSpec("/", calls=[])}, instances=-1))


def test_mesh_from_yaml_file_and_python(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("services:\n  a: {instances: 1}\n")
    m = MockServiceMesh(str(p))
    assert set(m.spec.services) == {"a"} and not m.running
    m.scale("a", 2)  # not running: only the declaration changes
    with m:
        assert len(m.instances["a"]) == 2
    spec = MeshSpec("py").add(ServiceSpec("only"))
    with MockServiceMesh(spec) as m2:
        assert m2.request("only").status_code == 200
        m2.scale("only", 0)
        with pytest.raises(LookupError):
            m2.request("only")
        with pytest.raises(KeyError):
            m2.url_of("only")
    with MockServiceMesh() as empty:
        assert empty.describe_state()["services"] == {}


def test_mock_mesh_admin_routes(mesh):
    base = f"{mesh.url}/_mock/mesh"
    graph = requests.get(f"{base}/graph").json()
    assert {n["id"] for n in graph["nodes"]} == {"a", "b", "c", "entry"} and graph["cycles"] == [["a", "b", "c"]]
    assert requests.get(f"{base}/graph?format=dot").text.startswith("digraph")
    assert requests.get(f"{base}/graph?format=mermaid").text.startswith("flowchart")
    assert requests.get(f"{base}/graph?format=png").status_code == 400
    tid = requests.get(mesh.url_of("entry") + "/slow").json()["trace_id"]
    assert tid in requests.get(f"{base}/traces").json()["trace_ids"]
    t = requests.get(f"{base}/traces/{tid}").json()
    assert t["complete"] and t["tree"][0]["service"] == "entry"
    assert requests.get(f"{base}/traces/{'f' * 32}").status_code == 404
    requests.get(mesh.url_of("entry") + "/slow", headers={"traceparent": "bad"})
    assert requests.get(f"{base}/context-events").json()["events"][-1]["headers"] == {"traceparent": "bad"}
    r = requests.post(f"{base}/services/entry/scale", json={"replicas": 2})
    assert r.status_code == 200 and len(r.json()["instances"]) == 2
    assert requests.post(f"{base}/services/ghost/scale", json={"replicas": 2}).status_code == 404
    assert requests.post(f"{base}/services/entry/scale", json={"replicas": 999}).status_code == 400
    assert requests.post(f"{base}/services/entry/scale", json={"replicas": "2"}).status_code == 400
    assert requests.post(f"{base}/services/entry/scale", data="{",
                         headers={"Content-Type": "application/json"}).status_code == 400
    requests.post(f"{base}/services/entry/scale", json={"replicas": 1})
    iid = mesh.instances["a"][0].instance_id
    assert requests.post(f"{base}/instances/{iid}/health", json={"status": "critical"}).status_code == 200
    assert mesh.discover("a") == []
    assert requests.post(f"{base}/instances/{iid}/health", json={"status": "meh"}).status_code == 400
    assert requests.post(f"{base}/instances/ghost/health", json={"status": "passing"}).status_code == 404
    requests.post(f"{base}/instances/{iid}/health", json={"status": "passing"})
    assert requests.post(f"{base}/partition", json={"caller": "x"}).status_code == 400
    with MockOTLPCollector() as col:
        r = requests.post(f"{base}/export", json={"endpoint": col.url, "trace_id": tid})
        assert r.json()["exported_spans"] == len(col.get_spans(trace_id=tid)) == 1
    assert requests.post(f"{base}/export", json={"endpoint": "http://127.0.0.1:1"}).status_code == 502
    state = requests.get(f"{mesh.url}/_mock/state").json()
    assert state["hop_limit"] == 6 and state["registry"]["services"] >= 4
    requests.post(f"{mesh.url}/_mock/reset").raise_for_status()
    assert mesh.spans.trace_ids() == [] and len(mesh.discover("a")) == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_failure_moves_to_next_instance_and_timeouts_are_504():
    spec = {"services": {"front": {"endpoints": {"/": {"calls": ["back:/"]},
                                                 "/slow": {"calls": [{"service": "back", "endpoint": "/slow",
                                                                      "timeout_ms": 50}]}}},
                         "back": {"endpoints": {"/": {}, "/slow": {"latency_ms": 400}}}}}
    with MockServiceMesh(spec) as m:
        m.registry.register({"name": "back", "id": "ghost", "address": "127.0.0.1", "port": _closed_port()})
        results = [requests.get(m.url_of("front") + "/").json()["calls"][0] for _ in range(4)]
        assert all(r["ok"] and r["instance"] != "ghost" for r in results)
        assert any(r.get("attempts") == 2 for r in results)
        m.registry.deregister(m.instances["back"][0].instance_id)  # only the ghost is left
        r = requests.get(m.url_of("front") + "/").json()["calls"][0]
        assert r["status"] == 503 and "connection to ghost failed" in r["error"] and r["attempts"] == 2
        m.reset()
        r = requests.get(m.url_of("front") + "/slow")
        assert r.status_code == 502 and r.json()["calls"][0]["status"] == 504
        inst = m.instances["back"][0]
        assert inst.describe_state()["service"] == "back" and inst.drain(timeout=5)
