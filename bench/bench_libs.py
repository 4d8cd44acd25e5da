"""Hand-written code beside the libraries that could replace it (issue 13): speed and fidelity.

- mesh/graph.py: cycles, SCCs, topological order, paths vs networkx and graphlib
- teraslice/query.py: the Lucene subset vs luqum's parser
- mesh/propagation.py: W3C/B3/Jaeger extraction vs the opentelemetry propagators

Run: .venv/bin/python -m bench.bench_libs   (prints numbers, asserts nothing)
"""
from __future__ import annotations

import functools
import graphlib
import subprocess
import sys
import time
from typing import Any, Callable


def per_call(fn: Callable[[], Any], min_seconds: float = 0.3) -> float:
    """Median-free simple rate: calls for at least `min_seconds`, returns microseconds per call."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / n * 1e6


def import_ms(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out)


def graph_bench() -> None:


    print(f"import networkx: {import_ms('networkx'):.0f} ms; import graphlib: {import_ms('graphlib'):.1f} ms")
    for size in (50, 500):
        _graph_size(size)


def _graph_size(size: int) -> None:
    import networkx as nx

    from mocktools.mesh.graph import DependencyGraph
    from mocktools.mesh.topology import layered_spec

    g = DependencyGraph.from_spec(layered_spec(size))
    for i in range(0, size // 10):  # some cycles: leaf -> api back edges
        g.add_edge(f"leaf-{i % 3}", f"api-{i % 4}")

    def to_nx() -> Any:
        d = nx.DiGraph()
        d.add_nodes_from(g.services)
        d.add_edges_from((a, b) for a, b, _ in g.edges())
        return d

    nxg = to_nx()
    ours = g.find_cycles(limit=100)
    theirs = sorted((_rotate(c) for c in _take(nx.simple_cycles(nxg), 10_000)), key=lambda c: (len(c), c))[:100]
    ours_scc = g.strongly_connected()
    theirs_scc = sorted(sorted(c) for c in nx.strongly_connected_components(nxg)
                        if len(c) > 1 or nxg.has_edge(next(iter(c)), next(iter(c))))

    acyclic = DependencyGraph.from_spec(layered_spec(size))

    def graphlib_order() -> list[str]:
        ts = graphlib.TopologicalSorter({n: acyclic.dependencies(n) for n in acyclic.services})
        return list(ts.static_order())

    acyclic_nx = nx.DiGraph([(a, b) for a, b, _ in acyclic.edges()])
    rows = [
        ("find_cycles", lambda: g.find_cycles(limit=100),
         lambda: sorted(_rotate(c) for c in _take(nx.simple_cycles(to_nx()), 10_000))),
        ("strongly_connected", g.strongly_connected, lambda: list(nx.strongly_connected_components(to_nx()))),
        ("topological_order", acyclic.topological_order,
         lambda: list(nx.topological_sort(nx.DiGraph([(a, b) for a, b, _ in acyclic.edges()])))),
        ("shortest_path", lambda: g.shortest_path("gateway", "db"),
         lambda: nx.shortest_path(to_nx(), "gateway", "db")),
    ]
    print(f"\n{size} services, {len(g.edges())} edges; cycles equal: {ours == theirs}; "
          f"SCCs equal: {ours_scc == theirs_scc}")
    print(f"  {'operation':<20} {'mocktools us':>13} {'networkx us':>12}  (networkx incl. building the DiGraph)")
    for name, mine, lib in rows:
        print(f"  {name:<20} {per_call(mine):>13.0f} {per_call(lib):>12.0f}")
    print(f"  {'topological (graphlib)':<20} {per_call(graphlib_order):>12.0f} us"
          f"   (no DiGraph: {per_call(lambda: list(nx.topological_sort(acyclic_nx))):.0f} us)")


def _take(it: Any, n: int) -> list[Any]:
    out = []
    for item in it:
        out.append(item)
        if len(out) >= n:
            break
    return out


def _rotate(cycle: list[str]) -> list[str]:
    i = cycle.index(min(cycle))
    return cycle[i:] + cycle[:i]


QUERIES = ["ex_id:abc123", "status:running AND name:foo*", "workers:>=3", "(status:failed OR status:stopped) AND NOT name:tmp",
           "_created:[2024-01-01 TO 2025-01-01]"]


def query_bench() -> None:
    from luqum.parser import parser as luqum_parser

    from mocktools.teraslice import query as ours

    print(f"\nimport luqum.parser: {import_ms('luqum.parser'):.0f} ms")
    print(f"  {'query':<55} {'cached us':>13} {'luqum us':>9}  (mocktools parses with luqum, cached by query)")
    for q in QUERIES:
        try:
            ours.parse_query(q)
            mine = f"{per_call(functools.partial(ours.parse_query, q), 0.2):>13.1f}"
        except Exception as exc:  # what the hand-written parser does not accept
            mine = f"{type(exc).__name__:>13}"
        try:
            luqum_parser.parse(q)
            lib = f"{per_call(functools.partial(luqum_parser.parse, q), 0.2):>9.1f}"
        except Exception as exc:
            lib = f"{type(exc).__name__:>9}"
        print(f"  {q:<55} {mine} {lib}")


#: (traceparent, tracestate, what the W3C Trace Context spec says a receiver keeps)
W3C_CASES = [
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "congo=t61rcWkgMzE", "parent+state"),
    ("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", "", "none"),            # upper-case hex
    ("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", "none"),            # version ff
    ("00-00000000000000000000000000000000-b7ad6b7169203331-01", "", "none"),            # zero trace id
    ("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "", "none"),            # zero parent id
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", "", "none"),      # v00 with a tail
    ("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", "", "parent"),    # future version tail
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g", "", "none"),            # bad flags
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "a=1,a=1", "parent|parent+state"),  # dup key: keep or dedupe
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", ",".join(f"k{i}=v" for i in range(33)), "parent"),
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "Bad Key=1", "parent"),
    (" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", "parent"),         # leading OWS
]


def propagation_bench() -> None:
    import logging

    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from mocktools.mesh import propagation as ours

    print(f"\nimport opentelemetry propagators: {import_ms('opentelemetry.trace.propagation.tracecontext'):.0f} ms")
    otel = TraceContextTextMapPropagator()
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)  # it warns on every invalid tracestate

    def otel_kept(tp: str, ts: str) -> str:
        span = trace.get_current_span(otel.extract({"traceparent": tp, **({"tracestate": ts} if ts else {})}))
        sc = span.get_span_context()
        if not sc.is_valid:
            return "none"
        return "parent+state" if len(sc.trace_state) else "parent"

    def ours_kept(tp: str, ts: str) -> str:
        got = ours.extract({"traceparent": tp, **({"tracestate": ts} if ts else {})})
        if got.context is None:
            return "none"
        return "parent+state" if got.context.tracestate else "parent"

    right = {"mocktools": 0, "opentelemetry": 0}
    for tp, ts, want in W3C_CASES:
        a, b = ours_kept(tp, ts), otel_kept(tp, ts)
        right["mocktools"] += a in want.split("|")
        right["opentelemetry"] += b in want.split("|")
        if a not in want.split("|") or b not in want.split("|"):
            print(f"  {tp[:24]}... {ts[:16]!r:<18} spec: {want:<12} mocktools: {a:<12} opentelemetry: {b}")
    print(f"  W3C decisions right: mocktools {right['mocktools']}/{len(W3C_CASES)}, "
          f"opentelemetry {right['opentelemetry']}/{len(W3C_CASES)} (and only mocktools says why it dropped one)")
    headers = {"traceparent": W3C_CASES[0][0], "tracestate": W3C_CASES[0][1]}
    print(f"  extract w3c: mocktools {per_call(lambda: ours.extract(headers), 0.2):.1f} us, "
          f"opentelemetry {per_call(lambda: otel.extract(headers), 0.2):.1f} us")


def main() -> None:
    graph_bench()
    query_bench()
    propagation_bench()


if __name__ == "__main__":
    main()
