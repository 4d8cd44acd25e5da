"""The `mock_mesh` fixture from the pytest plugin, and reset() returning the topology to its spec."""

import consul
import requests

from mocktools.mesh import MockServiceMesh, ServiceSpec


def test_mock_mesh_fixture_is_a_running_registry(mock_mesh):
    assert isinstance(mock_mesh, MockServiceMesh) and mock_mesh.running and mock_mesh.default_port == 8500
    c = consul.Consul(port=mock_mesh.port)
    assert c.agent.service.register("ext", service_id="ext-1", port=1234)
    mock_mesh.add_service(ServiceSpec("tmp", 2))
    assert len(c.health.service("tmp", passing=True)[1]) == 2


def test_mock_mesh_fixture_was_reset(mock_mesh):
    c = consul.Consul(port=mock_mesh.port)
    assert c.agent.services() == {} and "tmp" not in mock_mesh.spec.services


def test_reset_restores_spec_and_instances():
    with MockServiceMesh({"services": {"a": {"instances": 2, "calls": ["b"]}, "b": {}}}) as m:
        m.scale("a", 3)
        m.remove_dependency("a", "b")
        m.instance(m.instances["b"][0].instance_id).set_permanent_failure()
        m.registry.hide("a", [i.instance_id for i in m.instances["b"]])
        m.reset()
        assert len(m.instances["a"]) == 2 and m.graph.dependencies("a") == {"b"}
        r = requests.get(m.url_of("a") + "/")
        assert r.status_code == 200 and r.json()["calls"][0]["ok"]
        m.check()
