"""CPU microseconds of MockVLLMServer's own work, in process (robust on a loaded machine).

    .venv/bin/python -m bench.bench_vllm_cpu [--compare /work/main ...] [--rounds 3]

Lines: a non-streaming chat completion through the mock's WSGI app (the listener, journal,
faults and routing included; no socket: the engine's `RequestRun` with a buffer as the client),
the same with a prompt never sent before each time (what the mock remembers of a repeated
prompt, its default reply, does not help there), the same for `GET /version` (the framework's floor), the chat completion through the asyncio
engine's connection code (parse, environ, inline run, write; no socket) and through the vLLM
handler alone (the layers: engine - WSGI app = the engine's own share), and one streamed token of a completion
and of a chat stream (the stream generator alone): unpaced (itl 0), and paced (a tiny itl: a
`Pause` returned at once where the stream pauses, a real timed wait where it sleeps). Each tree named by `--compare` is measured the same way in its own process, rounds
interleaved; best of each. Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAT = b'{"model": "mock-llm", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 16}'


def _best(fn: Any, n: int, reps: int = 5) -> float:
    best = float("inf")
    for _ in range(reps):
        started = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - started) / n)
    return best * 1e6


def _layers(mock: Any) -> dict[str, float]:
    """The same chat completion through the asyncio engine's connection code on its loop thread
    (httptools parse, environ, inline run, response write to a transport that keeps the bytes: no
    socket, no event-loop wake-ups), and the vLLM handler alone with its JSON (no listener,
    journal or engine).
    NaN for a tree without them."""
    import asyncio
    import io
    import threading

    out = {"chat completion (engine, no socket)": float("nan"), "chat completion (vLLM handler alone)": float("nan")}
    raw = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(CHAT), CHAT))
    try:
        from mocktools.aio_protocol import HTTPProtocol
        from mocktools.routing import LazyRequest, answer
        from mocktools.wsgi_environ import build_environ
    except ImportError:
        return out
    server = getattr(mock.listeners[0], "_server", None)
    if hasattr(mock, "_generate"):
        def handler() -> None:
            environ = build_environ("POST", "/v1/chat/completions", (1, 1), [("Content-Type", "application/json")],
                                    server=("127.0.0.1", 1), remote=("127.0.0.1", 2), body=io.BytesIO(CHAT),
                                    chunked=False, connection=None)
            environ["mocktools.body"] = CHAT
            answer(mock._generate(LazyRequest(environ), "chat"))  # (as the router sends it: JSON)
        out["chat completion (vLLM handler alone)"] = _best(handler, 1000)
    if server is None or not hasattr(server, "inline"):
        return out

    class Transport:  # what the protocol writes to: the bytes are kept, nothing is sent
        last = b""

        def write(self, data: bytes) -> None:
            self.last = data

    def on_loop() -> None:
        async def main() -> None:
            proto = HTTPProtocol(server, ("127.0.0.1", 5))
            proto.transport = transport = Transport()
            proto.data_received(raw)
            if transport.last.startswith(b"HTTP/1.1 200"):
                out["chat completion (engine, no socket)"] = _best(lambda: proto.data_received(raw), 1000)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=on_loop)
    thread.start()
    thread.join()
    return out


def measure() -> dict[str, float]:
    """This process's tree (PYTHONPATH): µs of CPU per request / per token."""
    import io

    from mocktools.vllm.mock import MockVLLMServer
    from mocktools.wsgi_driver import RequestRun
    from mocktools.wsgi_environ import build_environ

    class Sink:
        close_requested = held = False
        last = b""

        def send(self, data: bytes, final: bool) -> None:
            self.last = data

    mock = MockVLLMServer(max_model_len=8192).start()
    sink = Sink()

    def request(method: str, path: str, body: bytes) -> None:
        headers = [("Host", "x")] + ([("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
                                     if body else [])
        environ = build_environ(method, path, (1, 1), headers, server=("127.0.0.1", 1), remote=("127.0.0.1", 2),
                                body=io.BytesIO(body), chunked=False, connection=None)
        RequestRun(mock.wsgi_app, environ, sink, close=False, http10=False).step()

    class Alive:  # a pausable connection's probe: the stream yields Pause, returned at once here
        pausable = True

        def __call__(self) -> bool:
            return True

    request("POST", "/v1/chat/completions", CHAT)
    if not sink.last.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"the chat completion failed: {sink.last[:300]!r}")
    fresh = iter(range(10**9))  # a prompt never sent before: nothing the mock remembers helps

    def distinct() -> None:
        request("POST", "/v1/chat/completions", CHAT.replace(b"hello there", b"hello %d" % next(fresh)))

    out = {"chat completion (WSGI app)": _best(lambda: request("POST", "/v1/chat/completions", CHAT), 1000),
           "chat, a new prompt each (WSGI app)": _best(distinct, 1000),
           "GET /version (WSGI app)": _best(lambda: request("GET", "/version", b""), 2000)}
    out.update(_layers(mock))
    engine = mock.engine
    mock.set_reply(" ".join(["token"] * 50))
    for itl, mode in ((0.0, "unpaced"), (1e-9, "paced")):  # paced: a pause (here) or a sleep (before)
        engine.set_timing(itl=itl)
        for label, kind, body in (
                ("completion stream", "completion",
                 {"model": "mock-llm", "prompt": "hi", "stream": True, "max_tokens": 58}),
                ("chat stream", "chat",
                 {"model": "mock-llm", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                  "max_tokens": 58})):
            best = float("inf")
            for _ in range(5):
                jobs = [engine.prepare(kind, body) for _ in range(100)]
                started = time.process_time()
                for job in jobs:
                    for _ in engine.stream(job, Alive()):
                        pass
                best = min(best, (time.process_time() - started) / 100 / 51)
            out[f"{label}, {mode}, per token"] = best * 1e6
    mock.stop()
    return out


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        import mocktools
        print(json.dumps({"tree": os.path.dirname(os.path.dirname(mocktools.__file__)), **measure()}))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--compare", nargs="*", default=[], help="other checkouts to measure the same way")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = [("this tree", ROOT)] + [(path, path) for path in args.compare]
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for label, path in trees:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], capture_output=True,
                                  text=True, env={**os.environ, "PYTHONPATH": path}, timeout=600, check=False)
            if proc.returncode != 0:
                results.setdefault(label, {})
                print(f"{label}: failed ({proc.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
                continue
            measured = json.loads(proc.stdout)
            if os.path.realpath(measured.pop("tree")) != os.path.realpath(path):
                raise SystemExit(f"{label}: the measurement imported another tree")
            for key, value in measured.items():
                best = results.setdefault(label, {})
                best[key] = min(best.get(key, float("inf")), value)
    keys = list(next((r for r in results.values() if r), {}))
    print(f"{'us of CPU (best of ' + str(args.rounds) + ' rounds)':<34}" + "".join(f"{label[-22:]:>24}" for label in results))
    for key in keys:
        print(f"{key:<34}" + "".join(f"{results[label].get(key, float('nan')):>24.1f}" for label in results))


if __name__ == "__main__":
    main()
