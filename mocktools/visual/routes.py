"""The pictures over HTTP, under each mock's /_mock/ control API (one call line per mock).

GET /_mock/mesh/graph?format=svg[&trace_id=..]      the dependency graph (also /_mock/mesh/graph.svg)
GET /_mock/mesh/traces/<id>/waterfall.svg           one mesh trace as a waterfall
GET /_mock/mesh/report.html                         the HTML report of the mesh
GET /_mock/otlp/traces/<id>/waterfall.svg           one received OTLP trace as a waterfall
GET /_mock/otlp/report.html                         the HTML report of the collector
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..errors import ApiError

if TYPE_CHECKING:
    from ..mesh.mock import MockServiceMesh
    from ..otlp.mock import MockOTLPCollector
    from ..routing import Router

__all__ = ["SVG", "graph_svg_response", "register_mesh_visual_routes", "register_otlp_visual_routes"]

SVG = "image/svg+xml"


def _svg(body: str) -> Response:
    return Response(body, mimetype=SVG)


def graph_svg_response(mesh: MockServiceMesh, request: Request) -> Response:
    trace_id = request.args.get("trace_id") or None
    if trace_id and not mesh.trace(trace_id):
        raise ApiError(404, f"no spans recorded for trace {trace_id}", type="not_found")
    return _svg(mesh.graph.to_svg(trace_id=trace_id))


def _report(mock: Any) -> Response:
    from .report_html import report_html

    return Response(report_html([(mock.name, mock)], title=f"mocktools report: {mock.name}"),
                    mimetype="text/html")


def register_mesh_visual_routes(mesh: MockServiceMesh, router: Router) -> None:
    from .waterfall_svg import waterfall_svg

    def waterfall(request: Request, trace_id: str) -> Response:
        spans = mesh.trace(trace_id)
        if not spans:
            raise ApiError(404, f"no spans recorded for trace {trace_id}", type="not_found")
        return _svg(waterfall_svg(spans, title=f"mesh {mesh.spec.name} trace {trace_id}"))

    router.add("/_mock/mesh/graph.svg", lambda request: graph_svg_response(mesh, request))
    router.add("/_mock/mesh/traces/<trace_id>/waterfall.svg", waterfall)
    router.add("/_mock/mesh/report.html", lambda request: _report(mesh))


def register_otlp_visual_routes(collector: MockOTLPCollector, router: Router) -> None:
    from .waterfall_svg import waterfall_svg

    def waterfall(request: Request, trace_id: str) -> Response:
        try:
            trace = collector.get_trace(trace_id)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]), type="not_found") from None
        return _svg(waterfall_svg(trace))

    router.add("/_mock/otlp/traces/<trace_id>/waterfall.svg", waterfall)
    router.add("/_mock/otlp/report.html", lambda request: _report(collector))
