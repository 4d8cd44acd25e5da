"""Mesh controls under /_mock/mesh/: graph exports, traces, scaling, health, partitions, OTLP export."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..errors import ApiError
from ..routing import Router, read_json_object
from ..visual.routes import graph_svg_response
from .otlp_export import OTLPExportError

if TYPE_CHECKING:
    from .mock import MockServiceMesh


def register_mesh_admin_routes(mesh: MockServiceMesh, router: Router) -> None:
    def graph(request: Request) -> Any:
        fmt = request.args.get("format", "json")
        if fmt == "dot":
            return Response(mesh.graph.to_dot(mesh.spec.name), mimetype="text/vnd.graphviz")
        if fmt == "mermaid":
            return Response(mesh.graph.to_mermaid(), mimetype="text/plain")
        if fmt == "svg":
            return graph_svg_response(mesh, request)
        if fmt != "json":
            raise ApiError(400, "format must be json, dot, mermaid or svg", type="bad_request")
        return mesh.graph.to_dict()

    def traces(request: Request) -> Any:
        return {"trace_ids": mesh.spans.trace_ids()}

    def trace(request: Request, trace_id: str) -> Any:
        spans = mesh.trace(trace_id)
        if not spans:
            raise ApiError(404, f"no spans recorded for trace {trace_id}", type="not_found")
        report = mesh.check_trace(trace_id)
        return {"trace_id": trace_id, "spans": [s.to_dict() for s in spans],
                "tree": [n.to_dict() for n in mesh.trace_tree(trace_id)],
                "complete": report.complete, "orphans": [s.span_id for s in report.orphans]}

    def context_events(request: Request) -> Any:
        return {"events": [{"time": e.time, "service": e.service, "instance": e.instance, "endpoint": e.endpoint,
                            "error": e.error, "tracestate_error": e.tracestate_error, "headers": e.headers,
                            "new_trace_id": e.new_trace_id} for e in mesh.context_events()]}

    def field(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
        value = body.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise ApiError(422, f"{key!r} is required and must be {getattr(kind, '__name__', kind)}",
                           type="invalid_body")
        return value

    def scale(request: Request, name: str) -> Any:
        replicas = field(read_json_object(request), "replicas", int)
        try:
            return {"service": name, "instances": mesh.scale(name, replicas)}
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]), type="not_found") from None
        except ValueError as exc:
            raise ApiError(422, str(exc), type="invalid_body") from None

    def health(request: Request, instance_id: str) -> Any:
        body = read_json_object(request)
        status = field(body, "status", str)
        try:
            mesh.set_instance_health(instance_id, status, str(body.get("output", "")))
        except KeyError:
            raise ApiError(404, f"unknown instance {instance_id}", type="not_found") from None
        except ValueError as exc:
            raise ApiError(422, str(exc), type="invalid_body") from None
        return {"instance": instance_id, "status": status}

    def partition(request: Request) -> Any:
        if request.method == "DELETE":
            mesh.registry.unhide(request.args.get("caller"))
            return {"hidden": mesh.registry.hidden()}
        body = read_json_object(request)
        caller, hide = field(body, "caller", str), field(body, "hide", list)
        mesh.registry.hide(caller, [str(h) for h in hide])
        return {"hidden": mesh.registry.hidden()}

    def export(request: Request) -> Any:
        body = read_json_object(request)
        endpoint = field(body, "endpoint", str)
        try:
            sent = mesh.export_otlp(endpoint, body.get("trace_id"))
        except OTLPExportError as exc:
            raise ApiError(502, str(exc), type="export_failed") from None
        return {"exported_spans": sent}

    def breakers(request: Request) -> Any:
        return mesh.breakers.describe()

    def breaker_events(request: Request) -> Any:
        return {"events": [e.to_dict() for e in mesh.breakers.edge_events(request.args.get("edge"))],
                "opened_order": mesh.breakers.opened_order()}

    def breaker_action(request: Request, edge: str, action: str) -> Any:
        try:
            breaker = mesh.breakers[edge]
        except KeyError:
            raise ApiError(404, f"no breaker for edge {edge!r} (yet)", type="not_found") from None
        {"force-open": breaker.force_open, "disable": breaker.disable, "reset": breaker.reset}[action]()
        return breaker.metrics()

    def breaker_config(request: Request) -> Any:
        body = read_json_object(request)
        try:
            mesh.breakers.configure(body)
        except ValueError as exc:
            raise ApiError(422, str(exc), type="invalid_body") from None
        return mesh.breakers.describe()

    def chaos(request: Request) -> Any:
        if request.method == "GET":
            active = request.args.get("active", "").lower() in ("1", "true", "yes")
            return {"seed": mesh.chaos.seed, "scenarios": mesh.chaos.scenarios(active)}
        if request.method == "DELETE":
            try:
                mesh.chaos.clear(request.args.get("id"))
            except KeyError:
                raise ApiError(404, f"no scenario {request.args.get('id')}", type="not_found") from None
            return {"scenarios": mesh.chaos.scenarios(include_cleared=True)}
        try:
            scenario = mesh.chaos.add(read_json_object(request))
        except (TypeError, ValueError, KeyError) as exc:
            raise ApiError(422, f"bad scenario: {exc}", type="invalid_body") from None
        return {"scenario": scenario.to_dict(mesh.clock.monotonic())}

    router.add("/_mock/mesh/breakers", breakers)
    router.add("/_mock/mesh/breakers/config", breaker_config, methods=["PUT"])
    router.add("/_mock/mesh/breakers/events", breaker_events)
    router.add("/_mock/mesh/breakers/<path:edge>/<any('force-open','disable','reset'):action>", breaker_action,
               methods=["POST"])
    router.add("/_mock/mesh/chaos", chaos, methods=["GET", "POST", "DELETE"])
    router.add("/_mock/mesh/chaos/report", lambda request: mesh.chaos.report())
    router.add("/_mock/mesh/graph", graph)
    router.add("/_mock/mesh/traces", traces)
    router.add("/_mock/mesh/traces/<trace_id>", trace)
    router.add("/_mock/mesh/context-events", context_events)
    router.add("/_mock/mesh/services/<name>/scale", scale, methods=["POST"])
    router.add("/_mock/mesh/instances/<instance_id>/health", health, methods=["POST"])
    router.add("/_mock/mesh/partition", partition, methods=["POST", "DELETE"])
    router.add("/_mock/mesh/export", export, methods=["POST"])
