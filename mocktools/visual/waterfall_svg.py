"""A trace as a Jaeger-style waterfall in SVG: one row per span, nested by parent, bars on the
trace's real time axis, coloured by service, errors red, hatched and flagged with a warning mark."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from .svg import (
    Box,
    clip,
    el,
    fmt_duration,
    nice_step,
    service_colour,
    svg_root,
    text,
    text_width,
    to_string,
)
from .trace_rows import Row, ViewSpan, to_rows, view_spans

__all__ = ["WaterfallPicture", "render_waterfall", "waterfall_svg"]

WIDTH, LEFT, ROW, BAR = 1280.0, 460.0, 22.0, 12.0
ERROR = "#d32f2f"
KINDS = {"SERVER": "S", "CLIENT": "C", "PRODUCER": "P", "CONSUMER": "K", "INTERNAL": "I", "UNSPECIFIED": "·"}
MAX_INDENT_DEPTH = 16


@dataclass
class WaterfallPicture:
    svg: str
    rows: list[Row]
    bars: dict[str, Box] = field(default_factory=dict)  # span id -> its bar
    labels: list[tuple[str, Box]] = field(default_factory=list)
    legend: Box = field(default_factory=lambda: Box(0, 0, 0, 0))
    width: float = WIDTH
    height: float = 0.0


def waterfall_svg(trace: Any, *, title: str | None = None) -> str:
    return render_waterfall(trace, title=title).svg


def _label(g: ET.Element, out: list[tuple[str, Box]], x: float, y: float, label: str, size: float = 11.0,
           anchor: str = "start", **attrs: Any) -> None:
    text(g, x, y, label, size=size, anchor=anchor, **attrs)
    w = text_width(label, size)
    left = x - w if anchor == "end" else x
    out.append((label, Box(left, y - 0.82 * size, w, size * 1.05)))


def render_waterfall(trace: Any, *, title: str | None = None) -> WaterfallPicture:
    """Draw an OTLP ``Trace`` (``collector.get_trace(id)``), a list of mesh spans, or ViewSpans."""
    spans = view_spans(trace)
    rows = to_rows(spans)
    trace_id = getattr(trace, "trace_id", None)
    if trace_id is None and isinstance(trace, list) and trace:
        trace_id = getattr(trace[0], "trace_id", None)
    services = sorted({s.service for s in spans})
    t0 = min((s.start for s in spans), default=0.0)
    t1 = max((s.end for s in spans), default=0.0)
    total = max(t1 - t0, 1e-6)
    errors = sum(1 for s in spans if s.error)
    heading = title or f"trace {trace_id or ''}".strip()
    heading += f" · {len(spans)} spans · {len(services)} services · {fmt_duration(t1 - t0)}"
    if errors:
        heading += f" · {errors} error{'s' if errors > 1 else ''}"
    labels: list[tuple[str, Box]] = []
    header = ET.Element("g", {"class": "header"})
    _label(header, labels, 16, 26, clip(heading, WIDTH - 32, 15), 15, font_weight="bold", fill="#212121",
           class_="title")
    legend_box, y = _legend(header, labels, services, 44)
    axis_top = y + 8
    rows_top = axis_top + 26
    height = rows_top + len(rows) * ROW + 16
    root = svg_root(WIDTH, height, heading)
    defs = el(root, "defs")
    hatch = el(defs, "pattern", id="error-hatch", width=6, height=6, patternUnits="userSpaceOnUse",
               patternTransform="rotate(45)")
    el(hatch, "rect", x=0, y=0, width=3, height=6, fill="#ffffff", fill_opacity=0.55)
    root.append(header)
    x0, x1 = LEFT + 12, WIDTH - 24

    def tx(t: float) -> float:
        return x0 + (t - t0) / total * (x1 - x0)

    grid = el(root, "g", class_="axis")
    step = nice_step(total, 8)
    k = 0
    while k * step <= total * 1.0001:
        x = tx(t0 + k * step)
        el(grid, "line", x1=x, y1=axis_top + 14, x2=x, y2=height - 12, stroke="#e0e0e0", stroke_width=1)
        if x < x1 - 40 or k == 0:
            _label(grid, labels, x + 3, axis_top + 12, fmt_duration(k * step), 10, fill="#616161")
        k += 1
    el(grid, "line", x1=x0, y1=axis_top + 16, x2=x1, y2=axis_top + 16, stroke="#9e9e9e", stroke_width=1)
    _label(grid, labels, 16, axis_top + 12, "service · span", 11, font_weight="bold", fill="#424242")
    body = el(root, "g", class_="rows")
    bars: dict[str, Box] = {}
    for i, row in enumerate(rows):
        y = rows_top + i * ROW
        bars[row.span.span_id] = _row(body, labels, row, i, y, services, tx)
    return WaterfallPicture(to_string(root), rows, bars, labels, legend_box, WIDTH, height)


def _legend(g: ET.Element, labels: list[tuple[str, Box]], services: list[str], top: float) -> tuple[Box, float]:
    legend = el(g, "g", class_="legend", id="legend")
    y = top + 18
    x = 24.0
    _label(legend, labels, x, y + 4, "service:", font_weight="bold")
    x += text_width("service:", 11) + 12
    shown = services[:40]
    for name in shown + ([f"+{len(services) - 40} more"] if len(services) > 40 else []):
        need = 22 + text_width(name, 11) + 18
        if x + need > WIDTH - 24:
            y += 22
            x = 24 + text_width("service:", 11) + 12
        if name in shown:
            el(legend, "rect", x=x, y=y - 6, width=16, height=12, rx=2, fill=service_colour(name, services))
        _label(legend, labels, x + 22, y + 4, name)
        x += need
    y += 22
    x = 24.0
    _label(legend, labels, x, y + 4, "status:", font_weight="bold")
    x += text_width("status:", 11) + 12
    el(legend, "rect", x=x, y=y - 6, width=34, height=12, rx=2, fill=ERROR)
    el(legend, "rect", x=x, y=y - 6, width=34, height=12, rx=2, fill="url(#error-hatch)")
    _warning(legend, x + 46, y)
    _label(legend, labels, x + 58, y + 4, "error (red, hatched, ⚠)")
    x += 58 + text_width("error (red, hatched, ⚠)", 11) + 24
    _label(legend, labels, x, y + 4, "kind:", font_weight="bold")
    x += text_width("kind:", 11) + 10
    for kind, letter in list(KINDS.items())[:5]:
        _badge(legend, x, y, letter)
        _label(legend, labels, x + 20, y + 4, kind.lower())
        x += 20 + text_width(kind.lower(), 11) + 14
    box = Box(16, top, WIDTH - 32, y + 14 - top)
    el(legend, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=6, fill="none", stroke="#b0bec5")
    return box, y + 14


def _badge(g: ET.Element, x: float, y: float, letter: str) -> None:
    el(g, "rect", x=x, y=y - 7, width=15, height=14, rx=3, fill="#eceff1", stroke="#78909c", stroke_width=0.8)
    text(g, x + 7.5, y + 4, letter, size=10, anchor="middle", fill="#37474f", font_weight="bold")


def _warning(g: ET.Element, x: float, y: float) -> None:
    """A red triangle with an exclamation mark: the error marker that does not rely on colour."""
    el(g, "path", d=f"M {x:.1f} {y - 7:.1f} L {x + 7:.1f} {y + 6:.1f} L {x - 7:.1f} {y + 6:.1f} Z", fill=ERROR,
       stroke="#7f0000", stroke_width=0.8, class_="error-marker")
    text(g, x, y + 4.5, "!", size=10, anchor="middle", fill="#ffffff", font_weight="bold")


def _row(parent: ET.Element, labels: list[tuple[str, Box]], row: Row, i: int, y: float, services: list[str],
         tx: Any) -> Box:
    s: ViewSpan = row.span
    g = el(parent, "g", class_="span" + (" error" if s.error else ""), data_span_id=s.span_id,
           data_parent_id=s.parent_id or "", data_depth=row.depth, data_service=s.service, data_kind=s.kind)
    tip = [f"{s.service}: {s.name}", f"kind {s.kind} · {fmt_duration(s.duration)} · status {s.status or 'UNSET'}",
           f"span {s.span_id} · parent {s.parent_id}" if s.parent_id else f"span {s.span_id} (root)"]
    if row.orphan:
        tip.append("orphan: its parent span is not in this trace")
    tip += [f"{k} = {v}" for k, v in list(s.attributes.items())[:12]]
    ET.SubElement(g, "title").text = "\n".join(tip)
    if i % 2:
        el(g, "rect", x=0, y=y, width=WIDTH, height=ROW, fill="#f5f7fa")
    mid = y + ROW / 2
    _badge(g, 8, mid, KINDS.get(s.kind, "·"))
    depth = min(row.depth, MAX_INDENT_DEPTH)
    indent = 30 + depth * 14
    for d in range(depth):
        gx = 30 + d * 14 + 4
        el(g, "line", x1=gx, y1=y, x2=gx, y2=y + ROW, stroke="#cfd8dc", stroke_width=1)
    colour = service_colour(s.service, services)
    el(g, "rect", x=indent, y=mid - 5, width=4, height=10, fill=colour)
    prefix = ("⚠ " if s.error else "") + ("⤷? " if row.orphan else "") + (f"[{row.depth}] " if row.depth > depth
                                                                          else "")
    room = LEFT - indent - 10
    service = clip(prefix + s.service, room * 0.55, 11.5)
    x: float = indent + 8
    _label(g, labels, x, mid + 4, service, 11.5, fill=ERROR if s.error else "#263238", font_weight="bold",
           class_="span-service")
    x += text_width(service, 11.5) + 7
    name = clip(s.name, LEFT - x - 6, 11)
    if name:
        _label(g, labels, x, mid + 4, name, 11, fill="#455a64", class_="span-name")
    bx, bx2 = tx(s.start), tx(s.end)
    bar = Box(bx, mid - BAR / 2, max(bx2 - bx, 2.0), BAR)
    el(g, "rect", x=bar.x, y=bar.y, width=bar.w, height=bar.h, rx=2, fill=ERROR if s.error else colour,
       class_="bar")
    if s.error:
        el(g, "rect", x=bar.x, y=bar.y, width=bar.w, height=bar.h, rx=2, fill="url(#error-hatch)")
    for _, when in s.events[:20]:
        ex = tx(when)
        el(g, "path", d=f"M {ex:.1f} {mid - 4:.1f} L {ex + 3:.1f} {mid:.1f} L {ex:.1f} {mid + 4:.1f} "
                        f"L {ex - 3:.1f} {mid:.1f} Z", fill="#212121", class_="event")
    info = fmt_duration(s.duration) + (f" {s.status}" if s.error and s.status else "")
    w = text_width(info, 10) + (16 if s.error else 0)
    fill = ERROR if s.error else "#424242"
    if bar.x2 + 6 + w <= WIDTH - 8:  # after the bar, else before it, else inside its end
        lx = bar.x2 + 6
    elif bar.x - 6 - w >= LEFT + 2:
        lx = bar.x - 6 - w
    else:
        lx, fill = bar.x2 - 4 - w, "#ffffff"
        el(g, "rect", x=lx - 2, y=mid - 6, width=w + 4, height=12, rx=2, fill="#263238", fill_opacity=0.75)
    if s.error:
        _warning(g, lx + 6, mid)
        lx += 16
    _label(g, labels, lx, mid + 4, info, 10, fill=fill, class_="duration")
    return bar
