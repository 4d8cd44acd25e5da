"""A small closed-loop HTTP load generator shared by the benchmarks (threads + keep-alive sessions)."""
from __future__ import annotations

import statistics
import threading
import time
from typing import Any, Callable

import requests


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_load(send: Callable[[requests.Session], Any], *, concurrency: int, total: int) -> dict[str, float]:
    """`total` requests from `concurrency` threads, each with its own keep-alive session."""
    per_thread = max(1, total // concurrency)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(concurrency + 1)

    def worker() -> None:
        session = requests.Session()
        mine: list[float] = []
        bad = 0
        start_gate.wait()
        for _ in range(per_thread):
            t0 = time.perf_counter()
            try:
                ok = send(session)
            except requests.RequestException:
                ok = False
            mine.append(time.perf_counter() - t0)
            bad += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad
        session.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {"requests": len(latencies), "errors": errors[0], "rps": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000}


def run_threads_for(seconds: float, threads: int, worker: Callable[[int, threading.Event], None]) -> float:
    """Run `worker(i, stop)` in `threads` threads until `stop` is set after `seconds`; return the elapsed seconds."""
    stop = threading.Event()
    pool = [threading.Thread(target=worker, args=(i, stop)) for i in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in pool:
        t.join()
    return time.perf_counter() - started


def _post_json_worker(url: str, body: Any, concurrency: int, total: int, queue: Any) -> None:
    queue.put(run_load(lambda s: s.post(url, json=body, timeout=10).status_code == 200,
                       concurrency=concurrency, total=total))


def post_load_in_subprocess(url: str, body: Any, *, concurrency: int, total: int) -> dict[str, float]:
    """The same load from a separate process, so the server under test keeps its own GIL."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_post_json_worker, args=(url, body, concurrency, total, queue))
    proc.start()
    stats = queue.get(timeout=600)
    proc.join()
    return stats
