"""Mesh hardening (issue 17, items 11, 13, 14 and the export/token risks) through py-consul and requests."""
from __future__ import annotations

import socket

import consul
import pytest
import requests

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.discovery_records import RegistrationError, validate_address
from mocktools.mesh.spans import MeshSpan as Span
from mocktools.mesh.spans import SpanStore, TraceNode
from mocktools.otlp import MockOTLPCollector

SPEC = {"services": {"api": {"calls": ["db:/q"]}, "db": {"endpoints": {"/q": {"response": {"rows": 1}}}}}}


def _local_ip() -> str | None:
    """A non-loopback address of this machine (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


LOCAL_IP = _local_ip()
needs_ip = pytest.mark.skipif(LOCAL_IP is None, reason="no non-loopback IPv4 address on this machine")


@pytest.mark.parametrize("address", ["127.0.0.1:9000/_mock/calls?x=", "http://127.0.0.1", "a@b", "host/path",
                                     "host?q", "host:80", "ho st", "-bad.example", "x" * 64, "fe80::1%eth0", "a..b"])
def test_consul_register_rejects_an_address_that_is_not_a_host(address: str) -> None:
    with pytest.raises(RegistrationError):
        validate_address(address)


@pytest.mark.parametrize("address", ["", "10.0.0.7", "::1", "db", "db-1.svc.cluster.local", "my_service", "a.b."])
def test_consul_register_accepts_host_names_and_ip_literals(address: str) -> None:
    assert validate_address(address) == address


def test_consul_address_with_a_path_is_refused_over_the_wire() -> None:
    with MockServiceMesh(SPEC) as mesh:
        client = consul.Consul(host="127.0.0.1", port=mesh.port)
        db = mesh.instances["db"][0]
        with pytest.raises(consul.ConsulException, match="host name or an IP"):
            client.agent.service.register("db", service_id=db.instance_id, address=f"127.0.0.1:{mesh.port}/_mock/calls?x=",
                                          port=db.port)
        assert requests.get(mesh.url_of("api") + "/", timeout=10).status_code == 200  # routing untouched
        client.agent.service.register("db", service_id="db-extra", address="localhost", port=db.port)
        assert "db-extra" in client.agent.services()


@needs_ip
def test_registry_writes_need_the_token_off_loopback() -> None:
    assert LOCAL_IP is not None
    with MockServiceMesh(SPEC, host=LOCAL_IP) as mesh:
        anonymous = consul.Consul(host=LOCAL_IP, port=mesh.port)
        assert {s["Service"] for s in anonymous.agent.services().values()} == {"api", "db"}  # reads stay open
        with pytest.raises(consul.ACLPermissionDenied):
            anonymous.agent.service.register("db", service_id="evil", address="127.0.0.1", port=1)
        with pytest.raises(consul.ACLPermissionDenied):
            anonymous.agent.service.deregister(mesh.instances["db"][0].instance_id)
        assert "evil" not in anonymous.agent.services()
        trusted = consul.Consul(host=LOCAL_IP, port=mesh.port, token=mesh.admin_token)
        trusted.agent.service.register("db", service_id="db-2", address=LOCAL_IP, port=mesh.instances["db"][0].port)
        assert "db-2" in trusted.agent.services()


@needs_ip
def test_mesh_bound_to_a_specific_ip_registers_instances_with_it() -> None:
    assert LOCAL_IP is not None
    with MockServiceMesh(SPEC, host=LOCAL_IP) as mesh:
        client = consul.Consul(host=LOCAL_IP, port=mesh.port)
        assert {s["Address"] for s in client.agent.services().values()} == {LOCAL_IP}
        answer = requests.get(mesh.url_of("api") + "/", timeout=10)
        assert answer.status_code == 200, answer.text  # was 502: instances registered as 127.0.0.1
        assert answer.json()["calls"][0]["status"] == 200


@needs_ip
def test_instance_tokens_are_shown_to_the_token_holder_and_work() -> None:
    assert LOCAL_IP is not None
    with MockServiceMesh(SPEC, host=LOCAL_IP) as mesh:
        assert requests.get(f"{mesh.url}/_mock/state", timeout=10).status_code == 401
        state = requests.get(f"{mesh.url}/_mock/state", headers={"X-Mock-Token": mesh.admin_token},
                             timeout=10).json()
        db = mesh.instances["db"][0]
        token = state["instance_tokens"][db.instance_id]
        assert requests.get(f"{db.url}/_mock/calls/count", timeout=10).status_code == 401
        assert requests.get(f"{db.url}/_mock/calls/count", headers={"Authorization": f"Bearer {token}"},
                            timeout=10).json() == {"count": 0}


def test_mesh_export_goes_only_where_the_topology_says() -> None:
    with MockOTLPCollector(grpc_port=None) as collector, MockServiceMesh(SPEC) as mesh:
        requests.get(mesh.url_of("api") + "/", timeout=10)
        export = f"{mesh.url}/_mock/mesh/export"
        refused = requests.post(export, json={"endpoint": "http://192.0.2.1:4318"}, timeout=10)
        assert refused.status_code == 403 and "otlp_endpoint" in refused.json()["error"]["message"]
        assert requests.post(export, json={"endpoint": "file:///etc/passwd"}, timeout=10).status_code in (400, 403)
        sent = requests.post(export, json={"endpoint": collector.url}, timeout=10)  # loopback mesh, loopback collector
        assert sent.status_code == 200 and sent.json()["exported_spans"] == len(collector.get_spans()) > 0


@needs_ip
def test_mesh_export_off_loopback_needs_the_configured_endpoint() -> None:
    assert LOCAL_IP is not None
    with MockOTLPCollector(grpc_port=None) as collector, \
            MockServiceMesh(SPEC, host=LOCAL_IP, otlp_endpoint=collector.url) as mesh:
        requests.get(mesh.url_of("api") + "/", timeout=10)
        auth = {"X-Mock-Token": mesh.admin_token}
        export = f"{mesh.url}/_mock/mesh/export"
        other = requests.post(export, json={"endpoint": "http://127.0.0.1:1"}, headers=auth, timeout=10)
        assert other.status_code == 403
        assert requests.post(export, json={}, headers=auth, timeout=10).json()["exported_spans"] > 0
        assert collector.get_spans()


def test_mesh_span_store_bounds_spans_per_trace() -> None:
    store = SpanStore(max_spans_per_trace=10, max_spans=25)
    for i in range(50):  # one reused traceparent
        store.add(Span("t" * 32, f"{i:016x}", None, "GET /", "api"))
    assert len(store.spans("t" * 32)) == 10 and store.total_spans == 50 and store.dropped_spans == 40
    for trace in range(5):
        for i in range(10):
            store.add(Span(f"{trace:032x}", f"{i:016x}", None, "GET /", "api"))
    described = store.describe()
    assert described["stored_spans"] <= 25 and described["total_spans"] == 100
    assert described["evicted_spans"] + described["stored_spans"] + described["dropped_spans"] == 100


def test_mesh_trace_tree_of_a_deep_parent_chain_renders() -> None:
    store = SpanStore()
    for i in range(3000):
        store.add(Span("a" * 32, f"{i + 1:016x}", f"{i:016x}" if i else None, "hop", "api", start=float(i)))
    (root,) = store.tree("a" * 32)
    assert root.depth() == 3000
    rendered = root.to_dict()
    node, levels = rendered, 1
    while node["children"]:
        node, levels = node["children"][0], levels + 1
    assert levels == 64 and node["children_cut"] == 1
    assert isinstance(TraceNode(root.span).to_dict(), dict)


def test_consul_registrations_are_bounded() -> None:
    with MockServiceMesh(SPEC) as mesh:
        client = consul.Consul(host="127.0.0.1", port=mesh.port)
        existing = len(client.agent.services())
        mesh.registry.max_services = existing + 2
        for i in range(2):
            client.agent.service.register("extra", service_id=f"extra-{i}", port=1)
        with pytest.raises(consul.ConsulException, match="registry full"):
            client.agent.service.register("extra", service_id="extra-2", port=1)
        client.agent.service.register("extra", service_id="extra-1", port=2)  # re-registering is fine
        assert len(client.agent.services()) == existing + 2
