"""MockOTLPCollector: two listeners, OTLP/HTTP and OTLP/gRPC, over one telemetry store.

The wire layer only decodes and answers; telemetry lives in `TelemetryStore`. Errors use the
body a collector sends (a `google.rpc.Status`, protobuf for protobuf requests, JSON otherwise),
and injected faults go through the shared fault plan for both transports.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from mocktools.clock import Clock, Duration
from mocktools.http_mock import HTTPMockServer
from mocktools.listeners.grpc import GRPCListener
from mocktools.otlp.codec import SIGNALS
from mocktools.otlp.controls import otlp_controls
from mocktools.otlp.grpc_servicer import add_otlp_servicers, retry_trailers
from mocktools.otlp.model import LogRecord, MetricPoint, Span, Trace
from mocktools.otlp.store import (DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS, DEFAULT_MAX_RAW, DEFAULT_MAX_RAW_BYTES,
                                   RawRequest, TelemetryStore)
from mocktools.otlp.wire import MAX_DECOMPRESSED, OTLPHTTPWire
from mocktools.routing import Router
from mocktools.visual.routes import register_otlp_visual_routes


class MockOTLPCollector(OTLPHTTPWire, HTTPMockServer):
    """An OpenTelemetry collector stand-in: receives traces, metrics and logs; tests assert on them.

    HTTP on `port` (well-known 4318) and gRPC on `grpc_port` (0 picks a free port, None disables
    gRPC; the default "auto" means 4317 when HTTP is on 4318 and a free port otherwise, so
    `mocktools up` looks like a real collector while tests stay xdist-safe). Both transports
    feed the same store, fault plan and journal.
    """

    name: ClassVar[str] = "otlp"
    default_port: ClassVar[int] = 4318
    protocol: ClassVar[str] = "OTLP/HTTP (+ gRPC) collector"
    default_grpc_port: ClassVar[int] = 4317
    max_body_bytes: ClassVar[int] = MAX_DECOMPRESSED

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        journal_limit: int = 10_000,
        admin_token: str | None = None,
        verbose: bool = False,
        max_body_bytes: int | None = None,
        grpc_port: int | str | None = "auto",
        max_decompressed_bytes: int = MAX_DECOMPRESSED,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_raw_requests: int = DEFAULT_MAX_RAW,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_raw_bytes: int = DEFAULT_MAX_RAW_BYTES,
    ) -> None:
        self._local = threading.local()
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes)
        self.max_decompressed_bytes = max_decompressed_bytes
        self.store = TelemetryStore(self.clock, max_items=max_items, max_raw=max_raw_requests,
                                    max_bytes=max_bytes, max_raw_bytes=max_raw_bytes)
        self.admin.add_controls(otlp_controls(self.store))
        if grpc_port == "auto":
            grpc_port = self.default_grpc_port if int(port) == self.default_port else 0
        self.grpc: GRPCListener | None = None
        if grpc_port is not None:
            self.grpc = self.add_listener(GRPCListener(
                self, lambda server: add_otlp_servicers(self.store, server), port=int(grpc_port), role="grpc",
                max_workers=8, options=[("grpc.max_receive_message_length", max_decompressed_bytes)],
                fault_trailers=retry_trailers, what="OTLP/gRPC"))

    def register_admin_routes(self, router: Router) -> None:
        register_otlp_visual_routes(self, router)

    @property
    def grpc_port(self) -> int | None:
        """The bound OTLP/gRPC port (None when gRPC is disabled)."""
        return None if self.grpc is None else self.grpc.port

    @property
    def grpc_endpoint(self) -> str | None:
        """What an OTLP/gRPC exporter takes as `endpoint` (plain-text `http://host:port`)."""
        return None if self.grpc is None else self.grpc.endpoint

    def endpoints(self) -> dict[str, str]:
        found = super().endpoints()
        if self.grpc_endpoint:
            found["grpc"] = self.grpc_endpoint
        return found

    def endpoint(self, signal: str) -> str:
        """The full OTLP/HTTP URL of one signal, e.g. `endpoint("traces")` -> `.../v1/traces`."""
        return self.url + SIGNALS[signal].path

    # ---- assertion API (delegates to the store) -------------------------------------------
    def get_spans(self, **filters: Any) -> list[Span]:
        """Received spans, oldest first; filters: service_name, name, trace_id, kind, attributes={}..."""
        return self.store.get_spans(**filters)

    def get_metrics(self, **filters: Any) -> list[MetricPoint]:
        """Received metric data points; filters: service_name, name, type, attributes={}..."""
        return self.store.get_metrics(**filters)

    def get_logs(self, **filters: Any) -> list[LogRecord]:
        """Received log records; filters: service_name, body, severity_text, trace_id, attributes={}..."""
        return self.store.get_logs(**filters)

    def get_trace(self, trace_id: str) -> Trace:
        return self.store.get_trace(trace_id)

    def get_trace_ids(self) -> list[str]:
        return self.store.get_trace_ids()

    def wait_for_spans(self, n: int, timeout: Duration = 5.0, **filters: Any) -> list[Span]:
        return self.store.wait_for_spans(n, timeout, **filters)

    def wait_for_metrics(self, n: int, timeout: Duration = 5.0, **filters: Any) -> list[MetricPoint]:
        return self.store.wait_for_metrics(n, timeout, **filters)

    def wait_for_logs(self, n: int, timeout: Duration = 5.0, **filters: Any) -> list[LogRecord]:
        return self.store.wait_for_logs(n, timeout, **filters)

    def get_raw_requests(self, signal: str | None = None) -> list[RawRequest]:
        """Accepted requests as decoded messages plus their (decompressed) bytes and headers."""
        return self.store.get_raw_requests(signal)

    def set_partial_success(
        self, signal: str = "traces", rejected: int = 1, message: str = "rejected by mock", *, times: int | None = None
    ) -> None:
        """Answer `signal` exports with partial_success, dropping `rejected` items of each request."""
        self.store.set_partial_success(signal, rejected, message, times=times)

    def clear_partial_success(self, signal: str | None = None) -> None:
        self.store.clear_partial_success(signal)

    def subscribe(self, listener: Callable[[str, list[Any]], None]) -> Callable[[], None]:
        """Call `listener(signal, items)` after each accepted request; returns an unsubscribe function.

        A listener that raises does not fail the export: the error is kept for `check()`.
        """

        def guarded(signal: str, items: list[Any]) -> None:
            try:
                listener(signal, items)
            except Exception as exc:  # noqa: BLE001 - surfaced through check()
                self.record_error(exc)

        return self.store.subscribe(guarded)

    # ---- hooks ----------------------------------------------------------------------------
    def interrupt_waits(self) -> None:
        super().interrupt_waits()
        self.store.interrupt()

    def reset_state(self) -> None:
        self.store.clear()

    def describe_state(self) -> dict[str, Any]:
        return {
            "grpc_endpoint": self.grpc_endpoint,
            "counts": self.store.counts(),
            "partial_success": self.store.partial_success_rules(),
            "trace_ids": len(self.store.get_trace_ids()),
        }

    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        from mocktools.cli import port_or_off

        parser.add_argument(
            "--grpc-port",
            type=port_or_off,
            default=cls.default_grpc_port,
            help="OTLP/gRPC port (default 4317; 0 = any free port, -1 = no gRPC)",
        )

    @classmethod
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> MockOTLPCollector:
        grpc_port = getattr(args, "grpc_port", cls.default_grpc_port)
        return cls(grpc_port=None if grpc_port is not None and grpc_port < 0 else grpc_port, **kwargs)


__all__ = ["MockOTLPCollector"]
