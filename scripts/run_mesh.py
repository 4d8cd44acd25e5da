#!/usr/bin/env python
"""Start a MockServiceMesh from a spec file, registry API on the well-known port 8500, and print every hop.

    .venv/bin/python scripts/run_mesh.py                          # examples/mesh.yaml on 127.0.0.1:8500
    .venv/bin/python scripts/run_mesh.py --spec my.yaml --port 18500 --otlp http://127.0.0.1:4318
    .venv/bin/python scripts/run_mesh.py --layered 50              # a generated 50-service mesh

Then, from another shell:
    curl -s localhost:8500/v1/catalog/services                      # Consul-style discovery
    curl -s "localhost:8500/v1/health/service/gateway?passing=1"    # where the gateway instances listen
    curl -s localhost:<gateway port>/checkout                       # a request through the whole mesh
    curl -s "localhost:8500/_mock/mesh/graph?format=mermaid"        # the dependency graph
Each hop prints one line: trace id, service/instance, endpoint, status, duration.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mocktools.cli import Parser, add_fault_arguments, apply_fault_arguments, build_mock, port_number  # noqa: E402
from mocktools.mesh import MeshSpan, MockServiceMesh  # noqa: E402
from mocktools.mesh.otlp_export import OTLPExportError  # noqa: E402
from mocktools.mesh.topology import layered_spec  # noqa: E402

DEFAULT_SPEC = Path(__file__).resolve().parents[1] / "examples" / "mesh.yaml"


def describe(span: MeshSpan) -> str:
    caller = span.attributes.get("mesh.caller", "client")
    return (f"trace={span.trace_id} {caller:>12} -> {span.service}/{span.instance} {span.name} "
            f"{span.status_code} {span.duration * 1000:.2f}ms hops={span.attributes.get('mesh.hops', 0)}")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=str(DEFAULT_SPEC), help="mesh spec (YAML or JSON)")
    parser.add_argument("--layered", type=int, default=0, help="ignore --spec; generate a mesh of N services")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=MockServiceMesh.default_port)
    parser.add_argument("--otlp", help="OTLP/HTTP collector to export spans to every --export-every seconds")
    parser.add_argument("--export-every", type=float, default=5.0)
    parser.add_argument("--quiet", action="store_true", help="do not print every hop")
    add_fault_arguments(parser)  # on the registry API
    args = parser.parse_args(argv)

    spec = layered_spec(args.layered) if args.layered else args.spec
    mesh = build_mock(parser, MockServiceMesh, spec, args.host, args.port)  # a bad spec: one line, exit 2
    apply_fault_arguments(mesh, args)
    lock = threading.Lock()
    if not args.quiet:
        def on_span(span: MeshSpan) -> None:
            if span.kind == "server":
                with lock:
                    print(describe(span), flush=True)
        mesh.spans.subscribe(on_span)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with mesh:
        print(f"mesh {mesh.spec.name!r}: registry API {mesh.url} ({len(mesh.spec.services)} services)")
        for name, group in sorted(mesh.instances.items()):
            print(f"  {name:<14} " + "  ".join(i.url for i in group))
        for cycle in mesh.graph.find_cycles():
            print("  cycle: " + " -> ".join(cycle + [cycle[0]]))
        exported: set[str] = set()
        try:
            while not stop.wait(args.export_every if args.otlp else 3600):
                if args.otlp:
                    fresh = [t for t in mesh.spans.trace_ids() if t not in exported]
                    try:
                        sent = sum(mesh.export_otlp(args.otlp, t) for t in fresh)
                        exported.update(fresh)
                        if sent:
                            print(f"exported {sent} spans of {len(fresh)} traces to {args.otlp}", flush=True)
                    except OTLPExportError as exc:
                        print(f"OTLP export failed: {exc}", flush=True)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
