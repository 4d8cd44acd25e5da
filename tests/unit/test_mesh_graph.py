"""The dependency graph: run-time edits, reachability, paths, cycles and exports."""

import json
import threading

import pytest

from mocktools.mesh.graph import CycleError, DependencyGraph
from mocktools.mesh.spec import MeshSpec


def diamond() -> DependencyGraph:
    g = DependencyGraph()
    for a, b in [("edge", "api"), ("api", "users"), ("api", "orders"), ("orders", "db"), ("users", "db")]:
        g.add_edge(a, b)
    g.add_edge("api", "audit", kind="async")
    return g


def test_deps_and_dependents():
    g = diamond()
    assert g.dependencies("api") == {"users", "orders", "audit"}
    assert g.dependents("db") == {"orders", "users"}
    assert g.transitive_dependencies("edge") == {"api", "users", "orders", "db", "audit"}
    assert g.transitive_dependents("db") == {"orders", "users", "api", "edge"}
    assert g.upstream_impact("db") == {"orders", "users", "api", "edge"}
    assert g.upstream_impact(["users", "orders"]) == {"api", "edge"}
    assert g.upstream_impact("edge") == set()
    with pytest.raises(KeyError):
        g.dependencies("ghost")


def test_paths():
    g = diamond()
    assert g.paths("edge", "db") == [["edge", "api", "orders", "db"], ["edge", "api", "users", "db"]]
    assert g.shortest_path("edge", "db") == ["edge", "api", "orders", "db"]
    assert g.shortest_path("db", "edge") is None
    assert g.paths("db", "edge") == []
    assert g.paths("edge", "db", limit=1) and len(g.paths("edge", "db", limit=1)) == 1


def test_runtime_add_remove():
    g = diamond()
    g.add_edge("db", "cache")
    assert "cache" in g.transitive_dependencies("edge")
    g.remove_edge("db", "cache")
    assert "cache" not in g.transitive_dependencies("edge") and "cache" in g.services
    g.remove_service("orders")
    assert g.paths("edge", "db") == [["edge", "api", "users", "db"]]
    assert "orders" not in g.dependents("db")
    with pytest.raises(KeyError):
        g.remove_edge("edge", "db")
    with pytest.raises(KeyError):
        g.remove_service("orders")
    assert g.has_edge("edge", "api") and not g.has_edge("api", "edge")


def test_cycles_named():
    g = diamond()
    assert not g.has_cycles() and g.find_cycles() == []
    assert g.topological_order().index("db") < g.topological_order().index("edge")
    g.add_edge("db", "api")  # api -> users -> db -> api, api -> orders -> db -> api
    g.add_edge("audit", "audit")  # self loop
    cycles = g.find_cycles()
    assert ["audit"] in cycles
    assert ["api", "orders", "db"] in cycles and ["api", "users", "db"] in cycles
    assert g.has_cycles()
    assert sorted(g.strongly_connected()) == [["api", "db", "orders", "users"], ["audit"]]
    with pytest.raises(CycleError) as exc:
        g.topological_order()
    assert "api -> orders -> db -> api" in str(exc.value) and exc.value.cycles == cycles
    assert g.transitive_dependencies("api") >= {"api"}  # on a cycle: reaches itself


def test_from_spec_and_exports():
    spec = MeshSpec.from_dict({"services": {
        "a": {"calls": ["b", {"parallel": ["c", "d"]}, {"async": ["e"]}]}, "b": {}, "c": {}, "d": {}, "e": {}}})
    g = DependencyGraph.from_spec(spec)
    d = g.to_dict()
    assert [n["id"] for n in d["nodes"]] == ["a", "b", "c", "d", "e"]
    kinds = {(e["source"], e["target"]): e["kinds"] for e in d["edges"]}
    assert kinds == {("a", "b"): ["sync"], ("a", "c"): ["parallel"], ("a", "d"): ["parallel"], ("a", "e"): ["async"]}
    assert json.loads(g.to_json())["cycles"] == []
    dot = g.to_dot("shop")
    assert dot.startswith('digraph "shop" {') and '"a" -> "e" [label="async", style=dashed];' in dot
    assert '"a" -> "c" [label="parallel", style=bold];' in dot
    mermaid = g.to_mermaid()
    assert mermaid.startswith("flowchart LR") and "n0 -.->|\"async\"| n4" in mermaid and "n0 ==>" in mermaid
    g.state_provider = lambda: {"nodes": {"a": {"state": "degraded"}}, "edges": {"a->b": {"state": "OPEN"}}}
    assert g.to_dict()["nodes"][0]["state"] == "degraded"
    assert 'label="a\\ndegraded"' in g.to_dot() and "sync OPEN" in g.to_dot()
    assert "a (degraded)" in g.to_mermaid() and "sync OPEN" in g.to_mermaid()


def test_quotes_escaped_in_exports():
    g = DependencyGraph()
    g.add_service('we"ird')
    assert '"we\\"ird"' in g.to_dot() and "we#quot;ird" in g.to_mermaid()


def test_thread_safe_edits():
    g = DependencyGraph()

    def work(i):
        for j in range(200):
            g.add_edge(f"s{i}", f"t{j}")
            g.transitive_dependencies(f"s{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(g.edges()) == 800
