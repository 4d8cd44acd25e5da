#!/usr/bin/env python
"""Regenerate the pictures in docs/img/ from live mocks (what docs/mesh.md and docs/otlp.md show).

    .venv/bin/python scripts/render_pictures.py            # writes docs/img/*.svg
    .venv/bin/python scripts/render_pictures.py --out /tmp/pics --report /tmp/pics/report.html

The mesh is the shop of docs/mesh.md with a call back up (a cycle), one breaker open, one
half-open, an instance down and a chaos scenario; the OTLP trace comes from the real
OpenTelemetry SDK exporting to MockOTLPCollector.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mocktools.mesh import MockServiceMesh
from mocktools.mock_group import MockRegistry
from mocktools.otlp import MockOTLPCollector
from mocktools.visual.waterfall_svg import waterfall_svg

SHOP = {
    "name": "shop",
    "services": {
        "gateway": {"instances": 2, "endpoints": {"/checkout": {"calls": [
            "auth:/verify", {"parallel": ["cart:/items", "pricing:/quote"]}, {"async": ["audit:/log"]}]}}},
        "auth": {"endpoints": {"/verify": {"response": {"user": "alice"}}}},
        "cart": {"instances": 2, "endpoints": {"/items": {"calls": ["db:/query"]}}},
        "pricing": {"endpoints": {"/quote": {"latency_ms": 2, "calls": ["db:/query", "rates:/today"]}}},
        "rates": {"endpoints": {"/today": {"response": {"eur": 1.08}}, "/refresh": {"calls": ["pricing:/quote"]}}},
        "db": {"instances": 3, "endpoints": {"/query": {"response": {"rows": 1}}}},
        "audit": {"endpoints": {"/log": {"status": 202}}},
    },
}


def otlp_trace(collector: MockOTLPCollector) -> str:
    """Three services, each its own SDK tracer provider (so its own service.name), one trace."""
    tracers = {}
    providers = []
    for service in ("shop-frontend", "stock-service", "pricing-service"):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=collector.endpoint("traces"),
                                                                         timeout=5)))
        providers.append(provider)
        tracers[service] = provider.get_tracer("demo")
    front, stock, price = tracers["shop-frontend"], tracers["stock-service"], tracers["pricing-service"]
    client, server = trace_api.SpanKind.CLIENT, trace_api.SpanKind.SERVER
    with front.start_as_current_span("POST /checkout", kind=server) as root:
        with front.start_as_current_span("validate basket"):
            pass
        with front.start_as_current_span("GET /stock", kind=client), \
                stock.start_as_current_span("GET /stock", kind=server), \
                stock.start_as_current_span("SELECT items", kind=client):
            pass
        with front.start_as_current_span("GET /price", kind=client), \
                price.start_as_current_span("GET /price", kind=server) as handler, \
                price.start_as_current_span("SELECT rates", kind=client) as query:
            query.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "deadline exceeded"))
            handler.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "rates unavailable"))
        with front.start_as_current_span("publish order", kind=trace_api.SpanKind.PRODUCER):
            pass
        trace_id = format(root.get_span_context().trace_id, "032x")
    for provider in providers:
        provider.shutdown()
    return trace_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "img"))
    parser.add_argument("--report", help="also write the HTML report of both mocks here")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    breakers = {"default": {"minimum_calls": 50, "wait_duration": 0}}
    mesh, collector = MockServiceMesh(SHOP, seed=1, breakers=breakers), MockOTLPCollector(grpc_port=None)
    with MockRegistry({"mesh": mesh, "otlp": collector}) as registry:
        mesh.add_dependency("rates", "pricing", endpoint="/refresh", target="/quote")  # the call back up
        r = mesh.request("gateway", "/checkout")
        trace_id = r.json()["trace_id"]
        mesh.wait_for_trace(trace_id, expected=[("audit", "/log")])
        mesh.breakers.get("cart", "db").transition_to_open("demo: db timeouts")
        half = mesh.breakers.get("pricing", "rates")
        half.transition_to_open("demo: rates failing")
        half.try_acquire()  # wait_duration 0: the next attempt is the half-open trial
        half.release()
        mesh.instances["db"][2].stop()
        mesh.chaos.latency(service="auth", seconds=0.05)
        (out / "mesh-graph.svg").write_text(mesh.graph.to_svg(trace_id=trace_id, title="mesh shop"))
        (out / "mesh-trace.svg").write_text(waterfall_svg(mesh.trace(trace_id), title="mesh trace of GET /checkout"))
        otlp_id = otlp_trace(collector)
        (out / "otlp-trace.svg").write_text(waterfall_svg(collector.get_trace(otlp_id)))
        if args.report:
            print("report:", registry.report(args.report, title="mocktools pictures demo"))
    for name in ("mesh-graph.svg", "mesh-trace.svg", "otlp-trace.svg"):
        print(f"{out / name}: {(out / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
