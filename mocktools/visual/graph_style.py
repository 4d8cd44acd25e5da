"""How each breaker state and node status looks: colour for those who see it, and a dash pattern
plus a marker for those who print in grey or do not tell red from green."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .svg import el

__all__ = [
    "CHAOS",
    "CYCLE",
    "DOWN",
    "EDGE_STYLES",
    "PARTIAL",
    "TRACE",
    "UP",
    "EdgeStyle",
    "add_arrow_defs",
    "draw_marker",
    "edge_style",
]

UP, DOWN, PARTIAL, CYCLE, CHAOS, TRACE = "#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#ad1457", "#1565c0"


@dataclass(frozen=True)
class EdgeStyle:
    key: str
    label: str  # shown in the legend
    tag: str  # shown on the edge ("" for none)
    colour: str
    width: float
    dash: str | None
    marker: str  # none | dot | half | cross


EDGE_STYLES = {
    "NONE": EdgeStyle("NONE", "no breaker yet", "", "#9e9e9e", 1.2, None, "none"),
    "CLOSED": EdgeStyle("CLOSED", "closed", "", UP, 1.8, None, "dot"),
    "HALF_OPEN": EdgeStyle("HALF_OPEN", "half-open", "HALF-OPEN", PARTIAL, 2.4, "9 4", "half"),
    "OPEN": EdgeStyle("OPEN", "open", "OPEN", DOWN, 3.0, "2 4", "cross"),
    "FORCED_OPEN": EdgeStyle("FORCED_OPEN", "forced open", "FORCED OPEN", DOWN, 3.0, "2 4", "cross"),
    "DISABLED": EdgeStyle("DISABLED", "disabled", "DISABLED", "#616161", 1.2, "1 5", "none"),
}


def edge_style(state: str | None) -> EdgeStyle:
    return EDGE_STYLES.get((state or "NONE").upper(), EDGE_STYLES["NONE"])


def draw_marker(parent: ET.Element, x: float, y: float, style: EdgeStyle, r: float = 5.5) -> None:
    """The state's shape on the edge: a dot (closed), a half-filled disc (half-open), a crossed disc (open)."""
    if style.marker == "dot":
        el(parent, "circle", cx=x, cy=y, r=3, fill=style.colour)
    elif style.marker == "half":
        el(parent, "circle", cx=x, cy=y, r=r, fill="#ffffff", stroke=style.colour, stroke_width=1.8)
        el(parent, "path", d=f"M {x:.1f} {y - r:.1f} A {r} {r} 0 0 1 {x:.1f} {y + r:.1f} Z", fill=style.colour)
    elif style.marker == "cross":
        el(parent, "circle", cx=x, cy=y, r=r + 0.5, fill="#ffffff", stroke=style.colour, stroke_width=2)
        d = r * 0.6
        el(parent, "path", d=f"M {x - d:.1f} {y - d:.1f} L {x + d:.1f} {y + d:.1f} M {x - d:.1f} {y + d:.1f} "
                             f"L {x + d:.1f} {y - d:.1f}", stroke=style.colour, stroke_width=2)


def add_arrow_defs(defs: ET.Element) -> None:
    """One filled (sync, parallel) and one hollow (async) arrowhead per state colour."""
    for style in EDGE_STYLES.values():
        for hollow in (False, True):
            marker = el(defs, "marker", id=arrow_id(style, hollow), viewBox="0 0 10 10", refX=9, refY=5,
                        markerWidth=11, markerHeight=11, markerUnits="userSpaceOnUse", orient="auto")
            el(marker, "path", d="M 1 1 L 9 5 L 1 9 Z", fill="#ffffff" if hollow else style.colour,
               stroke=style.colour, stroke_width=1.4)


def arrow_id(style: EdgeStyle, hollow: bool) -> str:
    return f"arrow-{style.key.lower()}{'-async' if hollow else ''}"
