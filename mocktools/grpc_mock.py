"""GRPCMockServer: the shared lifecycle on a `grpc.server`, with journal and faults applied once.

An interceptor records every RPC (path `/package.Service/Method`, metadata as headers) and applies
the fault plan before the servicer runs; HTTP-style statuses map to gRPC codes, or a fault may
name a `grpc.StatusCode` directly. `admin_port` adds the /_mock/ HTTP control API beside it.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, ClassVar, Iterator

import grpc

from . import log
from .control_api import AdminAPI
from .errors import MockStartError
from .faults import FaultDecision
from .routing import Router
from .lifecycle import MockServerBase, url_host
from .http_engines import make_http_server
from .wsgi_server import MockWSGIServer

HTTP_TO_GRPC: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.NOT_FOUND, 409: grpc.StatusCode.ABORTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED, 499: grpc.StatusCode.CANCELLED, 500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED, 502: grpc.StatusCode.UNAVAILABLE, 503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def grpc_code_for(status: Any) -> grpc.StatusCode:
    """The gRPC code for a fault status: a StatusCode as is, an HTTP status by the usual mapping."""
    if isinstance(status, grpc.StatusCode):
        return status
    if isinstance(status, str):
        return grpc.StatusCode[status.upper()]
    return HTTP_TO_GRPC.get(int(status), grpc.StatusCode.UNKNOWN)


def retry_trailers(code: grpc.StatusCode, message: str, retry_after: float) -> tuple[tuple[str, Any], ...]:
    """Trailers that tell a gRPC client when to retry: a `google.rpc.RetryInfo` in
    `grpc-status-details-bin` (what gRPC clients such as the OTLP exporter read) and a plain
    `retry-after` for people reading the metadata."""
    from google.protobuf import any_pb2, duration_pb2
    from google.rpc import error_details_pb2, status_pb2

    seconds = int(retry_after)
    delay = duration_pb2.Duration(seconds=seconds, nanos=int(round((retry_after - seconds) * 1e9)))
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("retry-after", f"{retry_after:g}"), ("grpc-status-details-bin", status.SerializeToString()))


def _aborted_on_purpose(context: grpc.ServicerContext) -> bool:
    code = getattr(context, "code", lambda: None)()
    return code is not None and code != grpc.StatusCode.OK


class _Interceptor(grpc.ServerInterceptor):
    def __init__(self, mock: "GRPCMockServer") -> None:
        self.mock = mock

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        method = details.method
        metadata = {k: (v if isinstance(v, str) else repr(v)) for k, v in (details.invocation_metadata or ())}
        if handler is None:
            return grpc.unary_unary_rpc_method_handler(self._unimplemented(method, metadata))
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method, metadata),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method, metadata),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
        return handler  # client-streaming RPCs are passed through unjournaled

    def _unimplemented(self, method: str, metadata: dict[str, str]) -> Callable:
        def behavior(request: bytes, context: grpc.ServicerContext) -> Any:
            self._record(method, metadata, request, grpc.StatusCode.UNIMPLEMENTED, time.perf_counter(), None)
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {method}")
        return behavior

    def _apply_faults(self, method: str, context: grpc.ServicerContext) -> FaultDecision:
        decision = self.mock.faults.decide(method)
        log.fault_applied(self.mock, "RPC", method, decision)
        if decision.latency > 0:
            self.mock.stopping.wait(decision.latency)
        return decision

    def _abort_for(self, decision: FaultDecision, context: grpc.ServicerContext) -> None:
        code = grpc.StatusCode.UNAVAILABLE if decision.connection else grpc_code_for(decision.status)
        if decision.retry_after is not None:
            context.set_trailing_metadata(retry_trailers(code, decision.reason, decision.retry_after))
        context.abort(code, decision.reason)

    def _wrap_unary(self, behavior: Callable, method: str, metadata: dict[str, str]) -> Callable:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            decision = self._apply_faults(method, context)
            code = grpc.StatusCode.OK
            try:
                if not decision.ok:
                    code = grpc.StatusCode.UNAVAILABLE if decision.connection else grpc_code_for(decision.status)
                    self._abort_for(decision, context)
                response = behavior(request, context)
                code = context.code() or grpc.StatusCode.OK
                return response
            except Exception as exc:
                if _aborted_on_purpose(context):
                    code = context.code()
                    raise
                code = grpc.StatusCode.INTERNAL
                self.mock.record_error(exc)
                context.abort(code, f"mock handler raised {type(exc).__name__}: {exc}")
            finally:
                self._record(method, metadata, request, code, started, decision.fault)
        return wrapped

    def _wrap_stream(self, behavior: Callable, method: str, metadata: dict[str, str]) -> Callable:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = time.perf_counter()
            decision = self._apply_faults(method, context)
            code = grpc.StatusCode.OK
            try:
                if not decision.ok:
                    code = grpc.StatusCode.UNAVAILABLE if decision.connection else grpc_code_for(decision.status)
                    self._abort_for(decision, context)
                yield from behavior(request, context)
            except Exception as exc:
                if _aborted_on_purpose(context):
                    code = context.code()
                    raise
                code = grpc.StatusCode.INTERNAL
                self.mock.record_error(exc)
                context.abort(code, f"mock handler raised {type(exc).__name__}: {exc}")
            finally:
                self._record(method, metadata, request, code, started, decision.fault)
        return wrapped

    def _record(self, method: str, metadata: dict[str, str], request: Any, code: grpc.StatusCode,
                started: float, fault: str | None) -> None:
        body = request if isinstance(request, bytes) else getattr(request, "SerializeToString", bytes)()
        self.mock.journal.add(time=self.mock.clock.time(), method="POST", path=method, headers=metadata,
                              body=body, status=code.value[0], duration=time.perf_counter() - started,
                              fault=fault, meta={"grpc_code": code.name})
        log.request(self.mock, "RPC", method, code.name, time.perf_counter() - started, fault)


class GRPCMockServer(MockServerBase):
    """A mock served by `grpc.server`; a subclass adds its servicers in `register_services`."""

    scheme = "grpc"
    #: extra `grpc.server` options of a mock (e.g. keepalive policy matching its real server)
    grpc_options: ClassVar[tuple[tuple[str, Any], ...]] = ()

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, max_workers: int = 16,
                 admin_port: int | None = None, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.max_workers = max_workers
        self.admin_port = admin_port
        self.admin = AdminAPI(self)
        self.register_admin_routes(self.admin.router)
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._admin_server: MockWSGIServer | None = None
        self._admin_thread: threading.Thread | None = None

    def register_services(self, server: grpc.Server) -> None:
        """Add the mock's servicers; a bare GRPCMockServer answers UNIMPLEMENTED to everything."""

    def register_admin_routes(self, router: Router) -> None:
        """Add domain controls under /_mock/ (served on `admin_port`); the core routes are there."""

    @property
    def target(self) -> str:
        """What a gRPC client dials: `host:port`."""
        return f"{url_host(self.host)}:{self.port}"

    @property
    def admin_url(self) -> str | None:
        server = self._admin_server
        return f"http://{url_host(self.host)}:{server.port}" if server is not None else None

    def endpoints(self) -> dict[str, str]:
        found = super().endpoints()
        if self.admin_url:
            found["admin"] = self.admin_url
        return found

    def _open(self) -> int:
        executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix=f"mocktools-{self.name}")
        self._executor = executor
        server = grpc.server(executor, interceptors=[_Interceptor(self)],
                             options=[("grpc.so_reuseport", 0), *self.grpc_options])
        self.register_services(server)
        address = f"{url_host(self.host)}:{self._requested_port}"
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:
            server.stop(None)
            executor.shutdown(wait=True)
            raise MockStartError(f"{address} is already in use or cannot be bound ({exc})",
                                 host=self.host, port=self._requested_port) from exc
        if not port:
            server.stop(None)
            executor.shutdown(wait=True)
            raise MockStartError(f"{address} is already in use or cannot be bound",
                                 host=self.host, port=self._requested_port)
        server.start()
        self._server = server
        if self.admin_port is not None:
            try:
                self._start_admin()
            except BaseException:
                server.stop(None).wait()
                executor.shutdown(wait=True)
                self._server = None
                raise
        return port

    def _start_admin(self) -> None:
        admin = make_http_server(self.host, self.admin_port or 0, self.admin, verbose=self.verbose)
        thread = threading.Thread(target=admin.serve_until_stopped, daemon=True,
                                  name=f"mocktools-{self.name}-admin")
        thread.start()
        self._admin_server, self._admin_thread = admin, thread

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(None).wait()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        admin, thread = self._admin_server, self._admin_thread
        self._admin_server = self._admin_thread = None
        if admin is not None:
            admin.wake()
            if thread is not None:
                thread.join()
            admin.close_connections()
            admin.server_close()


__all__ = ["GRPCMockServer", "grpc_code_for", "HTTP_TO_GRPC"]
