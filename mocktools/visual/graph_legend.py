"""The graph picture's header: title, a legend that reads in grey, the cycles and the active chaos."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from .graph_style import (
    CHAOS,
    CYCLE,
    DOWN,
    EDGE_STYLES,
    TRACE,
    UP,
    arrow_id,
    draw_marker,
    edge_style,
)
from .svg import Box, clip, el, text, text_width

if TYPE_CHECKING:
    from .graph_state import GraphState
    from .graph_svg import _Labels

__all__ = ["draw_header"]

ROW = 24.0


def _label(g: ET.Element, labels: _Labels, x: float, y: float, label: str, size: float = 11.0,
           **attrs: Any) -> float:
    from .graph_svg import text_box

    text(g, x, y, label, size=size, **attrs)
    labels.add(label, text_box(x, y, label, size))
    return x + text_width(label, size)


def _edge_sample(g: ET.Element, x: float, y: float, key: str, hollow: bool = False) -> None:
    style = EDGE_STYLES[key]
    el(g, "path", d=f"M {x:.1f} {y:.1f} L {x + 40:.1f} {y:.1f}", stroke=style.colour, stroke_width=style.width,
       stroke_dasharray=style.dash, fill="none", marker_end=f"url(#{arrow_id(style, hollow)})")
    draw_marker(g, x + 18, y, style)


def draw_header(g: ET.Element, width: float, heading: str, cycles: list[list[str]], state: GraphState,
                labels: _Labels) -> tuple[float, Box]:
    """Draw into ``g``; returns the header's height and the legend's box."""
    _label(g, labels, 16, 26, clip(heading, width - 32, 16), 16, font_weight="bold", fill="#212121",
           class_="title")
    legend = el(g, "g", class_="legend", id="legend")
    top = 40.0
    y = top + 18
    x = _label(legend, labels, 24, y + 4, "breaker:", font_weight="bold") + 12
    items: list[tuple[str, Any]] = [(EDGE_STYLES[k].label, ("edge", k)) for k in
                                    ("CLOSED", "HALF_OPEN", "OPEN", "DISABLED", "NONE")]
    items.append(("async call", ("async", "NONE")))
    rows_x = [x]
    for label, (kind, key) in items:
        need = 50 + text_width(label, 11) + 22
        if x + need > width - 24:
            y += ROW
            x = rows_x[0]
        _edge_sample(legend, x, y, key, hollow=kind == "async")
        x = _label(legend, labels, x + 50, y + 4, label) + 22
    y += ROW
    x = _label(legend, labels, 24, y + 4, "service:", font_weight="bold") + 12
    node_items = [("instance up", "up"), ("instance down", "down"), ("service down", "svc-down"),
                  ("on a cycle", "cycle"), ("chaos scenario on it", "chaos")]
    if state.trace_id:
        node_items.append((f"trace {state.trace_id[:16]}", "trace"))
    for label, kind in node_items:
        need = 28 + text_width(label, 11) + 22 + (8 if kind == "chaos" else 0)
        if x + need > width - 24:
            y += ROW
            x = rows_x[0]
        _node_sample(legend, x, y, kind)
        shift = 36 if kind == "chaos" else 28
        x = _label(legend, labels, x + shift, y + 4, label, fill=CHAOS if kind == "chaos" else "#212121") + 22
    legend_box = Box(16, top, width - 32, y + 14 - top)
    el(legend, "rect", x=legend_box.x, y=legend_box.y, width=legend_box.w, height=legend_box.h, rx=6, fill="none",
       stroke="#b0bec5", stroke_width=1)
    y += 14
    lines: list[tuple[str, str]] = []
    if cycles:
        shown = ["  ".join(" → ".join(c + [c[0]]) for c in cycles[:4])]
        more = f" (+{len(cycles) - 4} more)" if len(cycles) > 4 else ""
        lines.append((f"↺ cycles: {shown[0]}{more}", CYCLE))
    for sc in state.chaos[:6]:
        p = sc.get("params", {})
        target = p.get("edge") or p.get("service") or " | ".join(
            "+".join(p.get(side, [])) for side in ("a", "b"))
        detail = ", ".join(f"{k}={v}" for k, v in p.items() if k in ("mode", "status", "rate", "seconds")
                           and v not in (None, 0, 0.0))
        lines.append((f"⚡ chaos {sc['id']}: {sc['kind']} {target}" + (f" ({detail})" if detail else ""), CHAOS))
    if len(state.chaos) > 6:
        lines.append((f"⚡ … {len(state.chaos) - 6} more active scenarios", CHAOS))
    for line, colour in lines:
        y += 18
        _label(g, labels, 24, y, clip(line, width - 48, 11.5), 11.5, fill=colour, class_="info")
    return y + 8, legend_box


def _node_sample(g: ET.Element, x: float, y: float, kind: str) -> None:
    if kind == "up":
        el(g, "circle", cx=x + 10, cy=y, r=4, fill=UP)
    elif kind == "down":
        el(g, "circle", cx=x + 10, cy=y, r=4, fill="#ffffff", stroke=DOWN, stroke_width=1.6)
        el(g, "path", d=f"M {x + 7.5} {y - 2.5} L {x + 12.5} {y + 2.5} M {x + 7.5} {y + 2.5} L {x + 12.5} {y - 2.5}",
           stroke=DOWN, stroke_width=1.4)
    elif kind == "svc-down":
        el(g, "rect", x=x, y=y - 7, width=20, height=14, rx=3, fill="#ffebee", stroke=DOWN, stroke_width=2,
           stroke_dasharray="6 3")
    elif kind == "cycle":
        el(g, "rect", x=x, y=y - 7, width=20, height=14, rx=4, fill="none", stroke=CYCLE, stroke_width=1.6,
           stroke_dasharray="2 3")
    elif kind == "chaos":
        text(g, x + 2, y + 4, "⚡c1", size=11, fill=CHAOS, font_weight="bold")
    elif kind == "trace":
        el(g, "path", d=f"M {x} {y} L {x + 20} {y}", stroke=TRACE, stroke_width=9, stroke_opacity=0.28,
           stroke_linecap="round")
        el(g, "path", d=f"M {x} {y} L {x + 20} {y}", stroke=edge_style(None).colour, stroke_width=1.2)
