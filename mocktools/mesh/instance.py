"""One service instance: a small HTTPMockServer that traces each hop and really calls its dependencies.

A request to an endpoint: read the caller's trace context (W3C, optionally B3/Jaeger), open a SERVER
span, refuse with 508 past the hop limit (a cycle cannot recurse forever), wait its own latency, then
run the endpoint's call plan — sync calls in order, parallel fan-outs concurrently, async calls
fire-and-forget — each through discovery (round-robin over the passing instances this caller can
see) with a CLIENT span whose id is the parent-id sent on that call. It answers with an aggregate of
what its dependencies answered, so the caller sees the effect of any failure below it.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from ..http_connection import Deferred, can_suspend
from ..http_mock import HTTPMockServer
from ..routing import JSONAnswer, answer
from .hop_client import HopClient
from .hop_flow import CALLER_HEADER, DECIDE, HOP_HEADER, HopAnswer, hop
from .hop_flow import call as call_flow
from .hop_runners import LoopRunner, run_blocking
from .link import MeshLink
from .propagation import TraceContext
from .spec import CallSpec

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
_METHOD_SET = frozenset(_METHODS)
_INLINE_KEY = "mocktools.mesh.inline"  # set by serves_inline: this hop runs on the loop, never waiting
_FAULT_KEY = "mocktools.mesh.fault"  # the server chaos serves_inline drew for this request


class ServiceInstance(HTTPMockServer):
    """A replica of one mesh service on its own port (port=0); it sees its mesh only as a MeshLink."""

    name = "mesh-instance"

    def __init__(self, link: MeshLink, service: str, instance_id: str) -> None:
        super().__init__(link.host, 0, clock=link.clock, journal_limit=1000, engine=link.engine)
        self.link, self.service, self.instance_id = link, service, instance_id
        self.journal.set_limits(max_bytes=8 * 1024 * 1024)  # many instances: a smaller window each
        self.http = HopClient(maxsize=16)  # keep-alive connections to the instances it calls
        self._rr: dict[str, Iterable[int]] = {}
        self._loop_runner: LoopRunner | None = None  # made on the loop, by its first hop there
        self._inflight = 0
        self._idle = threading.Condition()

    def register_routes(self, router: Any) -> None:
        router.add("/", self.handle, methods=_METHODS)
        router.add("/<path:subpath>", self.handle, methods=_METHODS)

    def serves_inline(self, environ: dict[str, Any]) -> bool:
        """A hop may run on the engine's loop thread when nothing in it must block: no stub or
        user route, the instance's own catch-all, no span or breaker subscriber (its code may
        block), and no server chaos that holds it (a hang or latency drawn here, for this
        request, sends it to a worker; `handle` applies the same draw). Its calls then go out as non-blocking
        connections, its endpoint latency, edge latency and chaos timeouts are loop timers."""
        path = self._own_path(environ)
        if path is None:
            return False
        verdict, fault = self.link.loop_verdict(self.service, self.instance_id)
        if fault is not DECIDE:
            environ[_FAULT_KEY] = fault
        if verdict:
            environ[_INLINE_KEY] = True
        return verdict

    def _own_path(self, environ: dict[str, Any]) -> str | None:
        """The path when the instance's catch-all answers this request exactly as the router
        would (no stub or user route active, a method it takes, a plain ASCII path without a
        leading "//"), else None: the router and the doubles decide."""
        path = environ.get("PATH_INFO") or "/"
        if self._doubles_active or environ.get("REQUEST_METHOD") not in _METHOD_SET \
                or path[:1] != "/" or path[:2] == "//" or not path.isascii():
            return None
        return path

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response | JSONAnswer | Deferred:  # type: ignore[override]
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

    def _open(self) -> int:
        self.http_listener.shared_loop = self.link.shared_loop  # the mesh's one loop thread, if any
        return super()._open()

    def _close(self) -> None:
        super()._close()  # the server is closed: nothing uses the loop's connections any more
        runner, self._loop_runner = self._loop_runner, None
        if runner is not None:
            runner.close()
        self.http.clear()

    def describe_state(self) -> dict[str, Any]:
        return {"service": self.service, "instance": self.instance_id, "inflight": self._inflight}

    # ---- the hop (hop_flow.py), on a thread or on the loop (hop_runners.py) ------------------------
    def handle(self, request: Request, subpath: str = "") -> Response | JSONAnswer | Deferred:
        """Serve one hop: on the loop when `serves_inline` chose it (its calls then go out as
        non-blocking connections and the answer may come later, as a Deferred), else here."""
        environ = request.environ
        flow = hop(self, request, "/" + subpath, environ.pop(_FAULT_KEY, DECIDE))
        if environ.get(_INLINE_KEY) and can_suspend(environ):
            runner = self._loop_runner
            if runner is None:
                runner = self._loop_runner = LoopRunner(self, asyncio.get_running_loop())
            return runner.start(flow)  # type: ignore[no-any-return]
        return run_blocking(self, flow)  # type: ignore[no-any-return]

    def next_index(self, service: str) -> int:
        """Where this instance's round-robin over `service` goes next."""
        rr = self._rr.get(service)
        if rr is None:
            rr = self._rr.setdefault(service, itertools.count())
        return next(rr)  # type: ignore[call-overload]

    def call(self, call: CallSpec, ctx: TraceContext, hops: int) -> dict[str, Any]:
        """One downstream call, blocking (as a hop on a thread makes it)."""
        return run_blocking(self, call_flow(self, call, ctx, hops))  # type: ignore[no-any-return]


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


__all__ = ["CALLER_HEADER", "HOP_HEADER", "HopAnswer", "ServiceInstance"]
