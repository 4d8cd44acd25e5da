"""The asyncio engine alone: CPU per request, per resumed stream step, and a bare app under wrk.

    .venv/bin/python -m bench.bench_engine cpu [--app bare|ofd-post|ofd-health] [--profile 20]
    .venv/bin/python -m bench.bench_engine resume [--steps 200000]    # µs per Pause(inline=True) step
    .venv/bin/python -m bench.bench_engine wrk [--seconds 3] [--baseline /path/to/checkout] [--app ofd-post]
    .venv/bin/python -m bench.bench_engine sse [--streams 1000]       # paced bare app beside the SSE peer

`cpu` feeds one connection's protocol (a fake transport, no syscalls) keep-alive requests for a
bare WSGI app answering a few bytes, inline: parsing, environ, dispatch, response head, write
(µs of CPU per request); `--app ofd-*` serves the OFD mock's receipt or health route instead.
`resume` runs streams that yield a byte and `Pause(0.001, inline=True)` on a real loop (fake
transport): the cost of one timer-resumed step. `wrk` serves the bare app in a subprocess
(inline, and on the worker pool) beside a plain asyncio + httptools server answering the same
bytes (the floor any engine on this loop can reach), or with `--app ofd-*` the OFD mock with its
inline routes and with nothing inline; each line has the server process's CPU per request
(from /proc: robust when other processes load the machine). `sse` streams the SSE peer's
events from a bare WSGI app that yields `Pause(inline=True)` to absolute deadlines (itl 20 ms,
50 tokens), through `bench.sse_fleet`'s client, beside that peer. Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REQUEST = b"GET /bare HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
ANSWER = b'{"ok":true}'


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))])
    return [ANSWER]


class FakeTransport:
    """Enough of an asyncio transport for the protocol; counts what it is given."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return None

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _protocol(app: Callable[..., Any], inline: bool | Callable[[dict[str, Any]], bool]) -> tuple[Any, Any, FakeTransport]:
    from mocktools.aio_protocol import HTTPProtocol
    from mocktools.aio_server import AsyncHTTPServer

    probe = inline if callable(inline) else (lambda environ: True) if inline else None
    server = AsyncHTTPServer("127.0.0.1", 0, app, inline=probe)
    proto = HTTPProtocol(server, ("127.0.0.1", 40000))
    transport = FakeTransport()
    proto.connection_made(transport)
    return server, proto, transport


def _requests(kind: str) -> tuple[Callable[..., Any], Any, Callable[[int], bytes], Any]:
    """The app, its inline probe, request bytes number i, and what to close afterwards."""
    if kind == "bare":
        return bare_app, True, lambda i: REQUEST, None
    from mocktools.ofd.mock import MockOFDServer

    mock = MockOFDServer()
    if kind == "ofd-health":
        return mock.wsgi_app, mock.http_listener.inline_ok, lambda i: REQUEST.replace(b"/bare", b"/ofd/v1/health"), mock

    def post(i: int) -> bytes:
        body = b'{"document_id": "cpu-%d", "total": 100.5, "items": [{"name": "bread", "price": 50.25, "qty": 2}]}' % i
        return (b"POST /ofd/v1/receipt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    return mock.wsgi_app, mock.http_listener.inline_ok, post, mock


def cpu(requests: int, kind: str, profile_top: int) -> None:
    app, probe, make, mock = _requests(kind)
    server, proto, transport = _protocol(app, probe)
    try:
        for i in range(2000):
            proto.data_received(make(i))
        rounds, per_round = 5, max(1, requests // 5)
        results = []
        for r in range(rounds):  # the best of 5 rounds: other processes' load only ever adds time
            wire = [make(i) for i in range(2000 + r * per_round, 2000 + (r + 1) * per_round)]
            before, written = time.process_time(), transport.written
            for data in wire:
                proto.data_received(data)
            results.append((time.process_time() - before) / per_round)
            per = (transport.written - written) // per_round
        print(f"{kind}, one connection, fake transport: {min(results) * 1e6:.1f} µs CPU per request, best of "
              f"{rounds} x {per_round} (median {sorted(results)[rounds // 2] * 1e6:.1f}; {per} bytes answered each)")
        if profile_top:
            import cProfile
            import pstats

            wire = [make(i) for i in range(10**7, 10**7 + 20000)]
            profile = cProfile.Profile()
            profile.enable()
            for data in wire:
                proto.data_received(data)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(profile_top)
    finally:
        server.server_close()


def resume(steps: int, streams: int) -> None:
    from mocktools.http_connection import Pause

    per_stream = steps // streams

    def paced(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[Any]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        for _ in range(per_stream):
            yield b"data: x\n\n"
            yield Pause(0.001, inline=True)

    server, first, _ = _protocol(paced, inline=True)
    loop = server.loop
    protos = [first] + [_protocol_on(server) for _ in range(streams - 1)]
    try:
        asyncio.set_event_loop(loop)
        before = time.process_time()
        for proto in protos:
            proto.data_received(REQUEST)

        async def until_done() -> None:
            while any(p.active is not None for p in protos):
                await asyncio.sleep(0.001)

        loop.run_until_complete(until_done())
        took = time.process_time() - before
        print(f"Pause(0.001, inline=True) resumed on the loop: {took / (per_stream * streams) * 1e6:.1f} µs CPU "
              f"per step ({streams} streams x {per_stream} steps, loop and timer included)")
    finally:
        server.server_close()


def _protocol_on(server: Any) -> Any:
    from mocktools.aio_protocol import HTTPProtocol

    proto = HTTPProtocol(server, ("127.0.0.1", 40001))
    proto.connection_made(FakeTransport())
    return proto


# -- wrk: each server in its own process -------------------------------------------------------
class FloorProtocol(asyncio.Protocol):
    """The least an asyncio + httptools server does: parse, answer fixed bytes, keep alive."""

    response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % len(ANSWER)) + ANSWER

    def connection_made(self, transport: Any) -> None:
        import httptools

        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.transport.write(self.response)


_EVENT = ('data: {"id":"cmpl-0123456789abcdef","object":"text_completion","created":1700000000,'
          '"model":"mock-llm","choices":[{"index":0,"text":" token","logprobs":null,'
          '"finish_reason":null,"stop_reason":null}]}\n\n').encode()


def paced_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[Any]:
    """The SSE peer's events from a WSGI body: `Pause(inline=True)` to absolute deadlines."""
    from mocktools.http_connection import Pause

    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/event-stream; charset=utf-8")])
    deadline = time.monotonic()
    for _ in range(51):
        yield _EVENT
        deadline += 0.02
        yield Pause(max(0.0, deadline - time.monotonic()), inline=True)
    yield b"data: [DONE]\n\n"


def sse(streams: int) -> None:
    """1,000 paced streams through the engine with a bare app, beside the plain asyncio peer."""
    from bench.bench_fleet import raise_fd_limit, start_server, stop_server
    from bench.bench_serving import free_port
    from bench.sse_fleet import report, run_fleet

    raise_fd_limit()
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", "paced", str(port)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        raise RuntimeError("the paced server did not start")
    try:
        result = run_fleet(port, proc.pid, streams, 50)
    finally:
        proc.communicate(timeout=30)
    report("bare WSGI app on the asyncio engine, Pause(inline=True)", *result, streams, 0.02)
    peer, peer_port = start_server("peer", "asyncio", itl=0.02, tokens=50)
    try:
        result = run_fleet(peer_port, peer.pid, streams, 50)
    finally:
        stop_server(peer)
    report("plain asyncio SSE server (prebuilt events, loop timers)", *result, streams, 0.02)


def serve(kind: str, port: int) -> None:
    if kind == "floor":
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(loop.create_server(FloorProtocol, "127.0.0.1", port))
        print("READY", flush=True)
        loop.run_in_executor(None, sys.stdin.read).add_done_callback(lambda _: loop.stop())
        loop.run_forever()
        server.close()
        return
    if kind.startswith("ofd"):  # the OFD mock of the checkout on PYTHONPATH; ofd-pool: nothing inline
        from mocktools.ofd.mock import MockOFDServer

        mock = MockOFDServer(port=port, engine="asyncio")
        if kind == "ofd-pool":
            mock.http_listener.inline_ok = lambda environ: False  # type: ignore[method-assign]
        mock.start()
        print("READY", flush=True)
        sys.stdin.read()
        mock.stop()
        return
    from mocktools.aio_server import AsyncHTTPServer

    if kind == "paced":
        from bench.bench_fleet import raise_fd_limit

        raise_fd_limit()
    inline = (lambda environ: True) if kind in ("inline", "paced") else None
    http = AsyncHTTPServer("127.0.0.1", port, paced_app if kind == "paced" else bare_app, inline=inline)
    import threading

    thread = threading.Thread(target=http.serve_until_stopped, daemon=True)
    thread.start()
    print("READY", flush=True)
    sys.stdin.read()
    http.wake()
    thread.join()
    http.server_close()


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc: robust under other load."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_all(seconds: float, kinds: list[str], baseline: str | None = None, app: str = "bare") -> None:
    from bench.bench_serving import free_port, wrk

    procs = {}
    if app == "bare":
        servers = [(kind, kind, ROOT) for kind in kinds]
        path, post, what = "/bare", False, f"GET a bare app answering {len(ANSWER)} bytes"
    else:
        servers = [(kind, "ofd" if kind == "inline" else "ofd-pool", ROOT) for kind in kinds if kind in ("inline", "pool")]
        path, post = ("/ofd/v1/receipt", True) if app == "ofd-post" else ("/ofd/v1/health", False)
        what = f"{'POST' if post else 'GET'} {path} of MockOFDServer"
    if baseline:  # the same app on another checkout (its engine as it was)
        servers.insert(0, ("before", "pool" if app == "bare" else "ofd", baseline))
    try:
        for label, kind, root in servers:
            port = free_port()
            proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", kind, str(port)],
                                    cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                    env={**os.environ, "PYTHONPATH": root})
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "READY":
                raise RuntimeError(f"{label} did not start")
            procs[label] = (proc, port)
        for _, port in procs.values():
            wrk(port, path, connections=16, seconds=1, post=post, run="warm")
        print(f"wrk -t2 -c16 {seconds:g} s, {what} (load average {os.getloadavg()[0]:.1f})")
        for kind, (proc, port) in procs.items():
            cpu_before = _proc_cpu(proc.pid)
            res = wrk(port, path, connections=16, seconds=seconds, post=post, run=kind)
            per = (_proc_cpu(proc.pid) - cpu_before) / max(1, res["requests"]) * 1e6
            print(f"  {kind:8} {res['rps']:9.0f} req/s  p50 {res['p50_us'] / 1000:.2f} ms  "
                  f"p99 {res['p99_us'] / 1000:.2f} ms  errors {res['errors']}  server CPU {per:.1f} µs/request")
    finally:
        for proc, _ in procs.values():
            proc.communicate(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["cpu", "resume", "wrk", "sse", "serve"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--requests", type=int, default=50000)
    parser.add_argument("--steps", type=int, default=200000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--kinds", nargs="+", default=["inline", "pool", "floor"])
    parser.add_argument("--baseline", help="also serve the bare app on this checkout's engine (pool path)")
    parser.add_argument("--app", choices=["bare", "ofd-post", "ofd-health"], default="bare")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions (cProfile)")
    opts = parser.parse_args(argv)
    if opts.mode == "cpu":
        cpu(opts.requests, opts.app, opts.profile)
    elif opts.mode == "resume":
        resume(opts.steps, opts.streams)
    elif opts.mode == "sse":
        sse(opts.streams)
    elif opts.mode == "wrk":
        wrk_all(opts.seconds, opts.kinds, opts.baseline, opts.app)
    else:
        serve(opts.args[0], int(opts.args[1]))


if __name__ == "__main__":
    main()
