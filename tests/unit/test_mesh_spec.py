"""Mesh declarations from Python, dict, JSON and YAML, and their validation."""

import json

import pytest

from mocktools.mesh.spec import CallSpec, EndpointSpec, MeshSpec, ServiceSpec, SpecError, call_plan

YAML = """
name: shop
defaults: {instances: 2}
services:
  frontend:
    instances: 3
    tags: [web]
    meta: {team: edge}
    endpoints:
      /checkout:
        latency_ms: 2
        calls:
          - cart:/items
          - {service: payment, endpoint: /charge, optional: true, timeout_ms: 800}
          - {parallel: [stock:/reserve, pricing]}
          - {async: [audit]}
  cart: {endpoints: {/items: {response: {items: 3}}}}
  payment: {endpoints: {/charge: {status: 201}}}
  stock: {endpoints: {/reserve: null}}
  pricing: {}
  audit: {instances: 1}
"""


def test_yaml_spec_loads_everything():
    spec = MeshSpec.from_yaml(YAML)
    assert spec.name == "shop" and set(spec.services) == {"frontend", "cart", "payment", "stock", "pricing", "audit"}
    fe = spec.services["frontend"]
    assert fe.instances == 3 and fe.tags == ["web"] and fe.meta == {"team": "edge"}
    assert spec.services["cart"].instances == 2 and spec.services["audit"].instances == 1
    ep = fe.endpoints["/checkout"]
    assert ep.latency == pytest.approx(0.002)
    modes = [(c.service, c.endpoint, c.mode) for c in ep.calls]
    assert modes == [("cart", "/items", "sync"), ("payment", "/charge", "sync"), ("stock", "/reserve", "parallel"),
                     ("pricing", "/", "parallel"), ("audit", "/", "async")]
    assert ep.calls[1].optional and ep.calls[1].timeout == pytest.approx(0.8)
    assert spec.services["payment"].endpoints["/charge"].status == 201
    assert spec.services["cart"].endpoints["/items"].response == {"items": 3}
    assert fe.dependencies() == {"cart", "payment", "stock", "pricing", "audit"}


def test_call_plan_groups_fanout():
    spec = MeshSpec.from_yaml(YAML)
    plan = call_plan(spec.services["frontend"].endpoints["/checkout"].calls)
    assert [(mode, [c.service for c in calls]) for mode, calls in plan] == [
        ("sync", ["cart"]), ("sync", ["payment"]), ("parallel", ["stock", "pricing"]), ("async", ["audit"])]
    loose = [CallSpec("a", mode="parallel"), CallSpec("b", mode="parallel"), CallSpec("c", mode="parallel", group=3)]
    assert [len(c) for _, c in call_plan(loose)] == [2, 1]


def test_json_and_dict_and_list_forms_and_roundtrip(tmp_path):
    doc = {"services": [{"name": "a", "calls": ["b"]}, {"name": "b"}]}
    spec = MeshSpec.from_dict(doc)
    assert spec.services["a"].endpoints["/"].calls[0].service == "b"
    again = MeshSpec.from_json(json.dumps(spec.to_dict()))
    assert again.to_dict() == spec.to_dict()
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    assert set(MeshSpec.load(p).services) == {"a", "b"}
    y = tmp_path / "m.yaml"
    y.write_text(YAML)
    assert MeshSpec.load(y).name == "shop"


def test_python_form():
    spec = MeshSpec("py").add(ServiceSpec("a", 2, {"/x": EndpointSpec("/x", calls=[CallSpec("b")])})).add(
        ServiceSpec("b"))
    assert spec.validate() is spec
    assert spec.services["b"].endpoints == {"/": spec.services["b"].endpoints["/"]}


def test_all_errors_reported_together():
    doc = {"hop_limit": 0, "services": {
        "a": {"instances": -1, "endpoints": {"/x": {"calls": ["nope", "b:/missing", {"service": "b", "mode": "later"}],
                                                    "latency_ms": -5, "status": 99, "bogus": 1}}},
        "b": {"tags": "notalist", "meta": [], "color": "red"},
        "bad name!": {},
    }}
    with pytest.raises(SpecError) as exc:
        MeshSpec.from_dict(doc)
    text = str(exc.value)
    for needle in ("hop_limit", "instances", "unknown service 'nope'", "unknown endpoint b/missing", "mode 'later'",
                   "latency_ms", "status", "bogus", "tags", "meta", "color", "bad name!"):
        assert needle in text, needle
    assert len(exc.value.errors) >= 12


@pytest.mark.parametrize("doc", [
    [], "x", {"services": 3}, {"services": [{"noname": 1}]}, {"services": {"a": 5}},
    {"services": {"a": {"endpoints": []}}}, {"services": {"a": {"endpoints": {"/": 7}}}},
    {"services": {"a": {"calls": "b"}}}, {"services": {"a": {"calls": [42]}}},
    {"services": {"a": {"calls": [{"parallel": "b"}]}}, "b": {}},
    {"services": {"a": {"calls": [{"service": "a", "endpoint": 5, "x": 1}]}}},
    {"services": {"a": {"endpoints": {"no-slash": {}}}}}, {"defaults": [], "services": {}},
    {"services": [{"name": "a"}, {"name": "a"}]},
])
def test_malformed_specs_rejected(doc):
    with pytest.raises(SpecError):
        MeshSpec.from_dict(doc)


def test_malformed_text():
    with pytest.raises(SpecError, match="malformed JSON"):
        MeshSpec.from_json("{")
    with pytest.raises(SpecError, match="malformed YAML"):
        MeshSpec.from_yaml("a: [")


def test_cycles_forbidden_when_asked():
    doc = {"allow_cycles": False, "services": {"a": {"calls": ["b"]}, "b": {"calls": ["a"]}}}
    with pytest.raises(SpecError, match="circular dependency: a -> b -> a"):
        MeshSpec.from_dict(doc)
    doc["allow_cycles"] = True
    assert MeshSpec.from_dict(doc).allow_cycles
