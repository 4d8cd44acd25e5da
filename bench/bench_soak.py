"""Bounded-memory soak: the journal, the OTLP store and the mesh span store under hostile growth.

Each scenario runs in a fresh child process twice: with the default bounds, and with the bounds
raised out of reach (how the mocks behaved before they were bounded by bytes and per trace).
It prints the child's RSS before and after and the exact counters, so the bound is seen
holding while the counters stay exact. Asserts nothing.

    .venv/bin/python -m bench.bench_soak               # defaults below
    .venv/bin/python -m bench.bench_soak --scale 0.2   # a quicker, smaller run
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

import requests

UNBOUNDED = 1 << 62


def rss_mb() -> float:
    """Resident set size of this process now (Linux /proc), in MB."""
    gc.collect()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def journal_bodies(bounded: bool, scale: float) -> dict[str, Any]:
    """400 x 1 MB request bodies, then 20,000 distinct 404 paths, over HTTP to one mock."""
    from mocktools.http_mock import HTTPMockServer

    mock = HTTPMockServer()
    if not bounded:  # the record-count window (10,000) stays: that was the only bound before
        mock.journal.set_limits(max_bytes=UNBOUNDED, max_body_bytes=UNBOUNDED, max_paths=UNBOUNDED)
    body = b"x" * (1024 * 1024)
    with mock, requests.Session() as http:
        before = rss_mb()
        for _ in range(int(400 * scale)):
            http.post(f"{mock.url}/upload", data=body, timeout=30)
        after = rss_mb()  # the 1 MB bodies are all in the window now, unless bytes bound it
        kept_mb = round(mock.journal.limits()["bytes"] / 2**20, 1)
        for i in range(int(20_000 * scale)):
            http.get(f"{mock.url}/scan/{i}", timeout=30)
        limits = mock.journal.limits()
    return {"rss_before": before, "rss_after": after, "calls (exact)": mock.journal.count(),
            "kept MB after the bodies": kept_mb, "path counters": limits["paths"],
            "overflow calls": limits["overflow_calls"]}


def otlp_exports(bounded: bool, scale: float) -> dict[str, Any]:
    """100,000 one-span exports (the store's ingest path, as the HTTP and gRPC receivers call it)
    plus 2,000 over OTLP/HTTP."""
    from mocktools.otlp import MockOTLPCollector, samples

    kwargs: dict[str, Any] = {} if bounded else {"max_items": UNBOUNDED, "max_bytes": UNBOUNDED,
                                                 "max_raw_bytes": UNBOUNDED}
    with MockOTLPCollector(grpc_port=None, **kwargs) as collector, requests.Session() as http:
        before = rss_mb()
        for _ in range(int(100_000 * scale)):
            message = samples.batch_of_spans(1)
            collector.store.ingest("traces", message, body=message.SerializeToString())
        data = samples.batch_of_spans(1).SerializeToString()
        for _ in range(int(2_000 * scale)):
            http.post(collector.endpoint("traces"), data=data, headers={"Content-Type": "application/x-protobuf"},
                      timeout=30)
        collector.get_spans()  # every kept chunk converted, as a test's assertion would
        after = rss_mb()
        limits = collector.store.limits()["signals"]["traces"]
        counts = collector.store.counts()["traces"]
    return {"rss_before": before, "rss_after": after, "spans accepted (exact)": counts["accepted"],
            "kept spans": counts["stored"], "kept MB (accounted)": round(limits["stored_bytes"] / 2**20, 1)}


def mesh_spans(bounded: bool, scale: float) -> dict[str, Any]:
    """One reused traceparent: 100,000 spans into one trace (store path) plus 1,000 real hops."""
    from mocktools.mesh import MockServiceMesh
    from mocktools.mesh.spans import MeshSpan

    limits = None if bounded else {"max_spans": UNBOUNDED, "max_spans_per_trace": UNBOUNDED}
    spec: dict[str, Any] = {"services": {"api": {"endpoints": {"/": {}}}}}
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with MockServiceMesh(spec, span_limits=limits) as mesh, requests.Session() as http:
        before = rss_mb()
        for i in range(int(100_000 * scale)):
            mesh.spans.add(MeshSpan("0af7651916cd43dd8448eb211c80319c", f"{i:016x}", "b7ad6b7169203331", "GET /", "api",
                                attributes={"http.route": "/", "i": i}))
        url = mesh.url_of("api") + "/"
        for _ in range(int(1_000 * scale)):
            http.get(url, headers={"traceparent": traceparent}, timeout=30)
        after = rss_mb()
        described = mesh.spans.describe()
    return {"rss_before": before, "rss_after": after, "spans seen (exact)": described["total_spans"],
            "kept spans": described["stored_spans"], "dropped (trace full)": described["dropped_spans"]}


SCENARIOS: dict[str, Callable[[bool, float], dict[str, Any]]] = {
    "journal: 400 x 1 MB bodies + 20k 404 paths": journal_bodies,
    "otlp: 100k one-span exports": otlp_exports,
    "mesh: 100k spans on one traceparent": mesh_spans,
}


def _child(fn: Callable[[bool, float], dict[str, Any]], bounded: bool, scale: float, out: Any) -> None:
    started = time.perf_counter()
    result = fn(bounded, scale)
    result["seconds"] = time.perf_counter() - started
    out.send(result)


def run(fn: Callable[[bool, float], dict[str, Any]], bounded: bool, scale: float) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, bounded, scale, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def stop_with_parked(rounds: int = 20) -> None:
    """stop() with three parked /_mock/calls/wait (OFD) and three /_mock/otlp/wait (OTLP) requests."""
    import statistics
    import threading

    from mocktools.ofd import MockOFDServer
    from mocktools.otlp import MockOTLPCollector

    def park(url: str) -> None:
        try:
            requests.post(url, json={"n": 100, "timeout": 30}, timeout=30)
        except requests.RequestException:
            pass  # dropped by stop(), as intended

    times: dict[str, list[float]] = {"ofd": [], "otlp": []}
    for _ in range(rounds):
        ofd, otlp = MockOFDServer().start(), MockOTLPCollector(grpc_port=None).start()
        threads = [threading.Thread(target=park, args=(f"{ofd.url}/_mock/calls/wait",)) for _ in range(3)]
        threads += [threading.Thread(target=park, args=(f"{otlp.url}/_mock/otlp/wait",)) for _ in range(3)]
        for t in threads:
            t.start()
        while ofd.journal.waiting < 3 or otlp.store.waiting < 3:
            time.sleep(0.002)
        for name, mock in (("ofd", ofd), ("otlp", otlp)):
            started = time.perf_counter()
            mock.stop()
            times[name].append((time.perf_counter() - started) * 1000)
        for t in threads:
            t.join()
    for name, values in times.items():
        print(f"  {name}: stop() with 3 parked waits, {rounds} rounds: median {statistics.median(values):.2f} ms, "
              f"max {max(values):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload size")
    args = parser.parse_args()
    print(f"bounded-memory soak (scale {args.scale}); RSS in MB of a fresh process per run\n")
    for name, fn in SCENARIOS.items():
        print(name)
        for bounded in (True, False):
            r = run(fn, bounded, args.scale)
            growth = r.pop("rss_after") - r.pop("rss_before")  # journal: measured right after the bodies
            extra = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                              for k, v in r.items() if k != "seconds")
            label = "default bounds " if bounded else "bounds lifted  "
            print(f"  {label} RSS +{growth:7.1f} MB  in {r['seconds']:5.1f} s   {extra}")
        print()
    print("stop() under parked waits (goal: < 20 ms)")
    stop_with_parked()


if __name__ == "__main__":
    main()
