"""The dependency-graph picture without a browser: layout, validity, state drawn, labels clear."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from mocktools.mesh.graph import DependencyGraph
from mocktools.mesh.topology import layered_spec
from mocktools.visual.graph_state import GraphState, InstanceState, trace_path
from mocktools.visual.graph_svg import render_graph
from mocktools.visual.layout import layered_layout

SVG = "{http://www.w3.org/2000/svg}"


def _groups(svg: str, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg.encode())
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def _overlaps(labels: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(a, b) for i, (a, ba) in enumerate(labels) for b, bb in labels[i + 1:] if ba.overlaps(bb)]


def test_layers_put_entry_points_on_top_and_callees_below() -> None:
    edges = [("edge", "api"), ("api", "db"), ("edge", "cache"), ("cache", "db")]
    lay = layered_layout(["api", "cache", "db", "edge"], edges, {n: (80, 40) for n in ("api", "cache", "db", "edge")})
    layer = {n: p.layer for n, p in lay.nodes.items()}
    assert layer == {"edge": 0, "api": 1, "cache": 1, "db": 2}
    assert lay.nodes["edge"].box.y < lay.nodes["api"].box.y < lay.nodes["db"].box.y
    boxes = [p.box for p in lay.nodes.values()]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert all(not r.back for r in lay.edges)


def test_a_call_back_up_is_the_one_turned_and_self_calls_loop() -> None:
    g = DependencyGraph.from_spec(layered_spec(20))
    g.add_edge("db", "api-1")  # db calls back into the API tier: a cycle through many services
    g.add_edge("audit", "audit")
    names = g.services
    lay = layered_layout(names, [(a, b) for a, b, _ in g.edges()], {n: (90, 44) for n in names})
    back = [(r.source, r.target) for r in lay.edges if r.back]
    assert back == [("db", "api-1")]
    assert [(r.source, r.loop) for r in lay.edges if r.loop] == [("audit", True)]
    assert lay.nodes["gateway"].layer == 0 and lay.nodes["db"].layer > lay.nodes["api-1"].layer


def test_a_cycle_nothing_calls_into_still_lays_out() -> None:
    lay = layered_layout(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")], {n: (60, 40) for n in "abc"})
    assert sorted(p.layer for p in lay.nodes.values()) == [0, 1, 2]
    assert sum(r.back for r in lay.edges) == 1


def test_bare_graph_to_svg_is_valid_and_marks_cycles() -> None:
    g = DependencyGraph()
    g.add_edge("web", "api")
    g.add_edge("api", "db")
    g.add_edge("db", "api", kind="async")
    g.add_service("batch", instances=3)
    svg = g.to_svg(title="tiny")
    root = ET.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title").text.startswith("tiny")  # type: ignore[union-attr]
    cyc = [e for e in _groups(svg, "edge") if e.get("data-cycle") == "true"]
    assert {(e.get("data-source"), e.get("data-target")) for e in cyc} == {("api", "db"), ("db", "api")}
    assert "↺ cycle" in svg and "↺ cycles: api → db → api" in svg
    rings = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "cycle-ring"]
    assert len(rings) == 2
    batch = next(n for n in _groups(svg, "node") if n.get("data-service") == "batch")
    assert batch.get("data-instances") == "3" and batch.get("data-status") == "down"  # not running


def test_live_state_is_drawn_with_shapes_not_only_colour() -> None:
    g = DependencyGraph.from_spec(layered_spec(12))
    state = GraphState(
        instances={"db": [InstanceState("db-0", True), InstanceState("db-1", False, "stopped")],
                   "api-0": [InstanceState("api-0-0", False, "health critical")]},
        breakers={"gateway->api-0": "OPEN", "gateway->api-1": "HALF_OPEN", "gateway->api-2": "CLOSED",
                  "api-3->mid-6": "DISABLED"},
        chaos=[{"id": "chaos-1", "kind": "outage", "params": {"service": "db", "mode": "503"}, "status": "active"},
               {"id": "chaos-2", "kind": "latency", "params": {"edge": "gateway->api-3", "seconds": 0.5},
                "status": "active"}],
        trace_id="abc", trace_edges=[("gateway", "api-2")], trace_services=["gateway", "api-2"], title="state")
    pic = render_graph(g.to_dict(), state)
    edges = {(e.get("data-source"), e.get("data-target")): e for e in _groups(pic.svg, "edge")}
    assert edges[("gateway", "api-0")].get("data-state") == "OPEN"
    assert edges[("gateway", "api-1")].get("data-state") == "HALF_OPEN"
    assert edges[("gateway", "audit")].get("data-state") == "NONE"
    dashes = {k: [p.get("stroke-dasharray") for p in e.iter(f"{SVG}path")] for k, e in edges.items()}
    assert "2 4" in dashes[("gateway", "api-0")] and "9 4" in dashes[("gateway", "api-1")]
    assert dashes[("gateway", "api-2")] == [None, None] or None in dashes[("gateway", "api-2")]
    nodes = {n.get("data-service"): n for n in _groups(pic.svg, "node")}
    assert nodes["db"].get("data-status") == "partial" and nodes["api-0"].get("data-status") == "down"
    assert len([c for c in nodes["db"].iter(f"{SVG}circle") if c.get("class") == "instance-down"]) == 1
    assert "⚡chaos-1 outage" in ET.tostring(nodes["db"], encoding="unicode")
    assert "⚡chaos-2 latency" in ET.tostring(edges[("gateway", "api-3")], encoding="unicode")
    assert any(p.get("class") == "trace-path" for p in edges[("gateway", "api-2")].iter(f"{SVG}path"))
    assert "OPEN" in [t for t, _ in pic.labels] and "HALF-OPEN" in [t for t, _ in pic.labels]
    assert _overlaps(pic.labels) == []


def test_fifty_services_lay_out_without_overlaps_and_deterministically() -> None:
    g = DependencyGraph.from_spec(layered_spec(50))
    breakers = {f"{a}->{b}": "OPEN" for a, b, _ in g.edges()[::3]}  # many tags competing for room
    first = render_graph(g.to_dict(), GraphState(breakers=breakers))
    again = render_graph(g.to_dict(), GraphState(breakers=breakers))
    assert first.svg == again.svg
    assert _overlaps(first.labels) == []
    boxes = [p.box for p in first.layout.nodes.values()]
    assert not any(a.overlaps(b, 4) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert len(_groups(first.svg, "node")) == 50
    assert all(b.x2 <= first.width and b.y2 <= first.height for _, b in first.labels)
    assert first.width < 3200 and first.height < 1200  # readable at its native size


def test_trace_path_follows_parent_links_across_services() -> None:
    class S:
        def __init__(self, sid: str, parent: str | None, service: str, start: float) -> None:
            self.span_id, self.parent_span_id, self.service, self.start = sid, parent, service, start

    spans = [S("1", None, "gw", 0), S("2", "1", "gw", 1), S("3", "2", "api", 2), S("4", "3", "db", 3)]
    assert trace_path(spans) == ([("gw", "api"), ("api", "db")], ["gw", "api", "db"])


def test_empty_and_stopped_graphs_still_draw() -> None:
    from mocktools.mesh import MockServiceMesh

    assert ET.fromstring(DependencyGraph().to_svg().encode()).tag == f"{SVG}svg"
    mesh = MockServiceMesh({"services": {"a": {"calls": ["b:/"]}, "b": {"instances": 2}}})  # never started
    nodes = {n.get("data-service"): n for n in _groups(mesh.graph.to_svg(), "node")}
    assert nodes["b"].get("data-instances") == "2" and nodes["b"].get("data-status") == "down"
    assert "not running" in (nodes["b"].findtext(f"{SVG}title") or "")


def test_breaker_states_differ_without_colour() -> None:
    from mocktools.visual.graph_style import EDGE_STYLES

    looks = {k: (s.dash, s.marker, s.width) for k, s in EDGE_STYLES.items() if k != "FORCED_OPEN"}
    assert len(set(looks.values())) == len(looks)  # dash pattern, marker and width alone tell them apart
    svg = render_graph(DependencyGraph().to_dict(), GraphState()).svg
    legend = next(g for g in ET.fromstring(svg.encode()).iter(f"{SVG}g") if g.get("class") == "legend")
    dashes = {p.get("stroke-dasharray") for p in legend.iter(f"{SVG}path")}
    assert {s.dash for s in EDGE_STYLES.values()} <= dashes  # the legend shows every pattern it uses
