"""MockRedisServer through redis-py, beside a real redis-server when one is on PATH.

    .venv/bin/python -m bench.bench_redis [--seconds 3]

Measured (client threads in this process, server on the same 2 cores): SET+GET round trips
with 1 and 4 client threads, a 100-command pipeline, and LPUSH/BRPOP through a queue; start and
stop of the mock. Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import threading
import time
from typing import Callable

import redis

from mocktools.redis import MockRedisServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ops_per_second(url: str, threads: int, seconds: float, work: Callable[[redis.Redis], int]) -> float:
    done = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        client = redis.Redis.from_url(url)
        count = 0
        while time.perf_counter() < stop:
            count += work(client)
        client.close()
        with lock:
            done[0] += count

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0] / seconds


def set_get(client: redis.Redis) -> int:
    client.set("k", "v")
    client.get("k")
    return 2


def pipeline(client: redis.Redis) -> int:
    with client.pipeline(transaction=False) as pipe:
        for i in range(50):
            pipe.set(f"k{i}", i)
            pipe.get(f"k{i}")
        pipe.execute()
    return 100


def queue(client: redis.Redis) -> int:
    client.lpush("q", "job")
    client.brpop(["q"], timeout=1)
    return 2


def run(name: str, url: str, seconds: float) -> None:
    for label, threads, work in (("SET+GET", 1, set_get), ("SET+GET", 4, set_get),
                                 ("pipeline of 100", 1, pipeline), ("LPUSH+BRPOP", 1, queue)):
        rate = ops_per_second(url, threads, seconds, work)
        print(f"{name:<13} {label:<16} threads={threads}  {rate:>9,.0f} commands/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    starts, stops = [], []
    for _ in range(100):
        t0 = time.perf_counter()
        mock = MockRedisServer().start()
        t1 = time.perf_counter()
        mock.stop()
        starts.append(t1 - t0)
        stops.append(time.perf_counter() - t1)
    print(f"MockRedisServer start median {statistics.median(starts) * 1000:.2f} ms, "
          f"stop median {statistics.median(stops) * 1000:.2f} ms (100 rounds)")
    with MockRedisServer() as mock:
        run("mocktools", mock.url, args.seconds)
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server not on PATH: no peer numbers")
        return
    port = _free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.01)
        run("redis-server", f"redis://127.0.0.1:{port}", args.seconds)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
