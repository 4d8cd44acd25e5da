"""GET /v1/ex?size=1000 per second on a MockTerasliceServer holding 10,000+ executions.

    .venv/bin/python -m bench.bench_teraslice [--seconds 4] [--executions 10000]

Measured (client and server share the machine; keep-alive `requests.Session`):
  - cluster generation time;
  - the first (cold) GET /v1/ex?size=1000: renders and caches every record it returns;
  - steady GET /v1/ex?size=1000 on the real clock, 1 and 2 client threads;
  - the same when the model changes before every request (FakeClock advanced 180 s each
    time: lifecycle events and timed transitions invalidate the cached sort);
  - a full ts-topy refresh (controllers + jobs?size=1000 + ex?size=1000) per second;
  - GET /v1/cluster/controllers, GET /v1/cluster/state and GET /v1/ex/errors?size=100.
Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import threading
import time
from typing import Callable

import requests

from mocktools.clock import FakeClock
from mocktools.teraslice import MockTerasliceServer

from ._load import run_threads_for


def build(executions: int, clock: FakeClock | None = None) -> tuple[MockTerasliceServer, float]:
    """A mock with at least `executions` executions (about 2.1 per generated job)."""
    started = time.perf_counter()
    mock = MockTerasliceServer(seed=1, jobs=max(1, int(executions / 2.1)), clock=clock)
    while len(mock.cluster.executions) < executions:
        mock.add_job({"name": "bench-extra"})
    return mock, time.perf_counter() - started


def _get_ok(session: requests.Session, url: str) -> None:
    session.get(url).raise_for_status()


def run_for(seconds: float, threads: int, send: Callable[[requests.Session], None]) -> tuple[int, float, list[float]]:
    counts = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def worker(i: int, stop: threading.Event) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                t0 = time.perf_counter()
                send(session)
                latencies[i].append(time.perf_counter() - t0)
                counts[i] += 1

    elapsed = run_threads_for(seconds, threads, worker)
    return sum(counts), elapsed, [x for lat in latencies for x in lat]


def report(label: str, n: int, elapsed: float, lat: list[float]) -> None:
    lat = sorted(lat) or [0.0]
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(f"{label:<58} {n / elapsed:8.1f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--executions", type=int, default=10_000)
    args = parser.parse_args(argv)

    mock, gen = build(args.executions)
    with mock:
        n_ex = len(mock.cluster.executions)
        print(f"cluster: {len(mock.cluster.jobs)} jobs, {n_ex} executions, "
              f"generated in {gen:.2f} s")
        url = mock.url + "/v1/ex?size=1000"
        with requests.Session() as s:
            t0 = time.perf_counter()
            body = s.get(url).content
            print(f"{'cold GET /v1/ex?size=1000 (renders the page)':<58} "
                  f"{(time.perf_counter() - t0) * 1000:8.1f} ms   ({len(body) / 1e6:.2f} MB)")

        def get_ex(session: requests.Session) -> None:
            r = session.get(url)
            assert r.status_code == 200

        for threads in (1, 2):
            n, el, lat = run_for(args.seconds, threads, get_ex)
            report(f"GET /v1/ex?size=1000, real clock, {threads} thread(s)", n, el, lat)

        def refresh(session: requests.Session) -> None:
            for path in ("/v1/cluster/controllers", "/v1/jobs?size=1000", "/v1/ex?size=1000"):
                assert session.get(mock.url + path).status_code == 200

        n, el, lat = run_for(args.seconds, 1, refresh)
        report("ts-topy refresh (3 requests), 1 thread", n, el, lat)
        for path in ("/v1/cluster/controllers", "/v1/cluster/state", "/v1/ex/errors?size=100"):
            n, el, lat = run_for(min(args.seconds, 2.0), 1,
                                 functools.partial(_get_ok, url=mock.url + path))
            report(f"GET {path}", n, el, lat)

    clock = FakeClock()
    fake, _ = build(args.executions, clock)
    with fake:
        url = fake.url + "/v1/ex?size=1000"

        def advancing(session: requests.Session) -> None:
            fake.advance(180.0)
            assert session.get(url).status_code == 200

        n, el, lat = run_for(args.seconds, 1, advancing)
        report("GET /v1/ex?size=1000, model changed before each request", n, el, lat)
        print(f"(simulated {clock.time() - 1_700_000_000.0:.0f} s; "
              f"{len(fake.cluster.executions)} executions at the end)")


if __name__ == "__main__":
    main()
