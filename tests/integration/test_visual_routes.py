"""The pictures over HTTP: a real OpenTelemetry SDK trace drawn by the collector, the mesh graph
and trace waterfalls under /_mock/mesh/, and the HTML reports of both."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.spec import CallSpec, EndpointSpec, ServiceSpec
from mocktools.mesh.topology import layered_spec
from mocktools.otlp import MockOTLPCollector
from mocktools.visual.waterfall_svg import render_waterfall

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def mesh() -> Iterator[MockServiceMesh]:
    with MockServiceMesh(layered_spec(12, instances=1)) as m:
        yield m


def _fan_out_trace(collector: MockOTLPCollector) -> str:
    """Five levels deep, a fan-out of three at the second, one failing call, through the real SDK."""
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=collector.endpoint("traces"),
                                                                     timeout=5)))
    tracer = provider.get_tracer("checkout")
    with tracer.start_as_current_span("POST /checkout", kind=trace_api.SpanKind.SERVER) as root:
        for part in ("stock", "price", "cart"):
            with tracer.start_as_current_span(f"call {part}", kind=trace_api.SpanKind.CLIENT), \
                    tracer.start_as_current_span(f"{part} handler", kind=trace_api.SpanKind.SERVER), \
                    tracer.start_as_current_span("db query", kind=trace_api.SpanKind.CLIENT) as q:
                with tracer.start_as_current_span("row decode") as leaf:
                    leaf.add_event("decoded", {"rows": 3})
                if part == "price":
                    q.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "timeout"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


def test_otlp_trace_waterfall_from_the_real_sdk() -> None:
    with MockOTLPCollector(grpc_port=None) as collector:
        trace_id = _fan_out_trace(collector)
        trace = collector.get_trace(trace_id)
        pic = render_waterfall(trace)
        assert [(r.depth, r.span.name) for r in pic.rows][:6] == [
            (0, "POST /checkout"), (1, "call stock"), (2, "stock handler"), (3, "db query"), (4, "row decode"),
            (1, "call price")]
        assert len(pic.rows) == 13 and all(not r.orphan for r in pic.rows)
        errors = [r.span for r in pic.rows if r.span.error]
        assert [(s.name, s.status) for s in errors] == [("db query", "ERROR: timeout")]
        r = requests.get(f"{collector.url}/_mock/otlp/traces/{trace_id}/waterfall.svg", timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg+xml")
        root = ET.fromstring(r.content)
        spans = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("span")]
        assert {g.get("data-kind") for g in spans} == {"SERVER", "CLIENT", "INTERNAL"}
        assert "shop" in r.text and "ERROR: timeout" in r.text
        missing = requests.get(f"{collector.url}/_mock/otlp/traces/{'0' * 32}/waterfall.svg", timeout=5)
        assert missing.status_code == 404 and "no spans" in missing.json()["error"]["message"]
        page = requests.get(f"{collector.url}/_mock/otlp/report.html", timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "Telemetry received" in page.text and "<svg" in page.text and "/v1/traces" in page.text
        assert "shown as OTLP/JSON" in page.text and "&quot;resourceSpans&quot;" in page.text  # decoded


def test_mesh_graph_and_trace_waterfall_routes(mesh: MockServiceMesh) -> None:
    r = mesh.request("gateway", "/checkout")
    trace_id = r.json()["trace_id"]
    mesh.wait_for_trace(trace_id, min_spans=10)
    base = f"{mesh.url}/_mock/mesh"
    for url in (f"{base}/graph?format=svg", f"{base}/graph.svg", f"{base}/graph?format=svg&trace_id={trace_id}"):
        got = requests.get(url, timeout=5)
        assert got.status_code == 200 and got.headers["Content-Type"].startswith("image/svg+xml")
        root = ET.fromstring(got.content)
        assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]) == len(mesh.spec.services)
    assert "trace-path" in got.text and f"trace {trace_id[:16]}" in got.text
    assert requests.get(f"{base}/graph?format=svg&trace_id=nope", timeout=5).status_code == 404
    assert requests.get(f"{base}/graph?format=png", timeout=5).status_code == 400
    wf = requests.get(f"{base}/traces/{trace_id}/waterfall.svg", timeout=5)
    assert wf.status_code == 200
    rows = [g for g in ET.fromstring(wf.content).iter(f"{SVG}g") if (g.get("class") or "").startswith("span")]
    assert len(rows) == len(mesh.trace(trace_id))
    assert requests.get(f"{base}/traces/nope/waterfall.svg", timeout=5).status_code == 404
    page = requests.get(f"{base}/report.html", timeout=5)
    assert page.status_code == 200 and "Dependency graph" in page.text and "Circuit breakers" in page.text


def test_graph_svg_follows_the_live_mesh(mesh: MockServiceMesh) -> None:
    mesh.reset()
    try:
        mesh.instances["db"][0].set_permanent_failure(status=503)
        mesh.chaos.latency(service="api-0", seconds=0.001)
        mesh.breakers.get("gateway", "api-1").force_open()
        root = ET.fromstring(mesh.graph.to_svg().encode())
        nodes = {g.get("data-service"): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
        edges = {(g.get("data-source"), g.get("data-target")): g for g in root.iter(f"{SVG}g")
                 if g.get("class") == "edge"}
        assert nodes["db"].get("data-status") == "down" and nodes["api-1"].get("data-status") == "up"
        assert "injected permanent failure" in (nodes["db"].findtext(f"{SVG}title") or "")
        assert edges[("gateway", "api-1")].get("data-state") == "FORCED_OPEN"
        assert "⚡chaos-1 latency" in ET.tostring(nodes["api-0"], encoding="unicode")
        mesh.add_service(ServiceSpec("extra", endpoints={"/": EndpointSpec("/", calls=[CallSpec("db", "/query")])}))
        assert 'data-service="extra"' in mesh.graph.to_svg()
    finally:
        mesh.reset()
    assert 'data-service="extra"' not in mesh.graph.to_svg()  # reset rebuilt the graph; it is still live
    assert mesh.graph.owner is mesh
