"""When things went wrong, on one time axis: injected faults per mock (from the journals), breaker
states per edge (from the transition log) and chaos scenarios (from their schedule)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .graph_style import CHAOS, edge_style
from .svg import (
    Box,
    clip,
    el,
    fmt_duration,
    nice_step,
    svg_root,
    text,
    text_width,
    to_string,
)

__all__ = ["Lane", "Segment", "TimelinePicture", "render_timeline"]

WIDTH, LEFT, LANE = 1280.0, 300.0, 24.0
CONTROL = "#1565c0"


@dataclass
class Segment:
    start: float
    end: float
    state: str  # a breaker state, or "chaos"
    label: str = ""


@dataclass
class Lane:
    label: str
    kind: str  # "faults", "breaker" or "chaos"
    marks: list[tuple[float, str]] = field(default_factory=list)  # (time, what) for faults
    segments: list[Segment] = field(default_factory=list)


@dataclass
class TimelinePicture:
    svg: str
    labels: list[tuple[str, Box]]
    height: float


def breaker_segments(events: list[dict[str, object]], start: float, end: float) -> list[Segment]:
    """State intervals of one breaker from its transitions (``BreakerEvent.to_dict()`` form)."""
    out: list[Segment] = []
    ordered = sorted(events, key=lambda e: float(e["time"]))  # type: ignore[arg-type]
    state, since = (str(ordered[0]["from"]) if ordered else "CLOSED"), start
    for e in ordered:
        t = float(e["time"])  # type: ignore[arg-type]
        out.append(Segment(since, t, state))
        state, since = str(e["to"]), t
    out.append(Segment(since, max(end, since), state))
    return [s for s in out if s.end > s.start or s is out[-1]]


def render_timeline(lanes: list[Lane], start: float, end: float, *, title: str = "timeline") -> TimelinePicture:
    total = max(end - start, 1e-3)
    labels: list[tuple[str, Box]] = []
    top = 62.0
    height = top + 26 + len(lanes) * LANE + 14
    root = svg_root(WIDTH, height, title)
    defs = el(root, "defs")
    hatch = el(defs, "pattern", id="tl-open", width=6, height=6, patternUnits="userSpaceOnUse",
               patternTransform="rotate(45)")
    el(hatch, "rect", x=0, y=0, width=3, height=6, fill="#ffffff", fill_opacity=0.6)
    dots = el(defs, "pattern", id="tl-half", width=6, height=6, patternUnits="userSpaceOnUse")
    el(dots, "circle", cx=3, cy=3, r=1.3, fill="#ffffff", fill_opacity=0.8)

    def add(x: float, y: float, label: str, size: float = 11.0, **attrs: Any) -> None:
        text(root, x, y, label, size=size, **attrs)
        labels.append((label, Box(x, y - 0.82 * size, text_width(label, size), size * 1.05)))

    when = datetime.fromtimestamp(start, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    add(16, 24, clip(f"{title} · from {when} UTC · {fmt_duration(total)}", WIDTH - 32, 14), 14,
        font_weight="bold")
    x = 24.0
    for key in ("CLOSED", "HALF_OPEN", "OPEN"):
        _segment(root, Segment(0, 0, key), x, 36, 30, tag=False)
        add(x + 36, 47, edge_style(key).label)
        x += 36 + text_width(edge_style(key).label, 11) + 20
    el(root, "rect", x=x, y=36, width=30, height=12, rx=2, fill=CHAOS, fill_opacity=0.8)
    add(x + 36, 47, "chaos scenario")
    x += 36 + text_width("chaos scenario", 11) + 20
    el(root, "path", d=f"M {x + 4} 36 L {x + 4} 50", stroke="#b71c1c", stroke_width=2)
    el(root, "path", d=f"M {x} 36 L {x + 8} 36 L {x + 4} 42 Z", fill="#b71c1c")
    add(x + 16, 47, "injected fault (journal)")
    x += 16 + text_width("injected fault (journal)", 11) + 20
    el(root, "path", d=f"M {x + 6} 36 L {x + 12} 42 L {x + 6} 48 L {x} 42 Z", fill=CONTROL)
    add(x + 18, 47, "scheduled control (timeline)")
    x0, x1 = LEFT + 10, WIDTH - 20

    def tx(t: float) -> float:
        return x0 + (min(max(t, start), end) - start) / total * (x1 - x0)

    step = nice_step(total, 8)
    k = 0
    while k * step <= total * 1.0001:
        gx = tx(start + k * step)
        el(root, "line", x1=gx, y1=top + 16, x2=gx, y2=height - 10, stroke="#e0e0e0")
        if gx < x1 - 40 or k == 0:
            add(gx + 3, top + 12, "+" + fmt_duration(k * step), 10, fill="#616161")
        k += 1
    for i, lane in enumerate(lanes):
        y = top + 26 + i * LANE
        g = el(root, "g", class_=f"lane lane-{lane.kind}", data_label=lane.label)
        if i % 2:
            el(g, "rect", x=0, y=y, width=WIDTH, height=LANE, fill="#f5f7fa")
        shown = clip(lane.label, LEFT - 24, 11)
        text(g, 16, y + 16, shown, size=11, fill="#263238")
        labels.append((shown, Box(16, y + 16 - 9, text_width(shown, 11), 11.5)))
        for seg in lane.segments:
            sx, ex = tx(seg.start), tx(seg.end)
            tip = ET.SubElement(_segment(g, seg, sx, y + 6, max(ex - sx, 1.5)), "title")
            tip.text = f"{seg.label or seg.state}: +{fmt_duration(seg.start - start)} → +{fmt_duration(seg.end - start)}"
        _marks(g, lane.marks, y, tx, start, control=lane.kind == "controls")
    return TimelinePicture(to_string(root), labels, height)


def _segment(parent: ET.Element, seg: Segment, x: float, y: float, w: float, tag: bool = True) -> ET.Element:
    g = el(parent, "g", class_="segment", data_state=seg.state)
    if seg.state == "chaos":
        el(g, "rect", x=x, y=y, width=w, height=12, rx=2, fill=CHAOS, fill_opacity=0.8)
        if seg.label and text_width(seg.label, 10) < w - 6:
            text(g, x + 3, y + 10, seg.label, size=10, fill="#ffffff")
        return g
    style = edge_style(seg.state)
    el(g, "rect", x=x, y=y, width=w, height=12, rx=2, fill=style.colour,
       fill_opacity=0.35 if style.key == "CLOSED" else 0.9)
    if style.marker in ("cross", "half"):
        el(g, "rect", x=x, y=y, width=w, height=12, rx=2, fill="url(#tl-open)" if style.marker == "cross"
           else "url(#tl-half)")
        if tag and text_width(style.tag, 9) < w - 6:
            text(g, x + 3, y + 9.5, style.tag, size=9, fill="#ffffff", font_weight="bold")
    return g


def _marks(g: ET.Element, marks: list[tuple[float, str]], y: float, tx: Any, start: float,
           control: bool = False) -> None:
    """One tick per pixel column that saw faults (a burst of a thousand stays readable); scheduled
    controls are blue diamonds, faults red pins."""
    bins: dict[int, list[tuple[float, str]]] = {}
    for t, what in marks:
        bins.setdefault(int(tx(t)), []).append((t, what))
    for px, group in sorted(bins.items()):
        m = el(g, "g", class_="control-mark" if control else "fault-mark")
        if control:
            el(m, "path", d=f"M {px} {y + 5} L {px + 6} {y + 12} L {px} {y + 19} L {px - 6} {y + 12} Z",
               fill=CONTROL, stroke="#0d47a1", stroke_width=0.8)
        else:
            el(m, "path", d=f"M {px} {y + 4} L {px} {y + 20}", stroke="#b71c1c", stroke_width=2)
            el(m, "path", d=f"M {px - 4} {y + 4} L {px + 4} {y + 4} L {px} {y + 10} Z", fill="#b71c1c")
        kinds = sorted({w for _, w in group})
        noun = "control(s)" if control else "fault(s)"
        ET.SubElement(m, "title").text = (f"{len(group)} {noun} at +{fmt_duration(group[0][0] - start)}: "
                                          + ", ".join(kinds[:6]))
