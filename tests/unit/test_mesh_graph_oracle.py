"""The hand-written graph algorithms and W3C extraction against the libraries they were measured
against (networkx, opentelemetry propagators): same answers (see the module docstrings for why the
libraries are not used at run time)."""
from __future__ import annotations

import logging

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mocktools.mesh import propagation
from mocktools.mesh.graph import CycleError, DependencyGraph

NAMES = [f"s{i}" for i in range(7)]
edges_strategy = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES)), max_size=18)


def _rotate(cycle: list[str]) -> list[str]:
    i = cycle.index(min(cycle))
    return cycle[i:] + cycle[:i]


@settings(max_examples=150, deadline=None)
@given(edges_strategy)
def test_graph_agrees_with_networkx(edges: list[tuple[str, str]]) -> None:
    g, d = DependencyGraph(), nx.DiGraph()
    for n in NAMES:
        g.add_service(n)
        d.add_node(n)
    for a, b in edges:
        g.add_edge(a, b)
        d.add_edge(a, b)
    want_cycles = sorted((_rotate(c) for c in nx.simple_cycles(d)), key=lambda c: (len(c), c))
    assert g.find_cycles(limit=10_000) == want_cycles
    want_scc = sorted(sorted(c) for c in nx.strongly_connected_components(d)
                      if len(c) > 1 or d.has_edge(next(iter(c)), next(iter(c))))
    assert g.strongly_connected() == want_scc
    for n in NAMES[:3]:
        assert g.transitive_dependencies(n) == set(nx.descendants(d, n)) | (
            {n} if any(n in c for c in want_cycles) else set())
        assert g.transitive_dependents(n) == set(nx.ancestors(d, n)) | (
            {n} if any(n in c for c in want_cycles) else set())
    path = g.shortest_path("s0", "s1")
    assert (path is None) == (not nx.has_path(d, "s0", "s1"))
    if path is not None:
        assert len(path) == nx.shortest_path_length(d, "s0", "s1") + 1
    if want_cycles:
        try:
            g.topological_order()
        except CycleError:
            pass
        else:
            raise AssertionError("a cyclic graph has no topological order")
    else:
        order = g.topological_order()
        position = {n: i for i, n in enumerate(order)}
        assert all(position[b] < position[a] for a, b in d.edges() if a != b)  # callees first


hexes = st.text("0123456789abcdef", min_size=1, max_size=1)
trace_ids = st.lists(hexes, min_size=32, max_size=32).map("".join).filter(lambda s: s != "0" * 32)
span_ids = st.lists(hexes, min_size=16, max_size=16).map("".join).filter(lambda s: s != "0" * 16)
keys = st.from_regex(r"[a-z][a-z0-9_\-*/]{0,10}", fullmatch=True)
values = st.from_regex(r"[A-Za-z0-9!#$%&'()*+\-./:;<>?@\[\]^_`{|}~]{1,12}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(trace_ids, span_ids, st.sampled_from(["00", "01"]),
       st.dictionaries(keys, values, max_size=5))
def test_w3c_extraction_agrees_with_opentelemetry(trace_id: str, span_id: str, flags: str,
                                                  state: dict[str, str]) -> None:
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    headers = {"traceparent": f"00-{trace_id}-{span_id}-{flags}"}
    if state:
        headers["tracestate"] = ",".join(f"{k}={v}" for k, v in state.items())
    ours = propagation.extract(headers)
    theirs = trace.get_current_span(TraceContextTextMapPropagator().extract(headers)).get_span_context()
    assert ours.context is not None and theirs.is_valid
    assert ours.context.trace_id == f"{theirs.trace_id:032x}" and ours.context.span_id == f"{theirs.span_id:016x}"
    assert ours.context.flags & 1 == int(theirs.trace_flags) & 1
    assert dict(ours.context.tracestate) == dict(theirs.trace_state)
