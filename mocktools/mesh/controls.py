"""Mesh controls under /_mock/mesh/: graph exports, traces, scaling, health, partitions, breakers,
chaos and OTLP export, declared on the mesh (the mesh is its own domain object)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..control_schema import BOOLEAN, STRING, ControlRoute, array, enum, integer, nullable, number, obj
from ..errors import ApiError
from ..lifecycle import is_loopback
from ..visual.routes import graph_svg_response
from .chaos import KINDS
from .discovery_records import STATUSES
from .otlp_export import ExportForbidden, OTLPExportError, export_target_rule

if TYPE_CHECKING:
    from .mock import MockServiceMesh

GRAPH_FORMATS = ("json", "dot", "mermaid", "svg")
MAX_REPLICAS = 64
_SECONDS = number(0.0, 86_400.0)
#: one breaker's settings (BreakerConfig): the domain checks the finer rules
BREAKER = obj(failure_rate_threshold=number(0.0, 100.0, exclusive_minimum=True),
              failure_count_threshold=nullable(integer(1)), slow_call_rate_threshold=number(0.0, 100.0,
                                                                                             exclusive_minimum=True),
              slow_call_duration=number(0.0, 86_400.0, exclusive_minimum=True), window_type=enum("count", "time"),
              window_size=integer(1, 1_000_000), minimum_calls=integer(1, 1_000_000), wait_duration=_SECONDS,
              half_open_calls=integer(1, 1_000_000), failure_statuses=array(integer(100, 599), max_items=500),
              count_timeouts=BOOLEAN, count_connection_errors=BOOLEAN)
_BREAKER_MAP = {"type": "object", "additionalProperties": BREAKER, "maxProperties": 10_000}
BREAKERS = obj(default=BREAKER, services=_BREAKER_MAP, edges=_BREAKER_MAP, per_endpoint=BOOLEAN)
#: a chaos scenario: `kind` plus its builder's keywords (typed here; the builder checks combinations)
SCENARIO = obj(["kind"], additional=True, kind=enum(*KINDS), service=STRING, edge=STRING,
               instances=nullable({"anyOf": [integer(0, 10_000), array(STRING)]}), mode=STRING,
               status=integer(400, 599), a=array(STRING), b=array(STRING), direction=enum("both", "a->b"),
               discovery=BOOLEAN, seconds=nullable(number()), distribution=enum("fixed", "uniform", "exponential",
                                                                                "normal"),
               low=number(), high=number(), mean=number(), stddev=number(), rate=number(0.0, 1.0),
               start_after=_SECONDS, duration=nullable(_SECONDS))


def mesh_controls(mesh: MockServiceMesh) -> list[ControlRoute]:
    def graph(request: Request, format: str = "json", trace_id: str | None = None) -> Any:
        if format == "dot":
            return Response(mesh.graph.to_dot(mesh.spec.name), mimetype="text/vnd.graphviz")
        if format == "mermaid":
            return Response(mesh.graph.to_mermaid(), mimetype="text/plain")
        if format == "svg":  # trace_id: that trace's path drawn over the graph
            return graph_svg_response(mesh, request)
        return mesh.graph.to_dict()

    def trace(trace_id: str) -> Any:
        spans = mesh.trace(trace_id)
        if not spans:
            raise ApiError(404, f"no spans recorded for trace {trace_id}", type="not_found")
        report = mesh.check_trace(trace_id)
        return {"trace_id": trace_id, "spans": [s.to_dict() for s in spans],
                "tree": [n.to_dict() for n in mesh.trace_tree(trace_id)],
                "complete": report.complete, "orphans": [s.span_id for s in report.orphans]}

    def context_events() -> Any:
        return {"events": [{"time": e.time, "service": e.service, "instance": e.instance, "endpoint": e.endpoint,
                            "error": e.error, "tracestate_error": e.tracestate_error, "headers": e.headers,
                            "new_trace_id": e.new_trace_id} for e in mesh.context_events()]}

    def scale(name: str, replicas: int) -> Any:
        try:
            return {"service": name, "instances": mesh.scale(name, replicas)}
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]), type="not_found") from None
        except ValueError as exc:
            raise ApiError(422, str(exc), type="invalid_body") from None

    def health(instance_id: str, status: str, output: str = "") -> Any:
        try:
            mesh.set_instance_health(instance_id, status, output)
        except KeyError:
            raise ApiError(404, f"unknown instance {instance_id}", type="not_found") from None
        return {"instance": instance_id, "status": status}

    def partition(caller: str, hide: list[str]) -> Any:
        mesh.registry.hide(caller, hide)
        return {"hidden": mesh.registry.hidden()}

    def heal(caller: str | None = None) -> Any:
        mesh.registry.unhide(caller)
        return {"hidden": mesh.registry.hidden()}

    def export(endpoint: str | None = None, trace_id: str | None = None) -> Any:
        target = endpoint or mesh.otlp_endpoint
        if not target:
            raise ApiError(400, "endpoint: required (the mesh has no otlp_endpoint)", type="bad_request")
        try:
            export_target_rule(target, mesh.otlp_endpoint, is_loopback(mesh.host))
            return {"exported_spans": mesh.export_otlp(target, trace_id)}
        except ExportForbidden as exc:
            raise ApiError(403, str(exc), type="export_forbidden") from None
        except OTLPExportError as exc:
            raise ApiError(502, str(exc), type="export_failed") from None

    def breaker_action(edge: str, action: str) -> Any:
        try:
            breaker = mesh.breakers[edge]
        except KeyError:
            raise ApiError(404, f"no breaker for edge {edge!r} (yet)", type="not_found") from None
        {"force-open": breaker.force_open, "disable": breaker.disable, "reset": breaker.reset}[action]()
        return breaker.metrics()

    def breaker_config(**doc: Any) -> Any:
        try:
            mesh.breakers.configure(doc)
        except ValueError as exc:
            raise ApiError(422, str(exc), type="invalid_body") from None
        return mesh.breakers.describe()

    def add_chaos(**doc: Any) -> Any:
        try:
            scenario = mesh.chaos.add(doc)
        except (TypeError, ValueError, KeyError) as exc:
            raise ApiError(422, f"bad scenario: {exc}", type="invalid_body") from None
        return {"scenario": scenario.to_dict(mesh.clock.monotonic())}

    def clear_chaos(id: str | None = None) -> Any:
        try:
            mesh.chaos.clear(id)
        except KeyError:
            raise ApiError(404, f"no scenario {id}", type="not_found") from None
        return {"scenarios": mesh.chaos.scenarios(include_cleared=True)}  # what was cleared, too

    def list_chaos(active: bool = False) -> Any:
        return {"seed": mesh.chaos.seed, "scenarios": mesh.chaos.scenarios(active)}

    def events(edge: str | None = None) -> Any:
        return {"events": [e.to_dict() for e in mesh.breakers.edge_events(edge)],
                "opened_order": mesh.breakers.opened_order()}

    url = {"type": "string", "pattern": "^https?://", "maxLength": 2048, "description": "an OTLP/HTTP collector URL"}
    t = "mesh"
    return [
        ControlRoute("/_mock/mesh/breakers", "GET", mesh.breakers.describe, summary="Every edge's breaker", tag=t),
        ControlRoute("/_mock/mesh/breakers/config", "PUT", breaker_config, BREAKERS,
                     summary="Reconfigure the breakers (existing ones are dropped)", responses={422: "bad settings"},
                     tag=t),
        ControlRoute("/_mock/mesh/breakers/events", "GET", events, obj(edge=STRING),
                     summary="Breaker state transitions (of one edge)", tag=t),
        ControlRoute("/_mock/mesh/breakers/<path:edge>/<any('force-open','disable','reset'):action>", "POST",
                     breaker_action, summary="Force a breaker open, disable or reset it",
                     responses={404: "no breaker for that edge yet"}, tag=t),
        ControlRoute("/_mock/mesh/chaos", "GET", list_chaos, obj(active=BOOLEAN),
                     summary="The chaos scenarios not cleared (`active`: only those acting now)", tag=t),
        ControlRoute("/_mock/mesh/chaos", "POST", add_chaos, SCENARIO, summary="Add a chaos scenario",
                     responses={422: "a combination the scenario builder refuses"}, tag=t),
        ControlRoute("/_mock/mesh/chaos", "DELETE", clear_chaos, obj(id=STRING),
                     summary="End one scenario (`id`) or all", responses={404: "no such scenario"}, tag=t),
        ControlRoute("/_mock/mesh/chaos/report", "GET", mesh.chaos.report, summary="What chaos did", tag=t),
        ControlRoute("/_mock/mesh/graph", "GET", graph, obj(format=enum(*GRAPH_FORMATS, default="json"),
                                                            trace_id=STRING),
                     summary="The dependency graph as JSON, Graphviz dot, Mermaid or SVG (with a trace's path)",
                     responses={404: "no spans for that trace"}, tag=t, pass_request=True),
        ControlRoute("/_mock/mesh/traces", "GET", lambda: {"trace_ids": mesh.spans.trace_ids()},
                     summary="Recorded trace ids", tag=t),
        ControlRoute("/_mock/mesh/traces/<trace_id>", "GET", trace, summary="One trace: spans, tree, completeness",
                     responses={404: "no spans for that trace"}, tag=t),
        ControlRoute("/_mock/mesh/context-events", "GET", context_events,
                     summary="Trace-context problems seen at the edge", tag=t),
        ControlRoute("/_mock/mesh/services/<name>/scale", "POST", scale,
                     obj(["replicas"], replicas=integer(0, MAX_REPLICAS)),
                     summary="Add or remove instances while traffic flows", responses={404: "unknown service"},
                     tag=t),
        ControlRoute("/_mock/mesh/instances/<instance_id>/health", "POST", health,
                     obj(["status"], status=enum(*STATUSES), output=STRING),
                     summary="Set an instance's health check", responses={404: "unknown instance"}, tag=t),
        ControlRoute("/_mock/mesh/partition", "POST", partition,
                     obj(["caller", "hide"], caller=STRING, hide=array(STRING)),
                     summary="Make `caller` stop seeing these instances in discovery", tag=t),
        ControlRoute("/_mock/mesh/partition", "DELETE", heal, obj(caller=STRING),
                     summary="Heal discovery partitions (of one caller)", tag=t),
        ControlRoute("/_mock/mesh/export", "POST", export, obj(endpoint=nullable(url), trace_id=nullable(STRING)),
                     summary="POST recorded spans to an OTLP/HTTP collector (only where the topology allows)",
                     responses={403: "the target is not the mesh's otlp_endpoint nor (mesh on loopback) a "
                                     "loopback collector", 502: "the collector failed"},
                     tag=t),
    ]


__all__ = ["BREAKER", "BREAKERS", "GRAPH_FORMATS", "MAX_REPLICAS", "SCENARIO", "mesh_controls"]
