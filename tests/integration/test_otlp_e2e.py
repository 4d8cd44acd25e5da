"""E2E in the style of the seed: an instrumented app in a subprocess, configured only through
OTEL_* environment variables, exports to MockOTLPCollector; the test asserts on what arrived."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mocktools.otlp import MockOTLPCollector

APP = textwrap.dedent(
    """
    import logging
    from opentelemetry import trace, metrics
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # No endpoint in code: everything comes from OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_SERVICE_NAME.
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
    metrics.set_meter_provider(meter_provider)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    set_logger_provider(logger_provider)
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    logging.getLogger().setLevel(logging.INFO)

    tracer = trace.get_tracer("e2e.app")
    requests_total = metrics.get_meter("e2e.app").create_counter("app.requests")

    def handle(order_id):
        with tracer.start_as_current_span("handle_order", kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("order.id", order_id)
            with tracer.start_as_current_span("validate"):
                pass
            with tracer.start_as_current_span("llm.generate", kind=trace.SpanKind.CLIENT) as llm:
                llm.set_attribute("gen_ai.request.model", "mock-model")
            logging.getLogger("e2e").info("order %s handled", order_id)
            requests_total.add(1, {"order.kind": "standard"})

    for order in (1, 2):
        handle(order)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    logger_provider.shutdown()
    print("app done")
    """
)


@pytest.mark.timeout(90)
def test_instrumented_app_in_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    with MockOTLPCollector(grpc_port=None) as otlp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}  # only our settings
        env |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
            "OTEL_SERVICE_NAME": "e2e-app",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        }
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "app done" in done.stdout
        spans = otlp.wait_for_spans(6, timeout=10, service_name="e2e-app")
        roots = [s for s in spans if s.name == "handle_order"]
        assert sorted(r.attributes["order.id"] for r in roots) == [1, 2]
        for root in roots:
            tree = otlp.get_trace(root.trace_id)  # type: ignore[arg-type]
            assert tree.format().splitlines() == ["handle_order", "  validate", "  llm.generate"]
            assert tree.find("llm.generate")[0].attributes == {"gen_ai.request.model": "mock-model"}
        assert roots[0].resource["deployment.environment"] == "test"
        logs = otlp.wait_for_logs(2, timeout=10, service_name="e2e-app")
        assert sorted(rec.body for rec in logs) == ["order 1 handled", "order 2 handled"]
        assert {rec.trace_id for rec in logs} == {r.trace_id for r in roots}
        points = otlp.wait_for_metrics(1, timeout=10, name="app.requests")
        assert points[-1].value == 2 and points[-1].attributes == {"order.kind": "standard"}
        assert {c.headers.get("Content-Encoding") for c in otlp.calls} == {"gzip"}
        otlp.check()
