"""Stub matching cost per request with 1, 100 and 10,000 stubs, beside pytest-httpserver's.

Run: .venv/bin/python -m bench.bench_stubs   (prints numbers, asserts nothing)

Measured in process, without sockets, so only the matching is timed: `select` is the stub
lookup alone (the index over exact method+path, then the pattern stubs); `dispatch` adds
building the view and the response (`dispatch_doubles`); "miss" is a request no stub matches
(the 404 with its near-miss search). pytest-httpserver's matching
(`RequestHandlerList.match`, a linear scan) is timed on the same stubs and requests.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mocktools import MockHTTPServer
from mocktools.doubles.mixin import _BodyView


def build(n: int, patterns: int) -> tuple[MockHTTPServer, HTTPServer]:
    mock, peer = MockHTTPServer(), HTTPServer(host="127.0.0.1", port=0)
    for i in range(n - patterns):
        mock.expect_request(f"/items/{i}", method="GET").respond_with_json({"i": i})
        peer.expect_request(f"/items/{i}", method="GET").respond_with_json({"i": i})
    for i in range(patterns):
        mock.expect_request(re.compile(rf"/pattern/{i}/\d+")).respond_with_data("p")
        peer.expect_request(re.compile(rf"/pattern/{i}/\d+")).respond_with_data("p")
    return mock, peer


def requests_for(n: int, patterns: int, count: int, seed: int) -> list[Request]:
    rng = random.Random(seed)
    exact = n - patterns
    out = []
    for _ in range(count):
        if patterns and (exact == 0 or rng.random() < 0.1):
            path = f"/pattern/{rng.randrange(patterns)}/{rng.randrange(1000)}"
        else:
            path = f"/items/{rng.randrange(exact)}"
        environ = EnvironBuilder(path=path, method="GET").get_environ()
        out.append(Request(environ))
    return out


def per_call_us(fn: Callable[[Request], Any], reqs: list[Request], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for request in reqs:
            fn(request)
        runs.append((time.perf_counter() - t0) / len(reqs) * 1e6)
    return statistics.median(runs)


def measure(n: int, patterns: int, count: int, repeat: int, seed: int) -> dict[str, float]:
    mock, peer = build(n, patterns)
    reqs = requests_for(n, patterns, count, seed)

    def select(request: Request) -> Any:
        with mock._doubles_lock:
            return mock._doubles_select(_BodyView(request))

    def dispatch(request: Request) -> Any:
        return mock.dispatch_doubles(request, request.environ)

    assert all(select(r)[0] is not None for r in reqs[:50])
    misses = [Request(EnvironBuilder(path=f"/itemz/{i}", method="GET").get_environ()) for i in range(20)]
    peer_reqs = reqs if n <= 100 else reqs[: max(20, count // 50)]  # a linear scan of 10,000 is slow
    result = {"select": per_call_us(select, reqs, repeat), "dispatch": per_call_us(dispatch, reqs, repeat),
              "peer": per_call_us(peer.handlers.match, peer_reqs, repeat),
              "miss_ms": per_call_us(dispatch, misses, 1) / 1000}  # a 404 with its near-miss search
    mock.reset()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("stubs   (of which regex)  select µs  dispatch µs  pytest-httpserver match µs  miss + near-miss ms")
    for n, patterns in ((1, 0), (100, 0), (10_000, 0), (100, 10), (10_000, 10)):
        r = measure(n, patterns, args.requests, args.repeat, args.seed)
        print(f"{n:>6}  ({patterns:>3})            {r['select']:>8.2f}  {r['dispatch']:>11.2f}  {r['peer']:>12.2f}"
              f"  {r['miss_ms']:>22.2f}")


if __name__ == "__main__":
    main()
