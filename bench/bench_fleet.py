"""Many clients at once: idle keep-alive connections, a fleet of vLLM SSE streams, vLLM chat at c=16.

    .venv/bin/python -m bench.bench_fleet idle [--connections 10000] [--engine asyncio]
    .venv/bin/python -m bench.bench_fleet sse [--streams 1000] [--itl 0.02] [--tokens 50] [--sleep] [--peer]
        [--client epoll|asyncio] [--before CHECKOUT] [--ramp SECONDS]
    .venv/bin/python -m bench.bench_fleet chat [--seconds 5] [--baseline CHECKOUT] [--before CHECKOUT] [--rounds N]

The mock runs in its own process (RLIMIT_NOFILE raised to the hard limit in both processes).
idle: open N connections, one request on each, leave them idle; then a normal client's latency on
a new connection and the server-side time of `stop()`. sse: N concurrent streamed completions
with inter-token latency `itl`; the median gap between tokens a client sees. chat: wrk POST
/v1/chat/completions at 16 connections on each engine (and a baseline checkout). Prints numbers.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def serve(kind: str, port: int, engine: str, extra: str) -> None:
    """The server process: answers `stop` with the milliseconds `stop()` took."""
    raise_fd_limit()
    options = json.loads(extra)
    if kind == "peer":  # the plain asyncio SSE server the fleet is compared with
        from bench.sse_fleet import serve_peer

        serve_peer(port, options)
        return
    if engine != "baseline":  # every mock of the process picks the engine from the env var
        os.environ["MOCKTOOLS_HTTP_ENGINE"] = engine
    kwargs: dict[str, Any] = {}
    if kind == "vllm":
        try:
            from mocktools.vllm.mock import MockVLLMServer
        except ImportError:  # a baseline checkout from before the module renames
            from mocktools.vllm.server import MockVLLMServer  # type: ignore[no-redef,import-not-found]

        mock: Any = MockVLLMServer(port=port, max_num_seqs=options.get("seqs", 256), itl=options.get("itl", 0.0),
                                   max_model_len=8192, **kwargs)
        if options.get("reply"):
            mock.set_reply(options["reply"])
        if options.get("sleep"):
            mock.engine.pause_streams = False
    else:
        from mocktools.ofd.mock import MockOFDServer

        mock = MockOFDServer(port=port, **kwargs)
    mock.start()
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() == "stop":
            started = time.perf_counter()
            mock.stop()
            print(f"{(time.perf_counter() - started) * 1000:.2f}", flush=True)
            return
    mock.stop()


def start_server(kind: str, engine: str, pythonpath: str = ROOT, **options: Any) -> tuple[subprocess.Popen[str], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", kind, str(port), engine,
                             json.dumps(options)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": pythonpath})
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        raise RuntimeError("server did not start")
    return proc, port


def stop_server(proc: subprocess.Popen[str]) -> float:
    out, _ = proc.communicate("stop\n", timeout=60)
    return float(out.strip() or "nan")


# -- idle connections --------------------------------------------------------------------------
def bench_idle(connections: int, engine: str) -> None:
    raise_fd_limit()
    proc, port = start_server("ofd", engine)
    request = b"GET /ofd/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
    held: list[socket.socket] = []
    started = time.perf_counter()
    try:
        for i in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            held.append(sock)
            sock.sendall(request)
            if i % 200 == 199:  # read answers in batches, so the backlog never overflows
                for s in held[-200:]:
                    _read_response(s)
        for s in held[-(connections % 200 or 200):] if connections % 200 else []:
            _read_response(s)
        opened = time.perf_counter() - started
        latencies = []
        for _ in range(5):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            t0 = time.perf_counter()
            conn.request("GET", "/ofd/v1/health")
            conn.getresponse().read()
            latencies.append(time.perf_counter() - t0)
            for _ in range(199):
                t0 = time.perf_counter()
                conn.request("POST", "/ofd/v1/receipt", body=json.dumps({"document_id": str(t0)}),
                             headers={"Content-Type": "application/json"})
                conn.getresponse().read()
                latencies.append(time.perf_counter() - t0)
            conn.close()
        latencies.sort()
        stop_ms = stop_server(proc)
        print(f"idle: {len(held):,} keep-alive connections opened and answered in {opened:.1f} s ({engine} engine)")
        print(f"  a normal client meanwhile (1,000 requests, 5 new connections): p50 "
              f"{statistics.median(latencies) * 1000:.2f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms, "
              f"max {latencies[-1] * 1000:.2f} ms")
        print(f"  stop() with {len(held):,} idle clients: {stop_ms:.1f} ms (server side)")
    finally:
        for sock in held:
            sock.close()
        if proc.poll() is None:
            proc.kill()


def _read_response(sock: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(4096)


# -- chat completions at c=16 ---------------------------------------------------------------------
CHAT_LUA = r"""
wrk.body = '{"model": "mock-llm", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 16}'
"""
#: `--distinct`: every request a prompt never sent before (per wrk thread and per run), so nothing
#: the mock remembers from an earlier prompt helps (the vLLM mock keeps its last 512 default replies)
DISTINCT_LUA = r"""
local counter = 0  -- thread_no: a global each thread gets from setup()
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"model": "mock-llm", "messages": [{"role": "user", "content": ' ..
    '"hello there RUN-' .. (thread_no or 0) .. '-' .. counter .. '"}], "max_tokens": 16}')
end
"""


def _chat_script(distinct: bool, run: int) -> str:
    """The wrk script of one run: one prompt for all, or (`distinct`) a new prompt per request."""
    import tempfile

    from bench.bench_serving import DONE_LUA

    body = DISTINCT_LUA.replace("RUN", f"{os.getpid()}-{run}") if distinct else CHAT_LUA
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n" + body
                + DONE_LUA)
    return f.name


def bench_chat(seconds: int, baseline: str | None, before: str | None = None, rounds: int = 1,
               distinct: bool = False) -> None:
    """wrk c=16 on each engine of this tree, a baseline checkout and a `before` checkout (its own
    default engine), `rounds` interleaved rounds; `distinct`: a new prompt every request."""
    targets = [("asyncio", "asyncio", ROOT), ("werkzeug", "werkzeug", ROOT)]
    targets += [("baseline", "baseline", baseline)] if baseline else []
    targets += [("before", "baseline", before)] if before else []  # "baseline": the tree's default engine
    from bench.sse_fleet import proc_cpu

    runs = ((r, t) for r in range(rounds) for t in targets)
    for run, (_, (label, engine, path)) in enumerate(runs):
        warm, measured = _chat_script(distinct, 2 * run), _chat_script(distinct, 2 * run + 1)
        proc, port = start_server("vllm", engine, path)
        try:
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            subprocess.run(check=False, args=["wrk", "-t2", "-c16", "-d1s", "-s", warm, url],
                           capture_output=True, timeout=60)
            cpu = proc_cpu(proc.pid)
            out = subprocess.run(check=False, args=["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", measured, url],
                                 capture_output=True, text=True, timeout=seconds + 60).stdout
            cpu = proc_cpu(proc.pid) - cpu
        finally:
            stop_server(proc)
            os.unlink(warm)
            os.unlink(measured)
        res = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[7:])
        rps = res["requests"] / (res["duration_us"] / 1e6)
        errors = sum(res[k] for k in ("connect", "read", "write", "status", "timeout"))
        print(f"chat c=16 {label:9}: {rps:7.0f} req/s, p50 {res['p50_us'] / 1000:.2f} ms, "
              f"p99 {res['p99_us'] / 1000:.2f} ms, errors {errors}; server CPU "
              f"{cpu / max(1, res['requests']) * 1e6:.0f} us per request")


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["idle", "sse", "chat"])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--itl", type=float, default=0.02)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--engine", default="asyncio")
    parser.add_argument("--baseline")
    parser.add_argument("--before", help="chat, sse: also the mock of this checkout (e.g. before this work)")
    parser.add_argument("--rounds", type=int, default=1, help="chat: interleaved rounds")
    parser.add_argument("--distinct", action="store_true", help="chat: a prompt never sent before, every request")
    parser.add_argument("--sleep", action="store_true", help="sse: streams sleep on threads instead of pausing")
    parser.add_argument("--peer", action="store_true", help="sse: also a plain asyncio SSE server, same pacing")
    parser.add_argument("--client", choices=["epoll", "asyncio"], default="epoll", help="sse: the fleet's client")
    parser.add_argument("--ramp", type=float, default=0.0, help="sse (epoll client): open the streams over N s")
    args = parser.parse_args()
    if args.mode == "idle":
        bench_idle(args.connections, args.engine)
    elif args.mode == "sse":
        from bench.sse_fleet import bench_sse

        bench_sse(args.streams, args.itl, args.tokens, args.engine, sleep=args.sleep, peer=args.peer,
                  client=args.client, before=args.before, ramp=args.ramp)
    else:
        bench_chat(args.seconds, args.baseline, args.before, args.rounds, args.distinct)


if __name__ == "__main__":
    main()
