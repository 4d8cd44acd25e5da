"""The trace waterfall without a browser: row order, time axis, errors, a 200-span trace."""
from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from mocktools.mesh.spans import MeshSpan
from mocktools.visual.trace_rows import ViewSpan, to_rows, view_spans
from mocktools.visual.waterfall_svg import LEFT, WIDTH, render_waterfall

SVG = "{http://www.w3.org/2000/svg}"


def _overlaps(labels: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(a, b) for i, (a, ba) in enumerate(labels) for b, bb in labels[i + 1:] if ba.overlaps(bb)]


def _big_trace(n: int = 200, seed: int = 3) -> list[ViewSpan]:
    rnd = random.Random(seed)
    spans = [ViewSpan("s0", None, "GET /checkout", "gateway", "SERVER", 0.0, 2.0)]
    for i in range(1, n):
        parent = spans[rnd.randrange(len(spans))]
        start = parent.start + rnd.random() * parent.duration * 0.5
        end = start + rnd.random() * (parent.end - start)
        spans.append(ViewSpan(f"s{i}", parent.span_id, f"operation-number-{i} with a long name", f"service-{i % 17}",
                              rnd.choice(["SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER"]), start, end,
                              error=i % 23 == 0, status="ERROR: boom" if i % 23 == 0 else "OK"))
    return spans


def test_rows_nest_by_parent_and_keep_orphans() -> None:
    spans = [ViewSpan("c2", "r", "b", "svc", "CLIENT", 2, 3), ViewSpan("r", None, "root", "svc", "SERVER", 0, 5),
             ViewSpan("c1", "r", "a", "svc", "CLIENT", 1, 2), ViewSpan("g", "c1", "g", "db", "SERVER", 1.1, 1.9),
             ViewSpan("o", "missing", "orphan", "x", "SERVER", 4, 4.5)]
    rows = to_rows(spans)
    assert [(r.depth, r.span.span_id, r.orphan) for r in rows] == [
        (0, "r", False), (1, "c1", False), (2, "g", False), (1, "c2", False), (0, "o", True)]


def test_mesh_spans_are_drawn_on_their_real_time_axis() -> None:
    t = 1_700_000_000.0
    spans = [MeshSpan("t1", "a", None, "GET /", "gateway", "gw-0", "/", "server", t, 0.100),
             MeshSpan("t1", "b", "a", "call db/q", "gateway", "gw-0", "/q", "client", t + 0.010, 0.050),
             MeshSpan("t1", "c", "b", "GET /q", "db", "db-0", "/q", "server", t + 0.012, 0.040, "error", 503)]
    pic = render_waterfall(spans)
    root = ET.fromstring(pic.svg.encode())
    assert "trace t1" in str(root.findtext(f"{SVG}title"))
    a, b, c = pic.bars["a"], pic.bars["b"], pic.bars["c"]
    span_px = a.w / 0.100
    assert b.x - a.x == pytest.approx(0.010 * span_px, abs=0.5)
    assert c.w == pytest.approx(0.040 * span_px, abs=0.5)
    groups = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("span")]
    assert [g.get("data-kind") for g in groups] == ["SERVER", "CLIENT", "SERVER"]
    err = [g for g in groups if "error" in g.get("class", "")]
    assert len(err) == 1 and err[0].get("data-service") == "db"
    assert err[0].find(f"{SVG}path[@class='error-marker']") is not None
    texts = [t for t, _ in pic.labels]
    assert "⚠ db" in texts and "40ms ERROR 503" in texts and "100ms" in texts


def test_two_hundred_spans_stay_readable() -> None:
    pic = render_waterfall(_big_trace(), title="big")
    ET.fromstring(pic.svg.encode())
    assert len(pic.rows) == 200 and pic.height < 200 * 22 + 200
    assert _overlaps(pic.labels) == []
    assert all(LEFT < bar.x and bar.x2 <= WIDTH for bar in pic.bars.values())
    assert all(box.x >= 0 and box.x2 <= WIDTH for _, box in pic.labels)
    assert sum(t.startswith("⚠ ") for t, _ in pic.labels) == sum(1 for r in pic.rows if r.span.error) > 5


def test_view_spans_reject_what_it_cannot_draw() -> None:
    assert view_spans([]) == []
    empty = render_waterfall([], title="nothing")
    assert empty.rows == [] and ET.fromstring(empty.svg.encode()).tag == f"{SVG}svg"
    with pytest.raises(TypeError, match="cannot draw spans"):
        view_spans([object()])
