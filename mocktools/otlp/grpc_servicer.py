"""OTLP/gRPC receiver owned by a MockOTLPCollector: same store, same fault plan, same journal.

It is not a separate mock: the collector starts and stops it with its HTTP side. It applies the
shared fault plan itself (rather than through the core's interceptor) so that a throttling
fault carries what OTLP/gRPC clients read: a `google.rpc.RetryInfo`, both in the standard
`grpc-status-details-bin` trailer and in the `google.rpc.retryinfo-bin` trailer the Python
exporter looks for.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from mocktools.errors import MockStartError
from mocktools.grpc_mock import grpc_code_for
from mocktools.otlp import codec
from mocktools.otlp.codec import SIGNALS
from mocktools.lifecycle import url_host

if TYPE_CHECKING:
    from mocktools.otlp.mock import MockOTLPCollector


def _retry_trailers(code: grpc.StatusCode, message: str, retry_after: float) -> list[tuple[str, bytes]]:
    try:
        from google.protobuf import any_pb2
        from google.rpc import error_details_pb2, status_pb2
    except ImportError:  # pragma: no cover - googleapis-common-protos comes with the OTLP exporters
        return []
    info = error_details_pb2.RetryInfo()
    info.retry_delay.seconds = int(retry_after)
    info.retry_delay.nanos = int(round((retry_after - int(retry_after)) * 1e9))
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return [
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    ]


class _Servicer:
    """One servicer class for the three OTLP services: each has a single unary `Export`."""

    def __init__(self, receiver: OTLPGrpcReceiver, signal: str) -> None:
        self.receiver = receiver
        self.signal = signal

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802 - gRPC name
        return self.receiver.handle(self.signal, request, context)


class OTLPGrpcReceiver:
    """The gRPC side of a collector (TraceService, MetricsService, LogsService)."""

    def __init__(self, collector: MockOTLPCollector, port: int = 0, *, max_workers: int = 8) -> None:
        self.collector = collector
        self._requested_port = port
        self._port = port
        self.max_workers = max_workers
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def target(self) -> str:
        return f"{url_host(self.collector.host)}:{self._port}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.target}"

    def start(self) -> None:
        executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="mocktools-otlp-grpc")
        limit = self.collector.max_decompressed_bytes
        server = grpc.server(
            executor,
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", limit)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Servicer(self, "traces"), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Servicer(self, "metrics"), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Servicer(self, "logs"), server)
        address = f"{url_host(self.collector.host)}:{self._requested_port}"
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:
            port, error = 0, exc
        else:
            error = None  # type: ignore[assignment]
        if not port:
            server.stop(None)
            executor.shutdown(wait=True)
            raise MockStartError(
                f"OTLP/gRPC {address} is already in use or cannot be bound ({error})",
                host=self.collector.host,
                port=self._requested_port,
            )
        server.start()
        self._server, self._executor, self._port = server, executor, port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(None).wait()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self._port = self._requested_port

    def handle(self, signal_name: str, request: Message, context: grpc.ServicerContext) -> Message:
        """Journal the call, apply the shared fault plan, then store the telemetry."""
        mock = self.collector
        signal = SIGNALS[signal_name]
        started = time.perf_counter()
        metadata = {k: (v if isinstance(v, str) else repr(v)) for k, v in context.invocation_metadata()}
        decision = mock.faults.decide(signal.grpc_method)
        if decision.latency > 0:
            mock.stopping.wait(decision.latency)
        code = grpc.StatusCode.OK
        meta: dict[str, Any] = {"signal": signal_name, "encoding": "protobuf", "transport": "grpc"}
        body = request.SerializeToString()
        try:
            if decision.connection:
                code = grpc.StatusCode.UNAVAILABLE
                context.abort(code, decision.reason)
            if decision.status is not None:
                code = grpc_code_for(decision.status)
                if decision.retry_after is not None:
                    context.set_trailing_metadata(_retry_trailers(code, decision.reason, decision.retry_after))
                context.abort(code, decision.reason)
            result = mock.store.ingest(
                signal_name, request, transport="grpc", encoding="protobuf", body=body, headers=metadata
            )
            meta.update(accepted=result.accepted, rejected=result.rejected)
            return codec.export_response(signal, result.rejected, result.message)
        except Exception as exc:
            if code != grpc.StatusCode.OK:  # our own abort above
                raise
            code = grpc.StatusCode.INTERNAL
            mock.record_error(exc)
            context.abort(code, f"mock handler raised {type(exc).__name__}: {exc}")
            raise  # pragma: no cover - abort always raises
        finally:
            mock.journal.add(
                time=mock.clock.time(),
                method="POST",
                path=signal.grpc_method,
                headers=metadata,
                body=body,
                status=code.value[0],
                duration=time.perf_counter() - started,
                fault=decision.fault,
                meta={**meta, "grpc_code": code.name},
            )
