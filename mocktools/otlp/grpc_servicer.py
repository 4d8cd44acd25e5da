"""OTLP/gRPC servicers of a MockOTLPCollector: TraceService, MetricsService and LogsService.

Only the servicer lives here: the collector's gRPC listener (the core's) journals each Export,
applies the shared fault plan and translates errors. What OTLP adds is `retry_trailers`: a
throttling fault carries a `google.rpc.RetryInfo` both in the standard
`grpc-status-details-bin` trailer and in the `google.rpc.retryinfo-bin` trailer the Python
exporter looks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from mocktools.listeners.grpc import call_meta, retry_info
from mocktools.listeners.grpc import retry_trailers as core_retry_trailers
from mocktools.otlp import codec
from mocktools.otlp.codec import SIGNALS

if TYPE_CHECKING:
    from mocktools.otlp.store import TelemetryStore


def retry_trailers(method: str, code: grpc.StatusCode, message: str, retry_after: float) -> Sequence[tuple[str, Any]]:
    """The core's retry trailers plus `google.rpc.retryinfo-bin` (read by the OTLP exporters)."""
    return (*core_retry_trailers(method, code, message, retry_after),
            ("google.rpc.retryinfo-bin", retry_info(retry_after).SerializeToString()))


class OTLPServicer:
    """One servicer class for the three OTLP services: each has a single unary `Export`."""

    def __init__(self, store: TelemetryStore, signal: str) -> None:
        self.store = store
        self.signal = signal

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        signal = SIGNALS[self.signal]
        metadata = {k: (v if isinstance(v, str) else repr(v)) for k, v in context.invocation_metadata()}
        meta = call_meta()
        meta.update(signal=self.signal, encoding="protobuf", transport="grpc")
        result = self.store.ingest(self.signal, request, transport="grpc", encoding="protobuf",
                                   body=request.SerializeToString(), headers=metadata)
        meta.update(accepted=result.accepted, rejected=result.rejected)
        return codec.export_response(signal, result.rejected, result.message)


def add_otlp_servicers(store: TelemetryStore, server: grpc.Server) -> None:
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(OTLPServicer(store, "traces"), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(OTLPServicer(store, "metrics"), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(OTLPServicer(store, "logs"), server)


__all__ = ["OTLPServicer", "add_otlp_servicers", "retry_trailers"]
