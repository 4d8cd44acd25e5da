"""OTLP collector mock: OTLP/HTTP on 4318 (protobuf + JSON) and OTLP/gRPC on 4317, one store."""

from mocktools.otlp.mock import MockOTLPCollector
from mocktools.otlp.model import LogRecord, MetricPoint, Span, SpanNode, Trace
from mocktools.otlp.store import RawRequest, TelemetryStore

__all__ = ["MockOTLPCollector", "TelemetryStore", "Span", "MetricPoint", "LogRecord", "Trace", "SpanNode", "RawRequest"]
