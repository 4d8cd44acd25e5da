"""Unit tests of MockOTLPCollector's non-socket surface: construction, CLI hooks, delegation."""

from __future__ import annotations

import argparse

from mocktools.otlp import MockOTLPCollector, samples


def test_cli_arguments_and_from_cli() -> None:
    parser = argparse.ArgumentParser()
    MockOTLPCollector.cli_arguments(parser)
    assert parser.parse_args([]).grpc_port == 4317
    mock = MockOTLPCollector.from_cli(parser.parse_args(["--grpc-port", "-1"]), host="127.0.0.1", port=0)
    assert mock.grpc is None and mock.grpc_port is None
    mock = MockOTLPCollector.from_cli(parser.parse_args(["--grpc-port", "0"]), port=0)
    assert mock.grpc is not None and mock.grpc_port == 0
    assert MockOTLPCollector.from_cli(argparse.Namespace(), port=0).grpc_port == 4317


def test_grpc_port_auto_follows_the_http_port() -> None:
    assert MockOTLPCollector(port=4318).grpc_port == 4317  # well-known ports together (not started)
    assert MockOTLPCollector(port=0).grpc_port == 0
    assert MockOTLPCollector(port=0, grpc_port=5555).grpc_port == 5555
    assert MockOTLPCollector.name == "otlp" and MockOTLPCollector.default_port == 4318


def test_delegation_to_the_store_without_a_socket() -> None:
    mock = MockOTLPCollector(grpc_port=None)
    assert mock.endpoint("logs").endswith(":0/v1/logs")
    req = samples.batch_of_spans(2, "unit")
    mock.store.ingest("traces", req)
    tid = req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert mock.get_trace_ids() == [tid]
    assert len(mock.get_trace(tid)) == 2
    mock.set_partial_success("metrics", rejected=1, message="m")
    assert mock.describe_state()["partial_success"] == {"metrics": {"rejected": 1, "message": "m", "times": None}}
    mock.clear_partial_success("metrics")
    state = mock.describe_state()
    assert state["partial_success"] == {} and state["trace_ids"] == 1 and state["counts"]["traces"]["accepted"] == 2
    mock.store.ingest("metrics", samples.metrics_request({"x": 1}))
    mock.store.ingest("logs", samples.logs_request(["y"]))
    assert mock.get_metrics()[0].resource == {"service.name": "test-service"}
    assert mock.get_logs()[0].resource == {"service.name": "test-service"}
    assert mock.wait_for_metrics(1, timeout=0)[0].scope.name == "mocktools.samples"
    assert mock.get_logs()[0].scope.name == "mocktools.samples"
    mock.reset()
    assert mock.get_spans() == [] and mock.get_raw_requests() == []
