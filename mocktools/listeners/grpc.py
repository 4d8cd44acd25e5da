"""The gRPC listener: a `grpc.server` on one port, and the one place where an RPC is journaled,
meets the fault plan, and has its servicer's errors translated.

Every unary-request RPC (unary and server-streaming alike) runs inside `_rpc`: faults first
(latency; a dropped connection as UNAVAILABLE; a status as its gRPC code, with the retry
trailers `fault_trailers` builds, so a protocol such as OTLP can add its own), then the
servicer; a `WireError` aborts with its gRPC code, any other exception with INTERNAL (kept for
`check()`); the journal records path `/package.Service/Method` and the code answered.
A servicer adds journal fields with `call_meta().update(...)`.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import grpc

from .. import log
from ..errors import GRPC_CODE_FOR_HTTP, WireError
from ..faults import FaultDecision
from .base import Listener, bind_error, url_host

if TYPE_CHECKING:
    from ..lifecycle import MockServerBase

Trailers = Sequence[tuple[str, Any]]
FaultTrailers = Callable[[str, grpc.StatusCode, str, float], Trailers]

HTTP_TO_GRPC: dict[int, grpc.StatusCode] = {http: grpc.StatusCode[name] for http, name in GRPC_CODE_FOR_HTTP.items()
                                            if http != 422}
_local = threading.local()


def grpc_code_for(status: Any) -> grpc.StatusCode:
    """The gRPC code for a fault status: a StatusCode as is, an HTTP status by the usual mapping."""
    if isinstance(status, grpc.StatusCode):
        return status
    if isinstance(status, str):
        return grpc.StatusCode[status.upper()]
    return HTTP_TO_GRPC.get(int(status), grpc.StatusCode.UNKNOWN)


def retry_info(retry_after: float) -> Any:
    from google.protobuf import duration_pb2
    from google.rpc import error_details_pb2

    seconds = int(retry_after)
    delay = duration_pb2.Duration(seconds=seconds, nanos=round((retry_after - seconds) * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def retry_trailers(method: str, code: grpc.StatusCode, message: str, retry_after: float) -> Trailers:
    """Trailers that tell a gRPC client when to retry: a `google.rpc.RetryInfo` in
    `grpc-status-details-bin` (what gRPC clients read) and a plain `retry-after` for people."""
    from google.protobuf import any_pb2
    from google.rpc import status_pb2

    detail = any_pb2.Any()
    detail.Pack(retry_info(retry_after))
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("retry-after", f"{retry_after:g}"), ("grpc-status-details-bin", status.SerializeToString()))


def call_meta() -> dict[str, Any]:
    """The journal `meta` of the RPC running on this thread (a servicer adds its fields here)."""
    meta = getattr(_local, "meta", None)
    if meta is None:
        meta = _local.meta = {}
    return meta


class _Aborted(Exception):
    """Marks an abort the listener itself raised, so it is not taken for a servicer bug."""


class _Interceptor(grpc.ServerInterceptor):
    def __init__(self, listener: GRPCListener) -> None:
        self.listener = listener

    def intercept_service(self, continuation: Callable[..., Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        method = details.method
        metadata = {k: (v if isinstance(v, str) else repr(v)) for k, v in (details.invocation_metadata or ())}
        rpc = self.listener.rpc
        if handler is None:
            def unimplemented(request: bytes, context: grpc.ServicerContext) -> Any:
                with rpc(method, metadata, request, context, faults=False):
                    raise WireError(f"Method not found: {method}", grpc_code="UNIMPLEMENTED")
            return grpc.unary_unary_rpc_method_handler(unimplemented)
        if handler.unary_unary:
            behavior = handler.unary_unary

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                with rpc(method, metadata, request, context):
                    return behavior(request, context)
            return grpc.unary_unary_rpc_method_handler(
                unary, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            stream_behavior = handler.unary_stream

            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                with rpc(method, metadata, request, context):
                    yield from stream_behavior(request, context)
            return grpc.unary_stream_rpc_method_handler(
                stream, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler  # client-streaming RPCs are passed through unjournaled


class GRPCListener(Listener):
    """One gRPC port; `register(server)` adds the servicers before it binds."""

    scheme = "grpc"

    def __init__(self, mock: MockServerBase, register: Callable[[grpc.Server], None], *, port: int = 0,
                 host: str | None = None, role: str = "url", max_workers: int = 16,
                 options: Sequence[tuple[str, Any]] = (), fault_trailers: FaultTrailers = retry_trailers,
                 what: str = "") -> None:
        super().__init__(mock, port=port, host=host, role=role)
        self.register = register
        self.max_workers = max_workers
        self.options = tuple(options)
        self.fault_trailers = fault_trailers
        self.what = what
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def endpoint(self) -> str:
        """A plain-text gRPC endpoint as exporters take it: `http://host:port`."""
        return f"http://{self.target}"

    def bind_and_serve(self) -> int:
        executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix=f"mocktools-{self.mock.name}")
        server = grpc.server(executor, interceptors=[_Interceptor(self)],
                             options=[("grpc.so_reuseport", 0), *self.options])
        self.register(server)
        address = f"{url_host(self.host)}:{self.requested_port}"
        error: BaseException | None = None
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:
            port, error = 0, exc
        if not port:
            server.stop(None)
            executor.shutdown(wait=True)
            raise bind_error(self.host, self.requested_port, error, self.what) from error
        server.start()
        self._server, self._executor = server, executor
        return port

    def shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(None).wait()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    # -- the glue ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def rpc(self, method: str, metadata: dict[str, str], request: Any, context: grpc.ServicerContext,
            *, faults: bool = True) -> Iterator[None]:
        mock = self.mock
        started = time.perf_counter()
        _local.meta = {}
        decision = mock.faults.decide(method) if faults else FaultDecision()
        log.fault_applied(mock, "RPC", method, decision)
        if decision.latency > 0:
            mock.stopping.wait(decision.latency)
        code = grpc.StatusCode.OK
        try:
            if decision.latency > 0 and mock.stopping.is_set():  # stopped while held: the server went away
                code = grpc.StatusCode.UNAVAILABLE
                self._abort(context, code, "the server is shutting down")
            if decision.connection:
                code = grpc.StatusCode.UNAVAILABLE
                self._abort(context, code, decision.reason)
            if decision.status is not None:
                code = grpc_code_for(decision.status)
                if decision.retry_after is not None:
                    context.set_trailing_metadata(
                        tuple(self.fault_trailers(method, code, decision.reason, decision.retry_after)))
                self._abort(context, code, decision.reason)
            yield
            code = _code_of(context) or grpc.StatusCode.OK
        except _Aborted:
            raise
        except WireError as exc:
            code = grpc.StatusCode[exc.grpc_status_name()]
            self._abort(context, code, exc.message)
        except Exception as exc:
            aborted = _code_of(context)
            if aborted is not None and aborted != grpc.StatusCode.OK:  # the servicer aborted on purpose
                code = aborted
                raise
            code = grpc.StatusCode.INTERNAL
            mock.record_error(exc)
            self._abort(context, code, f"mock handler raised {type(exc).__name__}: {exc}")
        finally:
            meta, _local.meta = _local.meta, None
            self._record(method, metadata, request, code, started, decision.fault, meta)

    @staticmethod
    def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> None:
        try:
            context.abort(code, message)
        except Exception as exc:  # grpc raises a bare Exception subclass to end the RPC
            raise _Aborted(message) from exc

    def _record(self, method: str, metadata: dict[str, str], request: Any, code: grpc.StatusCode,
                started: float, fault: str | None, meta: dict[str, Any] | None) -> None:
        mock = self.mock
        body = request if isinstance(request, bytes) else getattr(request, "SerializeToString", bytes)()
        mock.journal.add(time=mock.clock.time(), method="POST", path=method, headers=metadata,
                         body=body, status=code.value[0], duration=time.perf_counter() - started,
                         fault=fault, meta={**(meta or {}), "grpc_code": code.name},
                         payload=None if isinstance(request, bytes) else request)
        log.request(mock, "RPC", method, code.name, time.perf_counter() - started, fault)


def _code_of(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    return getattr(context, "code", lambda: None)()


__all__ = ["HTTP_TO_GRPC", "GRPCListener", "call_meta", "grpc_code_for", "retry_info", "retry_trailers"]
