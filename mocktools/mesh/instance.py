"""One service instance: a small HTTPMockServer that traces each hop and really calls its dependencies.

A request to an endpoint: read the caller's trace context (W3C, optionally B3/Jaeger), open a SERVER
span, refuse with 508 past the hop limit (a cycle cannot recurse forever), wait its own latency, then
run the endpoint's call plan — sync calls in order, parallel fan-outs concurrently, async calls
fire-and-forget — each through discovery (round-robin over the passing instances this caller can
see) with a CLIENT span whose id is the parent-id sent on that call. It answers with an aggregate of
what its dependencies answered, so the caller sees the effect of any failure below it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from ..http_mock import HTTPMockServer
from ..routing import JSONAnswer, answer
from .hop_client import ConnectFailed, ConnectionBroken, HopClient, HopError, HopTimeout
from .link import MeshLink
from .propagation import TraceContext, child_context
from .spans import ContextEvent, MeshSpan
from .spec import CallSpec, call_plan

HOP_HEADER = "X-Mesh-Hops"
CALLER_HEADER = "X-Mesh-Caller"
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
_METHOD_SET = frozenset(_METHODS)
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode  # routing.json_dumps, made once
_HOP_KEY, _CALLER_KEY = "HTTP_X_MESH_HOPS", "HTTP_X_MESH_CALLER"  # the two headers, as WSGI keys
_INLINE_KEY = "mocktools.mesh.inline"  # set by serves_inline: this request must not wait


class ServiceInstance(HTTPMockServer):
    """A replica of one mesh service on its own port (port=0); it sees its mesh only as a MeshLink."""

    name = "mesh-instance"

    def __init__(self, link: MeshLink, service: str, instance_id: str) -> None:
        super().__init__(link.host, 0, clock=link.clock, journal_limit=1000, engine=link.engine)
        self.link, self.service, self.instance_id = link, service, instance_id
        self.journal.set_limits(max_bytes=8 * 1024 * 1024)  # many instances: a smaller window each
        self.http = HopClient(maxsize=16)  # keep-alive connections to the instances it calls
        self._rr: dict[str, Iterable[int]] = {}
        self._inflight = 0
        self._idle = threading.Condition()

    def register_routes(self, router: Any) -> None:
        router.add("/", self.handle, methods=_METHODS)
        router.add("/<path:subpath>", self.handle, methods=_METHODS)

    def serves_inline(self, environ: dict[str, Any]) -> bool:
        """A leaf hop may run on the engine's loop thread: no stub or user route, the instance's
        own catch-all, and an endpoint that calls nothing, has no latency and meets no chaos.
        The request is then marked, and `handle` serves it as the mesh was at this decision (a
        dependency, latency or chaos added a moment later applies from the next request on), so
        an inline hop never waits whatever changes meanwhile."""
        path = self._own_path(environ)
        if path is None or not self.link.answers_at_once(self.service, path):
            return False
        environ[_INLINE_KEY] = True
        return True

    def _own_path(self, environ: dict[str, Any]) -> str | None:
        """The path when the instance's catch-all answers this request exactly as the router
        would (no stub or user route active, a method it takes, a plain ASCII path without a
        leading "//"), else None: the router and the doubles decide."""
        path = environ.get("PATH_INFO") or "/"
        if self._doubles_active or environ.get("REQUEST_METHOD") not in _METHOD_SET \
                or path[:1] != "/" or path[:2] == "//" or not path.isascii():
            return None
        return path

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response | JSONAnswer:
        """The instance's own catch-all without werkzeug's URL map (~10 us a hop): stubs and user
        routes still answer first, and any path the map would treat differently (not ASCII, a
        leading "//", a method it refuses) still goes through the router."""
        path = self._own_path(environ)
        if path is None:
            answered = self.dispatch_doubles(request, environ)  # stubs, then test-added routes
            if answered is not None:
                return answered
            handler, args = self.router.match(environ)
            result = handler(request, **args)
            return result if isinstance(result, (Response, JSONAnswer)) else answer(result)
        return self.handle(request, path[1:])

    # ---- in-flight tracking so a scale-down drains before stopping --------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Callable) -> Any:
        with self._idle:
            self._inflight += 1
        try:
            result = super().wsgi_app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Tracked(result, self._done)

    def _done(self) -> None:
        with self._idle:
            self._inflight -= 1
            if self._inflight <= 0:
                self._idle.notify_all()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until no request is in flight (after deregistration, before stop)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._inflight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _close(self) -> None:
        super()._close()
        self.http.clear()

    def describe_state(self) -> dict[str, Any]:
        return {"service": self.service, "instance": self.instance_id, "inflight": self._inflight}

    def _drop_if_stopping(self, request: Request) -> None:
        """A request held (hang, latency) while the mesh or this instance stops fails as a stopped
        server's would: the connection drops, no answer."""
        if self.stopping.is_set() or self.link.stopping:
            self.http_listener.drop(request.environ, "stopped")

    # ---- the hop ---------------------------------------------------------------------------------
    def handle(self, request: Request, subpath: str = "") -> Response | JSONAnswer:
        link = self.link
        path = "/" + subpath
        started, t0 = time.time(), time.perf_counter()
        endpoint = link.endpoint(self.service, path)
        if endpoint is None:
            return self.error_response(404, f"{self.service} has no endpoint {path}", type="unknown_endpoint")
        environ = request.environ
        incoming = link.extract_environ(environ)
        ctx = child_context(incoming.context)
        span = MeshSpan(ctx.trace_id, ctx.span_id, incoming.context.span_id if incoming.context else None,
                        f"{environ.get('REQUEST_METHOD', 'GET').upper()} {path}", self.service, self.instance_id, path,
                        "server", started)
        if incoming.context_lost:
            link.record_context_event(ContextEvent(started, self.service, self.instance_id, path,
                                                      incoming.error, incoming.tracestate_error, incoming.raw,
                                                      ctx.trace_id))
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
            return self._finish(span, t0, ctx, self.error_response(
                400, f"{HOP_HEADER} must be a non-negative integer", type="bad_hop_header"))
        span.attributes["mesh.hops"] = hops
        if hops >= link.hop_limit:
            return self._finish(span, t0, ctx, self.error_response(
                508, f"hop limit {link.hop_limit} reached at {self.service}{path}: circular call path?",
                type="hop_limit_exceeded", service=self.service, endpoint=path, hops=hops))
        inline = environ.get(_INLINE_KEY, False)
        fault = None if inline else link.server_fault(self.service, self.instance_id)
        if fault is not None:
            span.attributes["chaos"] = fault[0]
            if fault[0] == "status":
                return self._finish(span, t0, ctx, self.error_response(
                    fault[1], f"chaos: {self.service} answers {fault[1]}", type="chaos_injected"))
            if fault[0] == "hang":
                released, seconds = fault[1]
                _wait_any(released, self.stopping, seconds)
            else:
                self.stopping.wait(fault[1])
            self._drop_if_stopping(request)
        calls = [] if inline else endpoint.calls
        if endpoint.latency > 0 and not inline:
            self.stopping.wait(endpoint.latency)
            self._drop_if_stopping(request)
        results = self._run_calls(calls, ctx, hops + 1) if calls else []
        if calls:
            self._drop_if_stopping(request)  # the calls were cut by stop(): no made-up aggregate
        failed = [r for r in results if not r["ok"] and not r["optional"] and r["mode"] != "async"]
        body: dict[str, Any] = {"service": self.service, "instance": self.instance_id, "endpoint": path,
                                "trace_id": ctx.trace_id, "span_id": ctx.span_id, "hops": hops,
                                "response": endpoint.response, "calls": results,
                                "degraded": any(not r["ok"] for r in results if r["mode"] != "async")}
        if failed:
            first = failed[0]
            body["error"] = {"code": 502, "type": "dependency_failed",
                             "message": f"{self.service}{path}: {first['service']}{first['endpoint']} failed "
                                        f"({first.get('status') or first.get('error')})"}
            return self._answer(span, t0, ctx, body, 502)
        return self._answer(span, t0, ctx, body, endpoint.status)

    def _answer(self, span: MeshSpan, t0: float, ctx: TraceContext, body: dict[str, Any], status: int) -> HopAnswer:
        """The hop's JSON answer (a lean one, no werkzeug Response) and its span recorded."""
        self._end_span(span, t0, status)
        return HopAnswer(_encode(body).encode(), status, ctx.traceparent, self.instance_id)

    def _finish(self, span: MeshSpan, t0: float, ctx: TraceContext, response: Response) -> Response:
        self._end_span(span, t0, response.status_code)
        response.headers["traceresponse"] = ctx.traceparent
        response.headers["X-Mesh-Instance"] = self.instance_id
        return response

    def _end_span(self, span: MeshSpan, t0: float, status: int) -> None:
        span.duration = time.perf_counter() - t0
        span.status_code = status
        span.status = "error" if status >= 500 else "ok"
        self.link.record_span(span)

    # ---- downstream calls ------------------------------------------------------------------------
    def _run_calls(self, calls: list[CallSpec], ctx: TraceContext, hops: int) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        submit = self.link.submit
        for mode, group in call_plan(calls):
            if mode == "sync":
                results.append(self.call(group[0], ctx, hops))
            elif mode == "parallel":
                futures = [submit(self.call, c, ctx, hops) for c in group[1:]]
                first = self.call(group[0], ctx, hops)  # this thread takes one branch itself
                results.append(first)
                results.extend(f.result() for f in futures)
            else:
                for c in group:
                    submit(self._fire_and_forget, c, ctx, hops)
                    results.append({"service": c.service, "endpoint": c.endpoint, "mode": "async",
                                    "optional": c.optional, "ok": True, "queued": True})
        return results

    def _fire_and_forget(self, call: CallSpec, ctx: TraceContext, hops: int) -> None:
        try:
            self.call(call, ctx, hops)
        except Exception as exc:  # noqa: BLE001 - nobody waits for an async call: keep it for check()
            self.link.record_error(exc)

    def _next(self, service: str) -> int:
        rr = self._rr.get(service)
        if rr is None:
            rr = self._rr.setdefault(service, itertools.count())
        return next(rr)  # type: ignore[call-overload]

    def call(self, call: CallSpec, ctx: TraceContext, hops: int) -> dict[str, Any]:
        """One downstream call through its edge's breaker and discovery, with a CLIENT span;
        connection failures move on to the next instance, timeouts and answers do not."""
        link = self.link
        client = child_context(ctx)
        started, t0 = time.time(), time.perf_counter()
        result: dict[str, Any] = {"service": call.service, "endpoint": call.endpoint, "mode": call.mode,
                                  "optional": call.optional, "ok": False}
        breaker = link.breaker(self.service, call.service, call.endpoint)
        if breaker is not None and not breaker.try_acquire():
            result.update(status=503, error=f"circuit breaker {breaker.edge} is {breaker.state}",
                          breaker=breaker.state, short_circuited=True)
        else:
            kind = self._attempts(call, client, hops, result)
            if breaker is not None:
                breaker.record(breaker.config.is_failure(result.get("status", 0), kind), time.perf_counter() - t0)
                result["breaker"] = breaker.state
        span = MeshSpan(client.trace_id, client.span_id, ctx.span_id, f"call {call.service}{call.endpoint}",
                    self.service, self.instance_id, call.endpoint, "client", started, time.perf_counter() - t0,
                    "ok" if result["ok"] else "error", result.get("status", 0),
                    {"peer.service": call.service, "mesh.call_mode": call.mode,
                     "peer.instance": result.get("instance", "")})
        if result.get("short_circuited"):
            span.attributes["breaker"] = result["breaker"]
        link.record_span(span)
        if not result["ok"]:
            link.note_failure(self, result, client.trace_id)
        return result

    def _attempts(self, call: CallSpec, client: TraceContext, hops: int, result: dict[str, Any]) -> str:
        """Try the discovered instances; return the failure kind for the breaker."""
        link = self.link
        headers = link.inject(client)
        headers[HOP_HEADER] = str(hops)
        headers[CALLER_HEADER] = self.service
        instances = link.discover(call.service, caller=self.service)
        if not instances:
            result.update(status=503, error=f"no healthy instance of {call.service}")
            return "connection"
        start = self._next(call.service)
        kind, attempts = "status", 0
        # every instance once; a lone instance gets a second try (a pooled connection may have gone stale)
        for i in range(max(len(instances), 2)):
            target = instances[(start + i) % len(instances)]
            attempts += 1
            fault = link.client_fault(self.service, call.service, target.id, call.endpoint)
            if fault is not None:
                if fault[0] == "refuse":
                    result.update(status=503, error=f"connection to {target.id} refused: {fault[1]}")
                    kind = "connection"
                    continue
                if fault[0] == "timeout":
                    self.stopping.wait(call.timeout)
                    result.update(status=504, error=f"{target.id} did not answer within {call.timeout}s: "
                                                    f"{fault[1]}", instance=target.id)
                    kind = "timeout"
                    break
                if fault[0] == "status":
                    result.update(status=fault[1], error=f"chaos: {self.service}->{call.service} answered "
                                                         f"{fault[1]}", instance=target.id)
                    break
                self.stopping.wait(fault[1])  # edge latency
            try:
                status, data = self.http.get(target.address or "127.0.0.1", target.port, call.endpoint, headers,
                                             call.timeout)
            except (ConnectFailed, ConnectionBroken) as exc:
                result.update(status=503, error=f"connection to {target.id} failed: {exc.name}")
                kind = "connection"
                continue
            except HopTimeout:
                result.update(status=504, error=f"{target.id} did not answer within {call.timeout}s",
                              instance=target.id)
                kind = "timeout"
                break
            except HopError as exc:
                result.update(status=502, error=f"{target.id}: {exc.name}: {exc}", instance=target.id)
                kind = "connection"
                break
            result.pop("error", None)
            result.update(status=status, instance=target.id, ok=status < 400, body=_body(data))
            kind = "status"
            break
        if attempts > 1:
            result["attempts"] = attempts
        return kind


class _Tracked:
    """A response body that calls `done` once the server closes it (sent or abandoned): what
    werkzeug's ClosingIterator does, without its per-request setup."""

    __slots__ = ("body", "done")

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self.body, self.done = body, done

    def __iter__(self) -> Any:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


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

    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(self.status, [("Content-Type", "application/json"), ("Content-Length", str(len(self.body))),
                                     ("traceresponse", self.traceresponse), ("X-Mesh-Instance", self.instance)])
        return () if environ.get("REQUEST_METHOD") == "HEAD" else (self.body,)


def _wait_any(first: threading.Event, second: threading.Event, seconds: float) -> None:
    """Wait until either event is set or ``seconds`` pass (a hang released by chaos or by stop).

    It sleeps on ``second`` (stopping), so stop() releases it at once; a chaos release is seen
    within 50 ms."""
    deadline = time.monotonic() + seconds
    while not first.is_set() and not second.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        second.wait(min(left, 0.05))


def _body(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")[:2000]
