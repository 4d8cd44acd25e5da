"""The service dependency graph as SVG: layers top-down from the entry points, live state drawn on it.

Nodes show each instance (filled disc: up, crossed ring: down), edges the breaker state of that
call (colour, dash pattern and a marker, so it reads in grey too), calls that close a cycle run
upward with a "cycle" tag, chaos targets carry the scenario, and one trace's path can be
highlighted. Every label's box is returned with the SVG so tests can prove nothing overlaps.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .graph_legend import draw_header
from .graph_state import GraphState, InstanceState
from .graph_style import (
    CHAOS,
    CYCLE,
    DOWN,
    PARTIAL,
    TRACE,
    UP,
    add_arrow_defs,
    arrow_id,
    draw_marker,
    edge_style,
)
from .layout import EdgeRoute, GraphLayout, layered_layout
from .svg import Box, clip, el, svg_root, text, text_width, to_string

__all__ = ["GraphPicture", "graph_svg", "render_graph"]

NAME_SIZE, SMALL = 13.0, 11.0
MAX_DOTS = 8
Point = tuple[float, float]


@dataclass
class GraphPicture:
    svg: str
    layout: GraphLayout
    labels: list[tuple[str, Box]] = field(default_factory=list)  # (text, box) of every label drawn
    legend: Box = field(default_factory=lambda: Box(0, 0, 0, 0))
    width: float = 0.0
    height: float = 0.0


class _Labels:
    """Every label placed so far, and the boxes a new label must keep clear of."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, Box]] = []
        self.obstacles: list[Box] = []

    def free(self, box: Box) -> bool:
        return not any(box.overlaps(b, 2) for b in self.obstacles) and not any(
            box.overlaps(b, 2) for _, b in self.placed)

    def add(self, label: str, box: Box) -> None:
        self.placed.append((label, box))


def text_box(x: float, baseline: float, label: str, size: float, anchor: str = "start") -> Box:
    w = text_width(label, size)
    left = x - w / 2 if anchor == "middle" else (x - w if anchor == "end" else x)
    return Box(left, baseline - 0.82 * size, w, size * 1.05)


def _chaos_by_target(chaos: list[dict[str, Any]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    nodes: dict[str, list[str]] = {}
    edges: dict[str, list[str]] = {}
    for sc in chaos:
        p, tag = sc.get("params", {}), f"⚡{sc['id']} {sc['kind']}"
        if p.get("edge"):
            edges.setdefault(p["edge"], []).append(tag)
        elif p.get("service"):
            nodes.setdefault(p["service"], []).append(tag)
        for name in p.get("a", []) + p.get("b", []):
            nodes.setdefault(name, []).append(tag)
    return nodes, edges


def _node_size(name: str, count: int, chaos: list[str]) -> tuple[float, float]:
    dots = min(count, MAX_DOTS) * 11 + (text_width(f"+{count - MAX_DOTS}", SMALL) if count > MAX_DOTS else 0)
    status = text_width(f" {count}/{count} up", SMALL)
    chaos_w = max((text_width(c, SMALL) for c in chaos[:2]), default=0.0)
    return max(text_width(name, NAME_SIZE) + 20, dots + status + 20, chaos_w + 16, 86.0), 48.0 + 16 * min(len(chaos), 2)


def render_graph(doc: dict[str, Any], state: GraphState | None = None, *, title: str | None = None) -> GraphPicture:
    """Draw ``doc`` (``DependencyGraph.to_dict()``) with ``state`` (see :func:`mesh_state`)."""
    state = state or GraphState()
    names = [n["id"] for n in doc["nodes"]]
    configured = {n["id"]: int(n.get("instances", 0) or 0) for n in doc["nodes"]}
    chaos_nodes, chaos_edges = _chaos_by_target(state.chaos)
    inst: dict[str, list[InstanceState]] = {
        n: state.instances.get(n) or [InstanceState(f"{n}#{i}", False, "not running") for i in range(configured[n])]
        for n in names}
    sizes = {n: _node_size(n, len(inst[n]), chaos_nodes.get(n, [])) for n in names}
    pairs = [(e["source"], e["target"]) for e in doc["edges"]]
    layout = layered_layout(names, pairs, sizes)
    g = nx.DiGraph(pairs)
    g.add_nodes_from(names)
    comp = {n: i for i, c in enumerate(nx.strongly_connected_components(g)) for n in c}
    on_cycle = {n for n in names if sum(1 for m in comp if comp[m] == comp[n]) > 1 or g.has_edge(n, n)}
    width = max(layout.width, 960.0)
    labels = _Labels()
    open_count = sum(1 for e in doc["edges"] if edge_style(_edge_state(e, state)).marker == "cross")
    heading = title or state.title or "dependency graph"
    heading += f" · {len(names)} services · {len(pairs)} calls"
    if open_count:
        heading += f" · {open_count} open breaker{'s' if open_count > 1 else ''}"
    header = ET.Element("g", {"class": "header"})
    header_h, legend = draw_header(header, width, heading, doc.get("cycles", []), state, labels)
    top = header_h + 10
    height = top + layout.height + 10
    root = svg_root(width, height, heading)
    defs = el(root, "defs")
    add_arrow_defs(defs)
    root.append(header)
    body = el(root, "g", class_="graph", transform=f"translate(0 {top:.1f})")
    boxes = {n: p.box for n, p in layout.nodes.items()}
    labels.obstacles.extend(Box(b.x, b.y + top, b.w, b.h) for b in boxes.values())
    trace_edges = set(state.trace_edges)
    edge_layer = el(body, "g", class_="edges")
    by_pair = {(e["source"], e["target"]): e for e in doc["edges"]}
    for route in layout.edges:
        e = by_pair[(route.source, route.target)]
        _draw_edge(edge_layer, route, e, boxes, state, labels, top, (route.source, route.target) in trace_edges,
                   chaos_edges.get(f"{route.source}->{route.target}", []), comp)
    node_layer = el(body, "g", class_="nodes")
    for name in names:
        _draw_node(node_layer, name, boxes[name], inst[name], chaos_nodes.get(name, []), name in on_cycle,
                   name in state.trace_services, labels, top)
    return GraphPicture(to_string(root), layout, labels.placed, legend, width, height)


def graph_svg(doc: dict[str, Any], state: GraphState | None = None, **kwargs: Any) -> str:
    return render_graph(doc, state, **kwargs).svg


def _edge_state(edge: dict[str, Any], state: GraphState) -> str | None:
    return state.breakers.get(f"{edge['source']}->{edge['target']}") or edge.get("state")


def _curve(points: list[Point]) -> str:
    """A smooth path through ``points`` with vertical tangents (edges leave and enter vertically)."""
    d = f"M {points[0][0]:.1f} {points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        dy = (y1 - y0) / 2
        d += f" C {x0:.1f} {y0 + dy:.1f} {x1:.1f} {y1 - dy:.1f} {x1:.1f} {y1:.1f}"
    return d


def _mid(p0: Point, p1: Point, t: float) -> Point:
    dy = (p1[1] - p0[1]) / 2
    c1, c2 = (p0[0], p0[1] + dy), (p1[0], p1[1] - dy)
    u = 1 - t
    return (u ** 3 * p0[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * p1[0],
            u ** 3 * p0[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * p1[1])


def _route_points(route: EdgeRoute, boxes: dict[str, Box]) -> list[Point]:
    src, dst = boxes[route.source], boxes[route.target]
    if route.loop:
        return []
    pts = list(route.points)
    if route.back:  # leaves the caller's top, enters the callee's bottom, bowed to the right
        pts[0] = (pts[0][0] + 10, src.y)
        pts[-1] = (pts[-1][0] + 10, dst.y2 + 3)
        if len(pts) == 2:
            pts.insert(1, ((pts[0][0] + pts[1][0]) / 2 + 46, (pts[0][1] + pts[1][1]) / 2))
        else:
            pts[1:-1] = [(x + 26, y) for x, y in pts[1:-1]]
    else:
        pts[0] = (pts[0][0], src.y2)
        pts[-1] = (pts[-1][0], dst.y - 3)
    return pts


def _draw_edge(parent: ET.Element, route: EdgeRoute, edge: dict[str, Any], boxes: dict[str, Box],
               state: GraphState, labels: _Labels, top: float, on_trace: bool, chaos: list[str],
               comp: dict[str, int]) -> None:
    bstate = _edge_state(edge, state)
    style = edge_style(bstate)
    kinds = edge.get("kinds", [])
    hollow = kinds == ["async"]
    cyc = route.loop or comp.get(route.source) == comp.get(route.target)
    g = el(parent, "g", class_="edge", data_source=route.source, data_target=route.target,
           data_state=style.key, data_cycle="true" if cyc else None)
    tip = f"{route.source} → {route.target}: breaker {style.label} ({', '.join(kinds) or 'call'})"
    ET.SubElement(g, "title").text = tip + (" · on a cycle" if cyc else "") + "".join(f" · {c}" for c in chaos)
    if route.loop:
        b = boxes[route.source]
        d = (f"M {b.x2:.1f} {b.y + b.h * 0.3:.1f} C {b.x2 + 34:.1f} {b.y - 6:.1f} {b.x2 + 34:.1f} "
             f"{b.y2 + 6:.1f} {b.x2 + 2:.1f} {b.y + b.h * 0.7:.1f}")
        candidates = [(b.x2 + 26, b.y + b.h / 2)]
    else:
        pts = _route_points(route, boxes)
        d = _curve(pts)
        segs = list(itertools.pairwise(pts))
        order = sorted(range(len(segs)), key=lambda i: abs(i - (len(segs) - 1) / 2))
        candidates = [_mid(*segs[i], t) for t in (0.5, 0.35, 0.65, 0.22, 0.78) for i in order]
    if on_trace:
        el(g, "path", d=d, fill="none", stroke=TRACE, stroke_width=9, stroke_opacity=0.28, stroke_linecap="round",
           class_="trace-path")
    el(g, "path", d=d, fill="none", stroke=style.colour, stroke_width=style.width, stroke_dasharray=style.dash,
       marker_end=f"url(#{arrow_id(style, hollow)})")
    tags = [t for t in ([style.tag] if style.tag else []) + (["↺ cycle"] if route.back or route.loop else [])
            + chaos[:1]]
    mx, my = candidates[0]
    if tags:
        label = " · ".join(tags)
        mx, my = _place_edge_label(g, label, candidates, labels, top, style.colour if style.tag else
                                   (CHAOS if chaos and not route.back else CYCLE))
    draw_marker(g, mx, my, style)


def _place_edge_label(g: ET.Element, label: str, candidates: list[Point], labels: _Labels, top: float,
                      colour: str) -> Point:
    size = 10.0
    w = text_width(label, size)
    tries = [(cx, cy, side) for cx, cy in candidates for side in (1, -1)]
    chosen = None
    for cx, cy, side in tries:
        x = cx + 9 if side > 0 else cx - 9 - w
        box = Box(x - 2, cy + top - 7, w + 4, 13)
        if labels.free(box):
            chosen = (cx, cy, x, box)
            break
    if chosen is None:  # crowded: step the label down beside the first point until it is clear
        cx, cy = candidates[0]
        for step in range(1, 400):
            box = Box(cx + 9 - 2, cy + top - 7 + 14 * step, w + 4, 13)
            if labels.free(box):
                chosen = (cx, cy, cx + 9, box)
                break
        else:
            chosen = (cx, cy, cx + 9, Box(cx + 7, cy + top - 7, w + 4, 13))
    cx, cy, x, box = chosen
    el(g, "rect", x=box.x, y=box.y - top, width=box.w, height=box.h, rx=3, fill="#ffffff", fill_opacity=0.92,
       stroke=colour, stroke_width=0.8)
    text(g, x, box.y - top + 10, label, size=size, fill=colour, font_weight="bold", class_="edge-label")
    labels.add(label, box)
    return cx, cy


def _draw_node(parent: ET.Element, name: str, box: Box, instances: list[InstanceState], chaos: list[str],
               on_cycle: bool, on_trace: bool, labels: _Labels, top: float) -> None:
    up = sum(1 for i in instances if i.up)
    status = "up" if instances and up == len(instances) else ("down" if up == 0 else "partial")
    g = el(parent, "g", class_="node", id=f"node-{name}", data_service=name, data_status=status,
           data_up=up, data_instances=len(instances))
    lines = [f"{name}: {up}/{len(instances)} instances up"]
    lines += [f"  {i.instance_id}: {'up' if i.up else 'DOWN'}{' — ' + i.reason if i.reason else ''}" for i in instances]
    lines += [f"  {c}" for c in chaos] + (["  on a dependency cycle"] if on_cycle else [])
    ET.SubElement(g, "title").text = "\n".join(lines)
    if on_cycle:
        el(g, "rect", x=box.x - 7, y=box.y - 7, width=box.w + 14, height=box.h + 14, rx=11, fill="none",
           stroke=CYCLE, stroke_width=1.6, stroke_dasharray="2 3", class_="cycle-ring")
    if on_trace:
        el(g, "rect", x=box.x - 2.5, y=box.y - 2.5, width=box.w + 5, height=box.h + 5, rx=8, fill="none",
           stroke=TRACE, stroke_width=3.5, class_="trace-ring")
    stroke, fill, dash = {"up": ("#455a64", "#f7f9fc", None), "partial": (PARTIAL, "#fff8e1", None),
                          "down": (DOWN, "#ffebee", "6 3")}[status]
    el(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=6, fill=fill, stroke=stroke,
       stroke_width=2.2 if status != "up" else 1.2, stroke_dasharray=dash)
    label = clip(name, box.w - 12, NAME_SIZE)
    baseline = box.y + 18
    text(g, box.x + box.w / 2, baseline, label, size=NAME_SIZE, anchor="middle", font_weight="bold", fill="#212121",
         class_="service-name")
    labels.add(label, text_box(box.x + box.w / 2, baseline + top, label, NAME_SIZE, "middle"))
    x, cy = box.x + 10, box.y + 33
    for i in instances[:MAX_DOTS]:
        if i.up:
            el(g, "circle", cx=x + 4, cy=cy, r=4, fill=UP, class_="instance-up")
        else:
            el(g, "circle", cx=x + 4, cy=cy, r=4, fill="#ffffff", stroke=DOWN, stroke_width=1.6, class_="instance-down")
            el(g, "path", d=f"M {x + 1.5:.1f} {cy - 2.5:.1f} L {x + 6.5:.1f} {cy + 2.5:.1f} M {x + 1.5:.1f} "
                            f"{cy + 2.5:.1f} L {x + 6.5:.1f} {cy - 2.5:.1f}", stroke=DOWN, stroke_width=1.4)
        x += 11
    count = (f"+{len(instances) - MAX_DOTS} " if len(instances) > MAX_DOTS else "") + f"{up}/{len(instances)} up"
    text(g, x + 2, cy + 4, count, size=SMALL, fill=DOWN if status == "down" else "#37474f", class_="instance-count")
    labels.add(count, text_box(x + 2, cy + 4 + top, count, SMALL))
    for k, tag in enumerate(chaos[:2]):
        shown = clip(tag if k == 0 or len(chaos) <= 2 else f"+{len(chaos) - 1} scenarios", box.w - 12, SMALL)
        y = box.y + 53 + 14 * k
        text(g, box.x + 8, y, shown, size=SMALL, fill=CHAOS, font_weight="bold", class_="chaos-tag")
        labels.add(shown, text_box(box.x + 8, y + top, shown, SMALL))
