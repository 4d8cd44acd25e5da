"""Small SVG building blocks shared by every picture: elements, text metrics, colours, boxes.

Pictures are built as ``xml.etree`` trees, so what comes out is always well-formed XML with every
label escaped. Labels use a monospace font: their width is then known without a renderer
(0.6 em per character), which is what lets a layout prove that no two labels overlap.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FONT",
    "PALETTE",
    "SVG_NS",
    "Box",
    "clip",
    "el",
    "fmt_duration",
    "nice_step",
    "service_colour",
    "svg_root",
    "text",
    "text_width",
    "to_string",
]

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_EM = 0.6  # advance of one monospace character, in em

# Okabe-Ito and Tableau-like colours that stay apart for the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#8c564b", "#7f7f7f", "#bcbd22",
           "#17becf", "#9467bd", "#ff7f0e", "#2ca02c")

ET.register_namespace("", SVG_NS)


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in the picture's own coordinates (x, y: top-left)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def x2(self) -> float:
        return self.x + self.w

    @property
    def y2(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Box, pad: float = 0.0) -> bool:
        return (self.x < other.x2 + pad and other.x < self.x2 + pad
                and self.y < other.y2 + pad and other.y < self.y2 + pad)

    def inside(self, other: Box) -> bool:
        return self.x >= other.x and self.y >= other.y and self.x2 <= other.x2 and self.y2 <= other.y2


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"
    return str(value)


def el(parent: ET.Element | None, tag: str, **attrs: Any) -> ET.Element:
    """A child element; ``class_`` becomes ``class``, ``stroke_width`` becomes ``stroke-width``."""
    clean = {k.rstrip("_").replace("_", "-"): _fmt(v) for k, v in attrs.items() if v is not None}
    return ET.Element(tag, clean) if parent is None else ET.SubElement(parent, tag, clean)


def svg_root(width: float, height: float, title: str) -> ET.Element:
    root = el(None, "svg", xmlns=SVG_NS, width=width, height=height, viewBox=f"0 0 {_fmt(width)} {_fmt(height)}",
              font_family=FONT, font_size=12, role="img")
    root.set("aria-label", title)
    ET.SubElement(root, "title").text = title
    el(root, "rect", x=0, y=0, width=width, height=height, fill="#ffffff")
    return root


def text_width(label: str, size: float = 12.0) -> float:
    return len(label) * size * CHAR_EM


def clip(label: str, max_width: float, size: float = 12.0) -> str:
    """Shorten ``label`` with an ellipsis so it fits ``max_width`` pixels."""
    fits = int(max_width / (size * CHAR_EM))
    if len(label) <= fits:
        return label
    return label[: max(fits - 1, 0)] + "…" if fits > 0 else ""


def text(parent: ET.Element, x: float, y: float, label: str, *, size: float = 12.0, anchor: str = "start",
         **attrs: Any) -> ET.Element:
    """A text element whose baseline sits at ``y``."""
    node = el(parent, "text", x=x, y=y, font_size=size, text_anchor=anchor if anchor != "start" else None, **attrs)
    node.text = label
    return node


def service_colour(name: str, order: list[str]) -> str:
    """A stable colour per service: its position in ``order`` (sorted names) picks from the palette."""
    try:
        return PALETTE[order.index(name) % len(PALETTE)]
    except ValueError:
        return PALETTE[sum(name.encode()) % len(PALETTE)]


def fmt_duration(seconds: float) -> str:
    """Short human durations: 42µs, 3.5ms, 120ms, 1.25s."""
    us = seconds * 1e6

    def short(value: float, digits: int) -> str:
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")

    if us <= 0:
        return "0"
    if us < 1000:
        return f"{us:.0f}µs"
    if us < 1e6:
        return short(us / 1000, 2 if us < 10_000 else 1) + "ms"
    return short(seconds, 2) + "s" if seconds < 100 else f"{seconds:.0f}s"


def nice_step(span: float, target_ticks: int = 8) -> float:
    """A 1/2/5 × 10^k tick step giving about ``target_ticks`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def to_string(root: ET.Element) -> str:
    """Serialize with an XML declaration; the result parses with any XML parser."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
