"""gRPC throughput: a GRPCMockServer beside a minimal grpcio server with the same two methods.

    .venv/bin/python -m bench.bench_grpc [--seconds 3] [--clients 4] [--messages 20000]

Both serve `/bench.Echo/Unary` (echo the request bytes) and `/bench.Echo/Stream` (a server stream
of N small messages) with raw-bytes handlers, so the difference is what the mock adds per RPC
(journal, fault plan, metadata, error capture). Client and servers share one process and the
machine's 2 cores; targets alternate over 3 rounds and medians are printed. Asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from mocktools.grpc_mock import GRPCMockServer

PAYLOAD = b"x" * 64


def _unary(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


def _stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    count = int(request or b"1")
    for _ in range(count):
        yield PAYLOAD


def _handlers() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler("bench.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(_unary),
        "Stream": grpc.unary_stream_rpc_method_handler(_stream),
    })


class EchoMock(GRPCMockServer):
    name = "grpc-echo"

    def register_services(self, server: grpc.Server) -> None:
        server.add_generic_rpc_handlers((_handlers(),))


class PlainServer:
    """The peer: grpc.server with the same handlers and worker count, nothing else."""

    def __init__(self, max_workers: int = 16) -> None:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
        self.server.add_generic_rpc_handlers((_handlers(),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def start(self) -> PlainServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(None).wait()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def unary_rate(target: str, clients: int, seconds: float) -> tuple[float, float]:
    counts = [0] * clients
    lat: list[list[float]] = [[] for _ in range(clients)]
    stop = threading.Event()

    def worker(i: int) -> None:
        with grpc.insecure_channel(target) as channel:
            call: Callable[..., Any] = channel.unary_unary("/bench.Echo/Unary")
            call(PAYLOAD, timeout=10)
            while not stop.is_set():
                t0 = time.perf_counter()
                call(PAYLOAD, timeout=10)
                lat[i].append(time.perf_counter() - t0)
                counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    all_lat = sorted(x for per in lat for x in per)
    return sum(counts) / (time.perf_counter() - started), all_lat[int(len(all_lat) * 0.99)] * 1000


def stream_rate(target: str, messages: int) -> float:
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_stream("/bench.Echo/Stream")
        list(call(b"10", timeout=10))
        started = time.perf_counter()
        got = sum(1 for _ in call(str(messages).encode(), timeout=120))
        return got / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    mock = EchoMock(journal_limit=1000).start()
    plain = PlainServer().start()
    results: dict[str, dict[str, list[float]]] = {"GRPCMockServer": {}, "plain grpcio": {}}
    try:
        for _ in range(3):
            for name, target in (("GRPCMockServer", mock.target), ("plain grpcio", plain.target)):
                rps, p99 = unary_rate(target, args.clients, args.seconds)
                res = results[name]
                res.setdefault("unary", []).append(rps)
                res.setdefault("p99", []).append(p99)
                res.setdefault("stream", []).append(stream_rate(target, args.messages))
        calls = mock.get_call_count()
    finally:
        mock.stop()
        plain.stop()
    print(f"gRPC, {args.clients} client threads, 3 alternating rounds x {args.seconds:g} s, medians")
    for name, res in results.items():
        print(f"  {name:15} unary {statistics.median(res['unary']):7.0f} RPC/s (p99 {statistics.median(res['p99']):.2f} ms)"
              f"   server stream {statistics.median(res['stream']):8.0f} msgs/s")
    print(f"  the mock journaled {calls:,} RPCs")


if __name__ == "__main__":
    main()
