"""Layered (Sugiyama) layout of a directed graph, computed by grandalf: entry points on top.

Each weakly connected component is laid out on its own (ranks, dummy vertices for long edges,
crossing reduction, Brandes-Köpf coordinates) and the components are placed side by side.
Edges grandalf had to turn around to break a cycle come back as ``back`` routes, self-calls as
``loop`` routes: a picture draws them so a cycle looks like one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from .svg import Box

__all__ = ["EdgeRoute", "GraphLayout", "NodePlace", "layered_layout"]

Point = tuple[float, float]


@dataclass
class NodePlace:
    name: str
    box: Box
    layer: int


@dataclass
class EdgeRoute:
    source: str
    target: str
    points: list[Point]
    back: bool = False  # reversed by the layout to break a cycle: drawn upward
    loop: bool = False  # a service calling itself


@dataclass
class GraphLayout:
    nodes: dict[str, NodePlace]
    edges: list[EdgeRoute]
    width: float
    height: float
    layers: int = 0
    extra: dict[str, object] = field(default_factory=dict)


class _VertexView:
    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy: Point = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[Point] = []

    def setpath(self, points: list[Point]) -> None:
        self.points = [(float(x), float(y)) for x, y in points]


def _back_edges(vertices: dict[str, Vertex], edges: list[tuple[str, str, Edge]]) -> set[int]:
    """The calls to draw upward: a small feedback set, found per cycle (strong component).

    Eades-Lin-Smyth ordering: sinks go last, sources first, otherwise the node nearest to where
    traffic enters (fewest calls from a service nobody calls), then the one with the most outgoing
    minus incoming calls. Calls pointing backwards in that order are the ones turned: for
    ``gateway -> api -> ... -> db -> api`` that is ``db -> api``, not the chain leading to db.
    """
    g = nx.DiGraph()
    g.add_nodes_from(vertices)
    g.add_edges_from((a, b) for a, b, _ in edges)
    rank: dict[str, int] = {}
    inf = len(vertices) + 1
    entries = [n for n in sorted(g) if g.in_degree(n) == 0]
    depth = nx.multi_source_dijkstra_path_length(g, entries) if entries else {}
    for comp in nx.strongly_connected_components(g):
        if len(comp) < 2:
            continue
        sub = g.subgraph(comp).copy()
        first: list[str] = []
        last: list[str] = []
        while sub:
            sinks = sorted(n for n in sub if sub.out_degree(n) == 0)
            sources = sorted(n for n in sub if sub.in_degree(n) == 0)
            if sinks:
                last = sinks + last
                sub.remove_nodes_from(sinks)
            elif sources:
                first += sources
                sub.remove_nodes_from(sources)
            else:
                pick = min(sorted(sub), key=lambda n: (depth.get(n, inf), sub.in_degree(n) - sub.out_degree(n)))
                first.append(pick)
                sub.remove_node(pick)
        rank.update({n: i for i, n in enumerate(first + last)})
    return {id(e) for a, b, e in edges if a in rank and b in rank and rank[b] <= rank[a]
            and nx.has_path(g, b, a)}


def layered_layout(nodes: list[str], edges: list[tuple[str, str]], sizes: dict[str, tuple[float, float]], *,
                   xspace: float = 36.0, yspace: float = 70.0, margin: float = 20.0,
                   component_gap: float = 60.0) -> GraphLayout:
    """Place ``nodes`` (boxes of ``sizes``) in layers so that most ``edges`` point down."""
    vertices = {n: Vertex(n) for n in nodes}
    for name, v in vertices.items():
        v.view = _VertexView(*sizes[name])
    real: list[tuple[str, str, Edge]] = []
    loops: list[tuple[str, str]] = []
    for a, b in edges:
        if a == b:
            loops.append((a, b))
            continue
        e = Edge(vertices[a], vertices[b])
        e.view = _EdgeView()
        real.append((a, b, e))
    graph = Graph(list(vertices.values()), [e for _, _, e in real])
    placed: dict[str, NodePlace] = {}
    back = _back_edges(vertices, real)
    x_offset, height, max_layers = margin, 0.0, 0
    components = sorted(graph.C, key=lambda c: (-c.order(), min(v.data for v in c.sV)))
    for comp in components:
        layout = SugiyamaLayout(comp)
        layout.xspace, layout.yspace = xspace, yspace
        roots = [v for v in comp.sV if len(v.e_in()) == 0]
        if not roots:  # a component that is one big cycle: start from its first name
            roots = [min(comp.sV, key=lambda v: v.data)]
        layout.init_all(roots=roots, inverted_edges=[e for e in comp.sE if id(e) in back])
        layout.draw(N=3.5)
        xs = [v.view.xy[0] - v.view.w / 2 for v in comp.sV]
        x0 = min(xs)
        right = 0.0
        for v in comp.sV:
            cx, cy = v.view.xy
            box = Box(cx - v.view.w / 2 - x0 + x_offset, cy - v.view.h / 2 + margin, v.view.w, v.view.h)
            placed[v.data] = NodePlace(v.data, box, layout.grx[v].rank)
            right = max(right, box.x2)
            height = max(height, box.y2)
        for e in comp.sE:
            e.view.setpath([(x - x0 + x_offset, y + margin) for x, y in e.view.points])
        max_layers = max(max_layers, len(layout.layers))
        x_offset = right + component_gap
    routes = [EdgeRoute(a, b, list(e.view.points), back=id(e) in back) for a, b, e in real]
    for a, b in loops:
        box = placed[a].box
        routes.append(EdgeRoute(a, b, [(box.x2, box.y + box.h * 0.3), (box.x2, box.y + box.h * 0.7)], loop=True))
    width = max(x_offset - component_gap + margin, 2 * margin)
    return GraphLayout(placed, routes, width, height + margin, max_layers)
