"""Ingest throughput of MockOTLPCollector: spans/s accepted in batches of 512.

    .venv/bin/python -m bench.bench_otlp [--seconds 3] [--batch 512]

Paths measured, each for about `--seconds` (client and server share the machine):
  protobuf over HTTP (keep-alive `requests.Session`, 1 and 2 client threads), protobuf+gzip,
  OTLP/JSON, OTLP/gRPC (official stub), and the real SDK (BatchSpanProcessor + OTLP/HTTP
  exporter) against the mock versus the same SDK with an exporter that only encodes (the
  exporter's own CPU work) and one that drops everything: this shows whether the collector is
  the bottleneck of an instrumented app.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence

import grpc
import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from mocktools.otlp import MockOTLPCollector, samples
from mocktools.otlp.codec import message_to_otlp_json

from ._load import run_threads_for


def run_for(seconds: float, threads: int, send: Callable[[], None]) -> tuple[int, float]:
    """Call `send` from `threads` threads for `seconds`; return (calls, elapsed)."""
    counts = [0] * threads

    def worker(i: int, stop: threading.Event) -> None:
        while not stop.is_set():
            send()
            counts[i] += 1

    elapsed = run_threads_for(seconds, threads, worker)
    return sum(counts), elapsed


def http_sender(url: str, body: bytes, headers: dict[str, str]) -> Callable[[], None]:
    local = threading.local()

    def send() -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        r = session.post(url, data=body, headers=headers, timeout=30)
        if r.status_code != 200:
            raise RuntimeError(f"unexpected {r.status_code}: {r.content[:200]!r}")

    return send


def report(label: str, calls: int, elapsed: float, batch: int, mock: MockOTLPCollector) -> None:
    durations = sorted(c.duration for c in mock.calls)
    p50 = statistics.median(durations) * 1000 if durations else 0.0
    p99 = durations[int(len(durations) * 0.99) - 1] * 1000 if len(durations) >= 100 else max(durations, default=0) * 1000
    stored = mock.store.counts()["traces"]["accepted"]
    print(f"{label:<34} {calls * batch / elapsed:>10,.0f} spans/s  {calls / elapsed:>7,.1f} req/s  "
          f"server p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (accepted {stored:,})", flush=True)


class _DropExporter(SpanExporter):
    def export(self, spans: Sequence) -> SpanExportResult:  # type: ignore[override]
        return SpanExportResult.SUCCESS


class _EncodeOnlyExporter(SpanExporter):
    """Does the OTLP exporter's own work (encode + serialize) but sends nothing."""

    def export(self, spans: Sequence) -> SpanExportResult:  # type: ignore[override]
        encode_spans(spans).SerializePartialToString()
        return SpanExportResult.SUCCESS


def sdk_rate(exporter: SpanExporter, seconds: float) -> float:
    """Spans/s an app creates and exports through BatchSpanProcessor (flushed at the end)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-app"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65_536, max_export_batch_size=512,
                                                   schedule_delay_millis=50))
    tracer = provider.get_tracer("bench")
    n = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            with tracer.start_as_current_span("op") as span:
                span.set_attribute("i", n)
            n += 1
    provider.force_flush()
    elapsed = time.perf_counter() - started
    provider.shutdown()
    return n / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="MockOTLPCollector ingest benchmark")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args(argv)
    batch = samples.batch_of_spans(args.batch)
    pb = batch.SerializeToString()
    js = json.dumps(message_to_otlp_json(batch)).encode()
    gz = gzip.compress(pb)
    print(f"batch of {args.batch} spans: protobuf {len(pb):,} B, gzip {len(gz):,} B, OTLP/JSON {len(js):,} B")
    with MockOTLPCollector(max_items=50_000, journal_limit=20_000) as mock:
        url = mock.endpoint("traces")
        cases = [
            ("HTTP protobuf, 1 client", 1, http_sender(url, pb, {"Content-Type": "application/x-protobuf"})),
            ("HTTP protobuf, 2 clients", 2, http_sender(url, pb, {"Content-Type": "application/x-protobuf"})),
            ("HTTP protobuf+gzip, 1 client", 1,
             http_sender(url, gz, {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})),
            ("HTTP OTLP/JSON, 1 client", 1, http_sender(url, js, {"Content-Type": "application/json"})),
        ]
        for label, threads, send in cases:
            mock.reset()
            calls, elapsed = run_for(args.seconds, threads, send)
            report(label, calls, elapsed, args.batch, mock)
        assert mock.grpc is not None
        with grpc.insecure_channel(mock.grpc.target) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            mock.reset()
            calls, elapsed = run_for(args.seconds, 1, lambda: stub.Export(batch, timeout=30))
            report("gRPC protobuf, 1 client", calls, elapsed, args.batch, mock)
        mock.reset()
        to_mock = sdk_rate(OTLPSpanExporter(endpoint=url, timeout=30), args.seconds)
        received = mock.store.counts()["traces"]["accepted"]
        encode_only = sdk_rate(_EncodeOnlyExporter(), args.seconds)
        dropped = sdk_rate(_DropExporter(), args.seconds)
        print(f"{'SDK app -> mock (HTTP exporter)':<34} {to_mock:>10,.0f} spans/s  (mock received {received:,})")
        print(f"{'SDK app -> encode-only exporter':<34} {encode_only:>10,.0f} spans/s  "
              f"(mock path / encode-only = {to_mock / encode_only:.2f})")
        print(f"{'SDK app -> drop-everything exporter':<34} {dropped:>10,.0f} spans/s  "
              f"(mock path / drop = {to_mock / dropped:.2f})")


if __name__ == "__main__":
    main()
