"""What one hop does, written once: a generator that yields the effects it needs performed.

A hop (`hop`) reads the caller's trace context, opens its SERVER span, applies the hop limit and
server chaos, then runs the endpoint's call plan; each call (`call`) goes through its edge's
breaker and discovery with a CLIENT span, trying instances (`_attempts`) as the failure kind
says. Where it must wait or talk to the network it yields an effect instead of doing it:

- `Fetch(host, port, path, headers, timeout)`: one GET; sent back `(status, body)` or the
  `HopError` (anything else raised while sending, e.g. a header the client refuses, is sent
  back as the exception and raised here);
- `Wait(seconds)`: wait (cut short by stop); `Hang(released, seconds)`: a chaos hang;
- `Together(flows)`: run these call flows concurrently, sent back their results in order;
- `Detach(flow)`: start a fire-and-forget call flow.

Two executors perform them (hop_runners.py): a blocking one on the hop's thread (the werkzeug
engine, a worker, anything that may wait) and one on the instance's event loop, where a fetch is
a non-blocking connection, a wait a loop timer and a fan-out runs with no extra thread.
"""
from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..routing import JSONAnswer
from .hop_client import ConnectFailed, ConnectionBroken, HopError, HopTimeout
from .propagation import TraceContext, child_context
from .spans import ContextEvent, MeshSpan
from .spec import CallSpec, call_plan

if TYPE_CHECKING:
    from .instance import ServiceInstance

HOP_HEADER = "X-Mesh-Hops"
CALLER_HEADER = "X-Mesh-Caller"
_HOP_KEY, _CALLER_KEY = "HTTP_X_MESH_HOPS", "HTTP_X_MESH_CALLER"  # the two headers, as WSGI keys
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode  # routing.json_dumps, made once
#: `hop(fault=DECIDE)`: the server fault is drawn by the hop itself (nobody drew it before)
DECIDE: Any = object()


class Fetch:
    __slots__ = ("headers", "host", "path", "port", "timeout")

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str], timeout: float) -> None:
        self.host, self.port, self.path, self.headers, self.timeout = host, port, path, headers, timeout


class Wait:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Hang:
    __slots__ = ("released", "seconds")

    def __init__(self, released: Any, seconds: float) -> None:
        self.released, self.seconds = released, seconds


class Together:
    __slots__ = ("flows",)

    def __init__(self, flows: list[Flow]) -> None:
        self.flows = flows


class Detach:
    __slots__ = ("flow",)

    def __init__(self, flow: Flow) -> None:
        self.flow = flow


Effect = Fetch | Wait | Hang | Together | Detach
Flow = Generator[Effect, Any, Any]


# ---- the hop ---------------------------------------------------------------------------------
def hop(inst: ServiceInstance, request: Request, path: str, fault: Any = DECIDE) -> Flow:
    """The hop's answer (a HopAnswer, or an error Response) once its effects are performed."""
    link = inst.link
    started, t0 = time.time(), time.perf_counter()
    endpoint = link.endpoint(inst.service, path)
    if endpoint is None:
        return inst.error_response(404, f"{inst.service} has no endpoint {path}", type="unknown_endpoint")
    environ = request.environ
    incoming = link.extract_environ(environ)
    ctx = child_context(incoming.context)
    span = MeshSpan(ctx.trace_id, ctx.span_id, incoming.context.span_id if incoming.context else None,
                    f"{environ.get('REQUEST_METHOD', 'GET').upper()} {path}", inst.service, inst.instance_id, path,
                    "server", started)
    if incoming.context_lost:
        link.record_context_event(ContextEvent(started, inst.service, inst.instance_id, path, incoming.error,
                                               incoming.tracestate_error, incoming.raw, ctx.trace_id))
        span.add_event("context.invalid", started, error=incoming.error or "",
                       tracestate_error=incoming.tracestate_error or "")
    caller = environ.get(_CALLER_KEY)
    if caller:
        span.attributes["mesh.caller"] = caller
    try:
        hops = int(environ.get(_HOP_KEY, "0"))
        if hops < 0:
            raise ValueError
    except ValueError:
        return _finish(inst, span, t0, ctx, inst.error_response(
            400, f"{HOP_HEADER} must be a non-negative integer", type="bad_hop_header"))
    span.attributes["mesh.hops"] = hops
    if hops >= link.hop_limit:
        return _finish(inst, span, t0, ctx, inst.error_response(
            508, f"hop limit {link.hop_limit} reached at {inst.service}{path}: circular call path?",
            type="hop_limit_exceeded", service=inst.service, endpoint=path, hops=hops))
    if fault is DECIDE:
        fault = link.server_fault(inst.service, inst.instance_id)
    if fault is not None:
        span.attributes["chaos"] = fault[0]
        if fault[0] == "status":
            return _finish(inst, span, t0, ctx, inst.error_response(
                fault[1], f"chaos: {inst.service} answers {fault[1]}", type="chaos_injected"))
        if fault[0] == "hang":
            released, seconds = fault[1]
            yield Hang(released, seconds)
        else:
            yield Wait(fault[1])
        _drop_if_stopping(inst, request)
    calls = endpoint.calls
    if endpoint.latency > 0:
        yield Wait(endpoint.latency)
        _drop_if_stopping(inst, request)
    results: list[dict[str, Any]] = []
    if calls:
        yield from _run_calls(inst, calls, ctx, hops + 1, results)
        _drop_if_stopping(inst, request)  # the calls were cut by stop(): no made-up aggregate
    failed = [r for r in results if not r["ok"] and not r["optional"] and r["mode"] != "async"]
    body: dict[str, Any] = {"service": inst.service, "instance": inst.instance_id, "endpoint": path,
                            "trace_id": ctx.trace_id, "span_id": ctx.span_id, "hops": hops,
                            "response": endpoint.response, "calls": results,
                            "degraded": any(not r["ok"] for r in results if r["mode"] != "async")}
    if failed:
        first = failed[0]
        body["error"] = {"code": 502, "type": "dependency_failed",
                         "message": f"{inst.service}{path}: {first['service']}{first['endpoint']} failed "
                                    f"({first.get('status') or first.get('error')})"}
        return _answer(inst, span, t0, ctx, body, 502)
    return _answer(inst, span, t0, ctx, body, endpoint.status)


def _drop_if_stopping(inst: ServiceInstance, request: Request) -> None:
    """A request held (hang, latency, calls) while the mesh or this instance stops fails as a
    stopped server's would: the connection drops, no answer."""
    if inst.stopping.is_set() or inst.link.stopping:
        inst.http_listener.drop(request.environ, "stopped")


def _answer(inst: ServiceInstance, span: MeshSpan, t0: float, ctx: TraceContext, body: dict[str, Any],
            status: int) -> HopAnswer:
    """The hop's JSON answer (a lean one, no werkzeug Response) and its span recorded."""
    _end_span(inst, span, t0, status)
    return HopAnswer(_encode(body).encode(), status, ctx.traceparent, inst.instance_id)


def _finish(inst: ServiceInstance, span: MeshSpan, t0: float, ctx: TraceContext, response: Response) -> Response:
    _end_span(inst, span, t0, response.status_code)
    response.headers["traceresponse"] = ctx.traceparent
    response.headers["X-Mesh-Instance"] = inst.instance_id
    return response


def _end_span(inst: ServiceInstance, span: MeshSpan, t0: float, status: int) -> None:
    span.duration = time.perf_counter() - t0
    span.status_code = status
    span.status = "error" if status >= 500 else "ok"
    inst.link.record_span(span)


# ---- downstream calls ------------------------------------------------------------------------
def _run_calls(inst: ServiceInstance, calls: list[CallSpec], ctx: TraceContext, hops: int,
               results: list[dict[str, Any]]) -> Generator[Effect, Any, None]:
    for mode, group in call_plan(calls):
        if mode == "sync":
            results.append((yield from call(inst, group[0], ctx, hops)))
        elif mode == "parallel":
            results.extend((yield Together([call(inst, c, ctx, hops) for c in group])))
        else:
            for c in group:
                yield Detach(call(inst, c, ctx, hops))
                results.append({"service": c.service, "endpoint": c.endpoint, "mode": "async",
                                "optional": c.optional, "ok": True, "queued": True})


def call(inst: ServiceInstance, spec: CallSpec, ctx: TraceContext, hops: int) -> Flow:
    """One downstream call through its edge's breaker and discovery, with a CLIENT span;
    connection failures move on to the next instance, timeouts and answers do not."""
    link = inst.link
    client = child_context(ctx)
    started, t0 = time.time(), time.perf_counter()
    result: dict[str, Any] = {"service": spec.service, "endpoint": spec.endpoint, "mode": spec.mode,
                              "optional": spec.optional, "ok": False}
    breaker = link.breaker(inst.service, spec.service, spec.endpoint)
    if breaker is not None and not breaker.try_acquire():
        result.update(status=503, error=f"circuit breaker {breaker.edge} is {breaker.state}",
                      breaker=breaker.state, short_circuited=True)
    else:
        kind = yield from _attempts(inst, spec, client, hops, result)
        if breaker is not None:
            breaker.record(breaker.config.is_failure(result.get("status", 0), kind), time.perf_counter() - t0)
            result["breaker"] = breaker.state
    span = MeshSpan(client.trace_id, client.span_id, ctx.span_id, f"call {spec.service}{spec.endpoint}",
                    inst.service, inst.instance_id, spec.endpoint, "client", started, time.perf_counter() - t0,
                    "ok" if result["ok"] else "error", result.get("status", 0),
                    {"peer.service": spec.service, "mesh.call_mode": spec.mode,
                     "peer.instance": result.get("instance", "")})
    if result.get("short_circuited"):
        span.attributes["breaker"] = result["breaker"]
    link.record_span(span)
    if not result["ok"]:
        link.note_failure(inst, result, client.trace_id)
    return result


def _attempts(inst: ServiceInstance, spec: CallSpec, client: TraceContext, hops: int,
              result: dict[str, Any]) -> Generator[Effect, Any, str]:
    """Try the discovered instances; return the failure kind for the breaker."""
    link = inst.link
    headers = link.inject(client)
    headers[HOP_HEADER] = str(hops)
    headers[CALLER_HEADER] = inst.service
    instances = link.discover(spec.service, caller=inst.service)
    if not instances:
        result.update(status=503, error=f"no healthy instance of {spec.service}")
        return "connection"
    start = inst.next_index(spec.service)
    kind, attempts = "status", 0
    # every instance once; a lone instance gets a second try (a pooled connection may have gone stale)
    for i in range(max(len(instances), 2)):
        target = instances[(start + i) % len(instances)]
        attempts += 1
        fault = link.client_fault(inst.service, spec.service, target.id, spec.endpoint)
        if fault is not None:
            if fault[0] == "refuse":
                result.update(status=503, error=f"connection to {target.id} refused: {fault[1]}")
                kind = "connection"
                continue
            if fault[0] == "timeout":
                yield Wait(spec.timeout)
                result.update(status=504, error=f"{target.id} did not answer within {spec.timeout}s: "
                                                f"{fault[1]}", instance=target.id)
                kind = "timeout"
                break
            if fault[0] == "status":
                result.update(status=fault[1], error=f"chaos: {inst.service}->{spec.service} answered "
                                                     f"{fault[1]}", instance=target.id)
                break
            yield Wait(fault[1])  # edge latency
        got = yield Fetch(target.address or "127.0.0.1", target.port, spec.endpoint, headers, spec.timeout)
        if isinstance(got, BaseException):
            if isinstance(got, (ConnectFailed, ConnectionBroken)):
                result.update(status=503, error=f"connection to {target.id} failed: {got.name}")
                kind = "connection"
                continue
            if isinstance(got, HopTimeout):
                result.update(status=504, error=f"{target.id} did not answer within {spec.timeout}s",
                              instance=target.id)
                kind = "timeout"
                break
            if isinstance(got, HopError):
                result.update(status=502, error=f"{target.id}: {got.name}: {got}", instance=target.id)
                kind = "connection"
                break
            raise got
        status, data = got
        result.pop("error", None)
        result.update(status=status, instance=target.id, ok=status < 400, body=_body(data))
        kind = "status"
        break
    if attempts > 1:
        result["attempts"] = attempts
    return kind


def _body(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")[:2000]


class HopAnswer(JSONAnswer):
    """A hop's JSON answer with its two mesh headers (`traceresponse`, `X-Mesh-Instance`): on the
    wire what the werkzeug Response it replaces sent, built in a fraction of the time."""

    __slots__ = ("traceresponse", "instance")

    def __init__(self, body: bytes, status_code: int, traceresponse: str, instance: str) -> None:
        super().__init__(body, status_code)
        self.traceresponse, self.instance = traceresponse, instance

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Content-Length": str(len(self.body)),
                "traceresponse": self.traceresponse, "X-Mesh-Instance": self.instance}

    def __call__(self, environ: Any, start_response: Any) -> Any:
        start_response(self.status, [("Content-Type", "application/json"), ("Content-Length", str(len(self.body))),
                                     ("traceresponse", self.traceresponse), ("X-Mesh-Instance", self.instance)])
        return () if environ.get("REQUEST_METHOD") == "HEAD" else (self.body,)


__all__ = ["CALLER_HEADER", "DECIDE", "HOP_HEADER", "Detach", "Fetch", "Flow", "Hang", "HopAnswer", "Together",
           "Wait", "call", "hop"]
