#!/usr/bin/env python
"""Run MockOTLPCollector on the well-known ports (HTTP 4318, gRPC 4317) and print what arrives.

    .venv/bin/python scripts/run_otlp.py                 # 127.0.0.1:4318 + :4317
    .venv/bin/python scripts/run_otlp.py --port 14318 --grpc-port -1 --attributes

Point any OpenTelemetry SDK at it, e.g. `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318`.
Faults can be driven meanwhile from another shell through the /_mock/ API, e.g.
`curl -XPOST localhost:4318/_mock/faults/failure-count -d '{"n": 3, "status": 503, "retry_after": 1}'`.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mocktools.cli import Parser, add_fault_arguments, apply_fault_arguments, port_number, port_or_off  # noqa: E402
from mocktools.otlp import MockOTLPCollector  # noqa: E402
from mocktools.otlp.model import LogRecord, MetricPoint, Span  # noqa: E402


def describe(item: Any, show_attributes: bool) -> str:
    """One line per received item."""
    attrs = f" {item.attributes}" if show_attributes and item.attributes else ""
    svc = item.service_name or "?"
    if isinstance(item, Span):
        ms = item.duration_ns / 1e6
        parent = item.parent_span_id or "-"
        return (f"span   [{svc}] {item.name!r} {item.kind} {item.status_code} {ms:.2f}ms "
                f"trace={item.trace_id} span={item.span_id} parent={parent}{attrs}")
    if isinstance(item, MetricPoint):
        value = item.value if item.count is None else f"count={item.count} sum={item.sum}"
        return f"metric [{svc}] {item.name} ({item.type}, {item.unit or '-'}) = {value}{attrs}"
    if isinstance(item, LogRecord):
        return f"log    [{svc}] {item.severity_text or item.severity_number} {item.body!r}{attrs}"
    return repr(item)  # pragma: no cover


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=MockOTLPCollector.default_port)
    parser.add_argument("--grpc-port", type=port_or_off, default=MockOTLPCollector.default_grpc_port,
                        help="-1 disables OTLP/gRPC")
    parser.add_argument("--attributes", action="store_true", help="print attributes too")
    add_fault_arguments(parser)
    args = parser.parse_args(argv)

    collector = MockOTLPCollector(args.host, args.port, grpc_port=None if args.grpc_port < 0 else args.grpc_port)
    apply_fault_arguments(collector, args)
    lock = threading.Lock()

    def on_items(signal: str, items: list[Any]) -> None:
        with lock:
            for item in items:
                print(describe(item, args.attributes), flush=True)

    collector.subscribe(on_items)
    stop = threading.Event()
    with collector:
        print(f"OTLP/HTTP  {collector.url}  (POST /v1/traces, /v1/metrics, /v1/logs)", flush=True)
        if collector.grpc_endpoint:
            print(f"OTLP/gRPC  {collector.grpc_endpoint}", flush=True)
        print("Ctrl-C to stop", flush=True)
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            pass
    counts = collector.store.counts()
    print("received: " + ", ".join(f"{s}={c['accepted']}" for s, c in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
