"""The pictures as a person sees them: rendered by a real headless chromium, screenshotted into a
temporary folder, and checked for what is visible (elements, legend, labels that do not overlap)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import requests

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.topology import layered_spec
from mocktools.mock_group import MockRegistry
from mocktools.ofd.mock import MockOFDServer
from mocktools.visual.graph_state import mesh_state
from mocktools.visual.graph_svg import render_graph
from mocktools.visual.waterfall_svg import render_waterfall
from tests.visual.browser import (
    colour_pixels,
    distinct_colours,
    measure,
    needs_browser,
    screenshot,
)

pytestmark = needs_browser

OPEN_RED = (0xC6, 0x28, 0x28)
ERROR_RED = (0xD3, 0x2F, 0x2F)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def mesh() -> Any:
    """A 50-service mesh after one checkout: two breakers open, one instance down."""
    with MockServiceMesh(layered_spec(50), seed=7, breakers={"default": {"minimum_calls": 50}}) as m:
        r = m.request("gateway", "/checkout")
        assert r.status_code == 200
        m.wait_for_trace(r.json()["trace_id"], min_spans=40)
        m.breakers["gateway->api-2"].transition_to_open("test: api-2 is failing")
        m.breakers["mid-0->leaf-0"].transition_to_open("test: leaf-0 is failing")
        m.instances["db"][1].stop()
        m.trace_id = r.json()["trace_id"]  # type: ignore[attr-defined]
        yield m


def _overlaps(labels: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(a, b) for i, (a, ba) in enumerate(labels) for b, bb in labels[i + 1:] if ba.overlaps(bb)]


def test_graph_of_50_services_with_two_open_breakers_reads_in_a_browser(mesh: Any, tmp_path: Path) -> None:
    pic = render_graph(mesh.graph.to_dict(), mesh_state(mesh, mesh.trace_id))
    root = ET.fromstring(pic.svg.encode())  # valid XML
    states = [g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    assert states.count("OPEN") == 2 and "CLOSED" in states
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]) == 50
    assert _overlaps(pic.labels) == []  # in the layout's own coordinates
    top_row = {n for n, p in pic.layout.nodes.items() if p.layer == 0}
    assert "gateway" in top_row and "db" not in top_row

    size = (int(pic.width) + 20, int(pic.height) + 20)
    page = tmp_path / "graph.svg"
    page.write_text(pic.svg)
    shot = screenshot(tmp_path, page, size, "graph")
    assert colour_pixels(shot, OPEN_RED, 30) > 200  # the open breakers are drawn red (and crossed)
    assert distinct_colours(shot) > 50

    seen = measure(tmp_path, pic.svg.split("?>", 1)[1], size,
                   ["g.node", "g.edge[data-state=OPEN]", "circle.instance-down", "path.trace-path", ".legend"])
    assert seen["counts"]["g.node"] == 50
    assert seen["counts"]["g.edge[data-state=OPEN]"] == 2
    assert seen["counts"]["circle.instance-down"] == 1
    assert seen["counts"]["path.trace-path"] > 10
    assert seen["overlap_count"] == 0, seen["overlaps"]
    legend = seen["legends"][0]
    assert legend["w"] > 300 and legend["h"] > 30 and 0 <= legend["y"] < size[1]
    assert {"closed", "half-open", "open", "instance down", "on a cycle"} <= set(legend["texts"])
    assert seen["texts"] >= 2 * 50  # every service name and its instance count are on screen


def test_five_hop_fan_out_trace_waterfall_reads_in_a_browser(mesh: Any, tmp_path: Path) -> None:
    pic = render_waterfall(mesh.trace(mesh.trace_id))
    ET.fromstring(pic.svg.encode())
    depth_services = {(r.depth, r.span.service.split("-")[0]) for r in pic.rows if r.span.kind == "SERVER"}
    assert {(0, "gateway"), (2, "api"), (4, "mid"), (6, "leaf"), (8, "db")} <= depth_services  # 5 hops
    fan_out = [r for r in pic.rows if r.depth == 1]
    assert len(fan_out) >= 4  # the gateway calls every API tier service in parallel
    assert _overlaps(pic.labels) == []
    size = (1300, int(pic.height) + 20)
    page = tmp_path / "trace.svg"
    page.write_text(pic.svg)
    shot = screenshot(tmp_path, page, size, "trace")
    assert distinct_colours(shot) > 50
    seen = measure(tmp_path, pic.svg.split("?>", 1)[1], size, ["g.span", "rect.bar", ".legend"])
    assert seen["counts"]["g.span"] == len(pic.rows) >= 40
    assert seen["overlap_count"] == 0, seen["overlaps"]
    assert "error (red, hatched, ⚠)" in seen["legends"][0]["texts"]


def test_trace_with_errors_shows_them_in_red_with_a_marker(tmp_path: Path) -> None:
    spec = layered_spec(12, instances=1)
    with MockServiceMesh(spec) as mesh:
        mesh.instances["leaf-0"][0].set_permanent_failure(status=503)
        r = mesh.request("gateway", "/checkout")
        assert r.status_code == 502
        trace_id = mesh.spans.trace_ids()[-1]
        mesh.wait_for_trace(trace_id, min_spans=10, timeout=3)
        pic = render_waterfall(mesh.trace(trace_id))
    root = ET.fromstring(pic.svg.encode())
    errors = [g for g in root.iter(f"{SVG}g") if "error" in (g.get("class") or "").split()]
    assert errors and all(g.find(f"{SVG}path[@class='error-marker']") is not None for g in errors)
    page = tmp_path / "errors.svg"
    page.write_text(pic.svg)
    shot = screenshot(tmp_path, page, (1300, int(pic.height) + 20), "errors")
    assert colour_pixels(shot, ERROR_RED, 30) > 300


def test_report_opens_without_network_and_shows_every_mock(mesh: Any, tmp_path: Path) -> None:
    ofd = MockOFDServer()
    registry = MockRegistry({"ofd": ofd})
    with registry:
        ofd.set_failure_count(1)
        for i in range(3):
            requests.post(ofd.url + "/ofd/v1/receipt", json={"id": f"r-{i}", "items": [{"name": "tea", "qty": 2}] * 5},
                          timeout=5)
        both = MockRegistry({"ofd": ofd, "mesh": mesh})  # the module's running mesh beside the OFD mock
        path = both.report(tmp_path / "report.html", title="report check")
    doc = path.read_text()
    assert not re.search(r"<script|<link|<img|<iframe|src=|url\((?!#)|@import", doc)  # nothing to fetch
    shot = screenshot(tmp_path, path, (1400, 2200), "report")
    assert distinct_colours(shot) > 50
    seen = measure(tmp_path, doc, (1400, 2200), ["section.mock", "table", "svg", "details"])
    assert seen["counts"]["section.mock"] == 2
    assert seen["counts"]["svg"] >= 3  # timeline, graph, waterfalls
    assert seen["counts"]["details"] >= 3  # request bodies, folded
    assert seen["overlap_count"] == 0, seen["overlaps"]
