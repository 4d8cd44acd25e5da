"""Foundation benchmark: mocktools' lifecycle and OFD receipt API beside pytest-httpserver.

Run: .venv/bin/python -m bench.bench_core   (prints numbers, asserts nothing)
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from pytest_httpserver import HTTPServer

from mocktools import MockOFDServer, MockRegistry

from ._load import percentile, post_load_in_subprocess

ACK = {"status": "accepted", "receipt_id": "r", "document_id": "d", "fiscal_sign": "0123456789",
       "accepted_at": "2026-01-01T00:00:00.000Z", "duplicate": False}


def httpserver() -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/ofd/v1/receipt", method="POST").respond_with_json(ACK)
    server.expect_request("/ofd/v1/health").respond_with_json({"status": "ok"})
    return server


def start_to_first_200(rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, list[float]] = {"mocktools": [], "pytest-httpserver": []}
    stops: dict[str, list[float]] = {"mocktools": [], "pytest-httpserver": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        mock = MockOFDServer().start()
        assert requests.get(f"{mock.url}/ofd/v1/health", timeout=5).status_code == 200
        results["mocktools"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mock.stop()
        stops["mocktools"].append(time.perf_counter() - t0)
    for _ in range(max(5, rounds // 10)):  # its stop() polls every 0.5 s: fewer rounds
        t0 = time.perf_counter()
        server = httpserver()
        server.start()
        assert requests.get(server.url_for("/ofd/v1/health"), timeout=5).status_code == 200
        results["pytest-httpserver"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        server.stop()
        stops["pytest-httpserver"].append(time.perf_counter() - t0)
    return {name: {"start_to_200_median_ms": statistics.median(v) * 1000,
                   "start_to_200_p95_ms": percentile(v, 0.95) * 1000,
                   "stop_median_ms": statistics.median(stops[name]) * 1000} for name, v in results.items()}


def fifty_up_and_down() -> dict[str, float]:
    registry = MockRegistry({f"ofd{i}": MockOFDServer() for i in range(50)})
    t0 = time.perf_counter()
    registry.start()
    started = time.perf_counter() - t0
    t0 = time.perf_counter()
    registry.stop()
    stopped = time.perf_counter() - t0
    servers = [httpserver() for _ in range(50)]
    with ThreadPoolExecutor(32) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda s: s.start(), servers))
        h_started = time.perf_counter() - t0
        t0 = time.perf_counter()
        list(pool.map(lambda s: s.stop(), servers))
        h_stopped = time.perf_counter() - t0
    return {"mocktools_start_s": started, "mocktools_stop_s": stopped, "mocktools_total_s": started + stopped,
            "httpserver_start_s": h_started, "httpserver_stop_s": h_stopped, "httpserver_total_s": h_started + h_stopped}


def throughput(total: int) -> list[tuple[str, int, dict[str, float]]]:
    rows = []
    body = {"document_id": "bench", "total": 1}
    mock = MockOFDServer().start()
    server = httpserver()
    server.start()
    try:
        for concurrency in (1, 16, 64):
            for name, url in (("mocktools", f"{mock.url}/ofd/v1/receipt"),
                              ("pytest-httpserver", server.url_for("/ofd/v1/receipt"))):
                stats = post_load_in_subprocess(url, body, concurrency=concurrency, total=total)
                rows.append((name, concurrency, stats))
    finally:
        mock.stop()
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # pytest-httpserver logs every request otherwise
    print("== start -> first 200 (construct, start, one GET on a new connection), and stop")
    for name, stats in start_to_first_200(args.rounds).items():
        print(f"{name:<18} " + "  ".join(f"{k}={v:.2f}" for k, v in stats.items()))
    print("== 50 mocks: parallel start + stop")
    print("  ".join(f"{k}={v:.3f}" for k, v in fifty_up_and_down().items()))
    print(f"== POST /ofd/v1/receipt, {args.requests} requests per run (load generator in a second process on the same 2 cores)")
    for name, concurrency, stats in throughput(args.requests):
        print(f"{name:<18} c={concurrency:<3} rps={stats['rps']:8.0f}  p50={stats['p50_ms']:6.2f} ms  "
              f"p99={stats['p99_ms']:7.2f} ms  errors={stats['errors']:.0f}")


if __name__ == "__main__":
    main()
