"""Pictures of what the mocks saw: the mesh dependency graph and trace waterfalls as SVG, a
breaker/chaos/fault timeline, and a self-contained HTML report of every mock.

Imported lazily (the layout libraries load only when a picture is drawn)::

    from mocktools.visual import graph_svg, waterfall_svg, write_report
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["graph_svg", "mesh_state", "render_graph", "render_waterfall", "report_html", "waterfall_svg",
           "write_report"]

_WHERE = {"graph_svg": "graph_svg", "render_graph": "graph_svg", "mesh_state": "graph_state",
          "waterfall_svg": "waterfall_svg", "render_waterfall": "waterfall_svg", "report_html": "report_html",
          "write_report": "report_html"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
