"""Side-by-side HTTP serving numbers with wrk: mocktools (both engines), pytest-httpserver, Mountebank.

    .venv/bin/python -m bench.bench_serving [--seconds 5] [--rounds 3] [--targets ...]
    .venv/bin/python -m bench.bench_serving soak [--receipts 1000000]
    .venv/bin/python -m bench.bench_serving inproc [--baseline /work/main]   # CPU µs per request, no socket

Each target serves the OFD receipt API (POST /ofd/v1/receipt with a JSON acknowledgement, GET
/ofd/v1/health) in its own process; wrk (`make bench-deps`) drives it from another. Rounds are
interleaved (every target once per round) so machine load hits all alike; medians are printed
with errors and the server-side request count beside wrk's. The soak mode posts distinct
receipts to one mock and prints its RSS and the p99 per 100k. Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ACK = {"status": "accepted", "receipt_id": "r", "document_id": "d", "fiscal_sign": "0123456789",
       "accepted_at": "2026-01-01T00:00:00.000Z", "duplicate": False}

POST_LUA = r"""
local counter, tid = 0, 0
local threads = {}
setup = function(thread) table.insert(threads, thread); thread:set("tid", #threads) end
init = function(args) tid = wrk.thread:get("tid") or 0 end
request = function()
  counter = counter + 1
  local body = '{"document_id": "' .. RUN .. '-' .. tid .. '-' .. counter .. '", "total": 100.5, ' ..
               '"items": [{"name": "bread", "price": 50.25, "qty": 2}]}'
  return wrk.format("POST", "/ofd/v1/receipt", {["Content-Type"] = "application/json"}, body)
end
"""
DONE_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n', summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# -- the servers (each runs in its own process: `bench_serving serve TARGET PORT`) ---------------
class GCWatch:
    """Full (generation-2) collections in this process: how many, and the longest, wall and CPU."""

    def __init__(self) -> None:
        self.count, self.wall, self.cpu, self._t = 0, 0.0, 0.0, (0.0, 0.0)
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._t = (time.perf_counter(), time.thread_time())
        else:
            self.count += 1
            self.wall = max(self.wall, time.perf_counter() - self._t[0])
            self.cpu = max(self.cpu, time.thread_time() - self._t[1])

    def take(self) -> str:
        """`count wall_ms cpu_ms tracked_objects` since the last take."""
        line = f"{self.count} {self.wall * 1000:.1f} {self.cpu * 1000:.1f} {len(gc.get_objects())}"
        self.count, self.wall, self.cpu = 0, 0.0, 0.0
        return line


def serve(target: str, port: int) -> None:
    """Serve one target until stdin closes; answer `count` (server-side requests), `rss`, `gc`."""
    count: Callable[[], int]
    stop: Callable[[], Any]
    watch = GCWatch()
    if target.startswith("mocktools") or target == "baseline":
        from mocktools.ofd.mock import MockOFDServer

        engine = None if target == "baseline" else target.split("-", 1)[1]
        mock = MockOFDServer(port=port, engine=engine).start() if engine else MockOFDServer(port=port).start()
        count, stop = (lambda: mock.get_call_count(None)), mock.stop
    elif target == "pytest-httpserver":
        import logging

        from pytest_httpserver import HTTPServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = HTTPServer(host="127.0.0.1", port=port)
        server.expect_request("/ofd/v1/receipt", method="POST").respond_with_json(ACK)
        server.expect_request("/ofd/v1/health").respond_with_json({"status": "ok"})
        server.start()
        count, stop = (lambda: len(server.log)), server.stop
    else:
        raise SystemExit(f"unknown target {target}")
    print("READY", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "count":
            print(count(), flush=True)
        elif command == "gc":
            print(watch.take(), flush=True)
        elif command == "rss":
            with open("/proc/self/statm") as f:
                print(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"), flush=True)
    stop()


class Target:
    """A server process; `baseline` runs the mocktools of another checkout (`--baseline PATH`)."""

    def __init__(self, name: str, port: int, pythonpath: str = ROOT) -> None:
        self.name, self.port, self.pythonpath = name, port, pythonpath
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", self.name, str(self.port)],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": self.pythonpath})
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "READY":
            raise RuntimeError(f"{self.name} did not start")

    def ask(self, command: str) -> int:
        return int(self.ask_line(command))

    def ask_line(self, command: str) -> str:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def count(self) -> int:
        return self.ask("count")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.communicate(timeout=30)


class Mountebank(Target):
    """mb (npm install -g mountebank) with one imposter answering the same two routes."""

    def start(self) -> None:
        self.admin = free_port()
        self.proc = subprocess.Popen(["mb", "--port", str(self.admin), "--mock", "--loglevel", "error"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     text=True)
        import requests

        for _ in range(200):
            try:
                requests.get(f"http://127.0.0.1:{self.admin}/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        stubs = [{"predicates": [{"equals": {"method": "POST", "path": "/ofd/v1/receipt"}}],
                  "responses": [{"is": {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                                        "body": json.dumps(ACK)}}]},
                 {"predicates": [{"equals": {"path": "/ofd/v1/health"}}],
                  "responses": [{"is": {"statusCode": 200, "body": '{"status": "ok"}'}}]}]
        requests.post(f"http://127.0.0.1:{self.admin}/imposters", timeout=10,
                      json={"protocol": "http", "port": self.port, "recordRequests": False, "stubs": stubs})

    def count(self) -> int:
        import requests

        return int(requests.get(f"http://127.0.0.1:{self.admin}/imposters/{self.port}", timeout=30)
                   .json().get("numberOfRequests", -1))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(port: int, path: str, *, connections: int, seconds: float, post: bool, run: str) -> dict[str, Any]:
    script = (POST_LUA.replace("RUN", json.dumps(run)) if post else "") + DONE_LUA
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(check=False, args=["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", f.name,
                              f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(f.name)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    result: dict[str, Any] = json.loads(line[7:])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


SCENARIOS = [("POST receipt c=16", "/ofd/v1/receipt", 16, True), ("POST receipt c=64", "/ofd/v1/receipt", 64, True),
             ("GET health c=16", "/ofd/v1/health", 16, False)]


def side_by_side(names: list[str], seconds: float, rounds: int, baseline: str | None = None) -> None:
    targets: list[Target] = []
    if baseline:
        targets.append(Target("baseline", free_port(), baseline))
    for name in names:
        if name == "mountebank":
            if shutil.which("mb") is None:
                print("mountebank: skipped (`mb` not on PATH; `npm install -g mountebank` installs it)")
                continue
            targets.append(Mountebank(name, free_port()))
        else:
            targets.append(Target(name, free_port()))
    for target in targets:
        target.start()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for label, path, conns, post in SCENARIOS:
            for target in targets:  # warm-up
                wrk(target.port, path, connections=conns, seconds=1, post=post, run=f"warm-{label}")
            for r in range(rounds):
                for target in targets:
                    before = target.count()
                    res = wrk(target.port, path, connections=conns, seconds=seconds, post=post, run=f"{label}-{r}")
                    time.sleep(0.3)  # let in-flight requests land before counting
                    res["server"] = target.count() - before
                    results.setdefault((label, target.name), []).append(res)
    finally:
        for target in targets:
            target.stop()
    print(f"\nwrk -t2, {rounds} interleaved rounds x {seconds:g} s, medians (load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{'scenario':20} {'target':20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'wrk count':>10} {'server count':>12}")
    for label, _, _, _ in SCENARIOS:
        for target in targets:
            runs = results.get((label, target.name), [])
            if not runs:
                continue
            med = lambda key, runs=runs: statistics.median(r[key] for r in runs)
            print(f"{label:20} {target.name:20} {med('rps'):9.0f} {med('p50_us') / 1000:8.2f} "
                  f"{med('p99_us') / 1000:8.2f} {sum(r['errors'] for r in runs):7d} "
                  f"{sum(r['requests'] for r in runs):10d} {sum(r['server'] for r in runs):12d}")


def soak(receipts: int, engine: str, step: int = 100_000) -> None:
    """Distinct receipts until `receipts`; RSS and p99 each time another `step` is reached."""
    target = Target(f"mocktools-{engine}", free_port())
    target.start()
    print(f"soak: {receipts:,} distinct receipts into MockOFDServer ({engine} engine), wrk -c16")
    print(f"{'receipts':>10} {'RSS MiB':>8} {'p99 ms':>8} {'req/s':>8} {'full GCs':>9} {'max GC ms (CPU)':>16} "
          f"{'GC objects':>10}")
    try:
        done, mark, chunk, n = 0, step, [], 0
        while done < receipts:
            res = wrk(target.port, "/ofd/v1/receipt", connections=16, seconds=5, post=True, run=f"soak{n}")
            n += 1
            done = target.count()
            chunk.append(res)
            if done >= mark or done >= receipts:
                rss = target.ask("rss") / 2**20
                p99 = max(r["p99_us"] for r in chunk) / 1000
                rps = statistics.median(r["rps"] for r in chunk)
                gcs, wall, cpu, tracked = target.ask_line("gc").split()
                print(f"{done:10,} {rss:8.1f} {p99:8.2f} {rps:8.0f} {gcs:>9} {wall + ' (' + cpu + ')':>16} {tracked:>10}",
                      flush=True)
                chunk, mark = [], mark + step
    finally:
        target.stop()


def inproc_child(requests: int) -> None:
    """CPU µs per request of the mock's own layers: the app driven through the engine's WSGI driver
    with prebuilt environs, no socket (robust on a loaded machine: process time, best of 3)."""
    import io

    from mocktools.ofd.mock import MockOFDServer
    from mocktools.wsgi_driver import run_request
    from mocktools.wsgi_environ import build_environ

    class Sink:
        close_requested = False
        held = False  # (the engine's driver asks; older drivers do not)

        def __init__(self) -> None:
            self.first = b""

        def send(self, data: bytes, final: bool) -> None:
            self.first = self.first or data[:12]

    mock = MockOFDServer()

    def environ(i: int, post: bool) -> dict[str, Any]:
        body = (b'{"document_id": "inproc-%d", "total": 100.5, "items": [{"name": "bread", "price": 50.25, '
                b'"qty": 2}]}' % i) if post else b""
        headers = [("Host", "127.0.0.1:9000")] + ([("Content-Type", "application/json"),
                                                   ("Content-Length", str(len(body)))] if post else [])
        return build_environ("POST" if post else "GET", "/ofd/v1/receipt" if post else "/ofd/v1/health", (1, 1),
                             headers, server=("127.0.0.1", 9000), remote=("127.0.0.1", 50000),
                             body=io.BytesIO(body), chunked=False, connection=None)

    serial = 0
    for label, post in (("POST receipt", True), ("GET health", False)):
        best = float("inf")
        for _ in range(4):  # the first round warms up
            batch = [environ(serial + i, post) for i in range(requests)]
            serial += requests
            sinks = [Sink() for _ in batch]
            started = time.process_time()
            for env, sink in zip(batch, sinks):
                run_request(mock.wsgi_app, env, sink, close=False, http10=False)
            best = min(best, (time.process_time() - started) / requests * 1e6)
            if any(sink.first != b"HTTP/1.1 200" for sink in sinks):  # measure answers, not errors
                raise SystemExit(f"{label}: not every answer was 200: {sinks[-1].first!r}")
        print(f"{label:14} {best:7.1f} µs per request", flush=True)


def inproc(requests: int, baseline: str | None) -> None:
    for name, path in ([("baseline", baseline)] if baseline else []) + [("mocktools", ROOT)]:
        print(f"{name} ({path}), {requests:,} requests per round, best of 3:", flush=True)
        subprocess.run([sys.executable, os.path.abspath(__file__), "inproc-child", str(requests)], check=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": path})


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        serve(argv[1], int(argv[2]))
        return
    if argv[:1] == ["inproc-child"]:
        inproc_child(int(argv[1]))
        return
    if argv[:1] == ["inproc"]:
        parser = argparse.ArgumentParser(prog="bench_serving inproc")
        parser.add_argument("--requests", type=int, default=20_000)
        parser.add_argument("--baseline", help="also measure the mocktools of this checkout (e.g. /work/main)")
        args = parser.parse_args(argv[1:])
        inproc(args.requests, args.baseline)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench-deps`")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", nargs="?", default="compare", choices=["compare", "soak"])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--targets", nargs="+", default=["mocktools-asyncio", "mocktools-werkzeug",
                                                         "pytest-httpserver", "mountebank"])
    parser.add_argument("--receipts", type=int, default=1_000_000)
    parser.add_argument("--engine", default="asyncio")
    parser.add_argument("--baseline", help="also serve the mocktools of this checkout (e.g. /work/main)")
    args = parser.parse_args(argv)
    if args.mode == "soak":
        soak(args.receipts, args.engine)
    else:
        side_by_side(args.targets, args.seconds, args.rounds, args.baseline)


if __name__ == "__main__":
    main()
