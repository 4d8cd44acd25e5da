"""The SSE fleet check of `bench_fleet sse`: N concurrent streamed completions with inter-token
latency `itl`, and the gaps between tokens as a client sees them.

The client counts `data: {` events per received chunk and timestamps the chunk: by default one
raw epoll loop (`--client asyncio`: lean asyncio Protocols instead; StreamReader line reads, the
first version, cost more than the server's side of a token).
`--peer` runs the same fleet against a plain asyncio server that paces prebuilt events with loop
timers to the same absolute deadlines: what this machine can carry at all, beside the mock.
Both processes' CPU per token is printed (user + system, from /proc).
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any

from bench.bench_fleet import ROOT, raise_fd_limit, start_server, stop_server


class Fleet:
    """What the streams of one run saw."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.ttfts: list[float] = []
        self.errors: list[str] = []
        self.completed = 0


class SSEStream(asyncio.Protocol):
    """One streamed completion: a chunk's events all get the time the chunk arrived."""

    def __init__(self, request: bytes, fleet: Fleet) -> None:
        self.request, self.fleet = request, fleet
        self.started = self.last = 0.0
        self.tail = b""
        self.events = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.started = time.monotonic()
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        joined = self.tail + data  # a marker split between two reads is still counted once
        count = joined.count(b"data: {")
        self.tail = joined[-6:]
        if count:
            fleet = self.fleet
            if self.events == 0:
                fleet.ttfts.append(now - self.started)
            else:
                fleet.gaps.append(now - self.last)
            if count > 1:
                fleet.gaps.extend([0.0] * (count - 1))
            self.events += count
            self.last = now
        if b"[DONE]" in joined:
            self.fleet.completed += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _one_stream(port: int, request: bytes, fleet: Fleet) -> None:
    loop = asyncio.get_running_loop()
    try:
        transport, proto = await loop.create_connection(lambda: SSEStream(request, fleet), "127.0.0.1", port)
        await proto.done
        transport.close()
    except OSError as exc:
        fleet.errors.append(type(exc).__name__)


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _epoll_fleet(port: int, request: bytes, streams: int, fleet: Fleet, ramp: float = 0.0) -> float:
    """The fleet on one raw epoll loop: per readable socket one recv and a count (about a third
    of asyncio's per-read cost, which matters at 50,000 events/s on a machine the server shares).
    ``ramp``: open the streams evenly over that many seconds instead of all at once."""
    import select
    import socket

    poller = select.epoll()
    state: dict[int, list[Any]] = {}  # fd -> [socket, started, last, events, tail]
    started = time.monotonic()
    opened = 0

    def open_due() -> None:
        nonlocal opened
        due = streams if ramp <= 0 else min(streams, int((time.monotonic() - started) / ramp * streams) + 1)
        while opened < due:
            opened += 1
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError as exc:
                fleet.errors.append(type(exc).__name__)
                sock.close()
                continue
            state[sock.fileno()] = [sock, 0.0, 0.0, 0, b""]
            poller.register(sock.fileno(), select.EPOLLOUT)

    gaps, ttfts = fleet.gaps, fleet.ttfts
    open_due()
    while state or opened < streams:
        if opened < streams:
            open_due()
        for fd, _mask in poller.poll(0.001 if opened < streams else 1.0):
            entry = state[fd]
            sock = entry[0]
            if entry[1] == 0.0:  # connected: send the request, then only read
                try:
                    sock.sendall(request)
                except OSError as exc:
                    fleet.errors.append(type(exc).__name__)
                    poller.unregister(fd)
                    sock.close()
                    del state[fd]
                    continue
                entry[1] = time.monotonic()
                poller.modify(fd, select.EPOLLIN)
                continue
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as exc:
                fleet.errors.append(type(exc).__name__)
                data = b""
            if not data:
                poller.unregister(fd)
                sock.close()
                del state[fd]
                continue
            now = time.monotonic()
            joined = entry[4] + data
            count = joined.count(b"data: {")
            entry[4] = joined[-6:]
            if count:
                if entry[3] == 0:
                    ttfts.append(now - entry[1])
                else:
                    gaps.append(now - entry[2])
                if count > 1:
                    gaps.extend([0.0] * (count - 1))
                entry[3] += count
                entry[2] = now
            if b"[DONE]" in joined:
                fleet.completed += 1
    poller.close()
    return time.monotonic() - started


def run_fleet(port: int, pid: int, streams: int, tokens: int, client: str = "epoll",
              ramp: float = 0.0) -> tuple[Fleet, float, float, float]:
    """(what the client saw, seconds, server CPU seconds, client CPU seconds)."""
    body = json.dumps({"model": "mock-llm", "prompt": "hi", "stream": True, "max_tokens": tokens + 8}).encode()
    request = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    fleet = Fleet()

    async def run() -> float:
        started = time.monotonic()
        await asyncio.gather(*(_one_stream(port, request, fleet) for _ in range(streams)))
        return time.monotonic() - started

    server_cpu, client_cpu = proc_cpu(pid), time.process_time()
    elapsed = _epoll_fleet(port, request, streams, fleet, ramp) if client == "epoll" else asyncio.run(run())
    return fleet, elapsed, proc_cpu(pid) - server_cpu, time.process_time() - client_cpu


def report(label: str, fleet: Fleet, elapsed: float, server_cpu: float, client_cpu: float, streams: int,
           itl: float) -> None:
    gaps = sorted(fleet.gaps)
    if not gaps:
        print(f"{label}: no tokens received ({fleet.errors[:3]})")
        return
    received = len(gaps) + len(fleet.ttfts)
    median = statistics.median(gaps)
    print(f"{label}:")
    print(f"  median inter-token gap {median * 1000:.2f} ms ({(median / itl - 1) * 100:+.1f} % vs itl), p90 "
          f"{gaps[int(len(gaps) * 0.9)] * 1000:.1f} ms, p99 {gaps[int(len(gaps) * 0.99)] * 1000:.1f} ms; "
          f"ttft median {statistics.median(fleet.ttfts) * 1000:.0f} ms")
    print(f"  {received:,} tokens in {elapsed:.1f} s = {received / elapsed:,.0f} tokens/s; "
          f"{fleet.completed}/{streams} streams ended with [DONE]; errors {len(fleet.errors)}")
    print(f"  CPU per token: server {server_cpu / received * 1e6:.0f} us, client {client_cpu / received * 1e6:.0f} us"
          f" (server {server_cpu / elapsed * 100:.0f} %, client {client_cpu / elapsed * 100:.0f} % of a core)")


def bench_sse(streams: int, itl: float, tokens: int, engine: str, *, sleep: bool = False, peer: bool = False,
              client: str = "epoll", before: str | None = None, ramp: float = 0.0) -> None:
    raise_fd_limit()
    print(f"sse: {streams} concurrent streams, itl={itl * 1000:.0f} ms, {tokens} tokens each ({client} client"
          + (f", opened over {ramp:g} s)" if ramp > 0 else ", all opened at once)"))
    reply = " ".join(["token"] * tokens)
    mode = "sleeping threads" if sleep else "paused where the engine can"
    runs = [(f"mocktools ({engine} engine, {mode})", ROOT)] + ([(f"mocktools of {before}", before)] if before else [])
    for label, tree in runs:
        proc, port = start_server("vllm", engine, tree, seqs=streams + 16, itl=itl, reply=reply, sleep=sleep)
        try:
            result = run_fleet(port, proc.pid, streams, tokens, client, ramp)
        finally:
            stop_server(proc)
        report(label, *result, streams, itl)
    if peer:
        proc, port = start_server("peer", engine, itl=itl, tokens=tokens)
        try:
            result = run_fleet(port, proc.pid, streams, tokens, client, ramp)
        finally:
            stop_server(proc)
        report("plain asyncio SSE server (prebuilt events, loop timers)", *result, streams, itl)


# -- the peer --------------------------------------------------------------------------------------
class _PeerStream(asyncio.Protocol):
    """Answers one POST with `tokens` chunked SSE events paced to absolute deadlines, then [DONE]."""

    HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")

    def __init__(self, itl: float, tokens: int) -> None:
        self.itl, self.tokens = itl, tokens
        self.buffer = b""
        self.transport: Any = None
        self.sent = 0
        self.deadline = 0.0
        event = ('data: {"id":"cmpl-0123456789abcdef","object":"text_completion","created":1700000000,'
                 '"model":"mock-llm","choices":[{"index":0,"text":" token","logprobs":null,'
                 '"finish_reason":null,"stop_reason":null}]}\n\n').encode()
        self.event = b"%x\r\n%s\r\n" % (len(event), event)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep or self.sent:
            return
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), 0)
        if len(body) < length:
            return
        self.transport.write(self.HEAD + self.event)
        self.sent = 1
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + self.itl
        loop.call_at(self.deadline, self.tick)

    def tick(self) -> None:
        if self.transport.is_closing():
            return
        if self.sent < self.tokens:
            self.transport.write(self.event)
            self.sent += 1
            loop = asyncio.get_running_loop()
            self.deadline += self.itl
            loop.call_at(self.deadline, self.tick)
            return
        done = b"data: [DONE]\n\n"
        self.transport.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        self.transport.close()


def serve_peer(port: int, options: dict[str, Any]) -> None:
    """The peer's server process (same stdin protocol as bench_fleet's `serve`)."""
    import sys
    import threading

    loop = asyncio.new_event_loop()
    itl, tokens = float(options.get("itl", 0.02)), int(options.get("tokens", 50)) + 1

    async def start() -> Any:
        return await loop.create_server(lambda: _PeerStream(itl, tokens), "127.0.0.1", port, backlog=4096)

    server = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    print("0.00", flush=True)
