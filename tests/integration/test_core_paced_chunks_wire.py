"""`PacedChunks` over real sockets on every HTTP engine: a streamed body hands the engine a train of
chunks and the client (httpx, requests, a raw socket) gets each one, in order, as its own chunk.
The asyncio engine paces the train with loop timers; the werkzeug engine's blocking driver sleeps
through the waits (gaps are 1 ms). Only order and content are asserted, never timing; a wait
that must not end during a test is 30 s, cut in `poll` slices so every engine sees a stop or a
client gone between them."""
from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from werkzeug.wrappers import Response

from mocktools.http_connection import PacedChunks, connection_of
from mocktools.http_mock import HTTPMockServer
from mocktools.routing import Router
from tests.conftest import open_fds
from tests.integration.test_core_framing import raw, read_all

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("each_http_engine")]

LONG = 30.0  # a gap no test outlives


def chunk(i: int) -> bytes:
    return b"chunk%03d\n" % i


class Trains(HTTPMockServer):
    """`/train` (inline: run and resumed on the asyncio engine's loop) and `/train-worker` (a worker):
    `b""`, then a train of `n` chunks (`first` s, then `gap` s apart; `long=k`: chunk k is due `LONG`
    after the one before), then `end` or, if the train was stopped, `stopped`."""

    name = "trains"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.closed = 0
        self.closed_event = threading.Event()
        self.trains: list[PacedChunks] = []  # each train once its body stepped on past it

    def register_routes(self, router: Router) -> None:
        router.add("/train", lambda request: self.train(request, inline=True), inline=True)
        router.add("/train-worker", lambda request: self.train(request, inline=False))

    def train(self, request: Any, *, inline: bool) -> Response:
        args = request.args
        n, gap, first = int(args.get("n", "5")), float(args.get("gap", "0.001")), float(args.get("first", "0"))
        long_at = int(args.get("long", "-1"))
        gaps: list[float | None] = [first]
        gaps += [LONG if i == long_at else gap for i in range(1, n)]
        conn = connection_of(request.environ)
        gone = None if conn is None else (lambda: not conn.alive())

        def body() -> Iterator[Any]:
            try:
                yield b""
                paced = PacedChunks([chunk(i) for i in range(n)], gaps, time.monotonic(), clock=time.monotonic,
                                    poll=float(args.get("poll", "0.005")), stop=self.stopping.is_set, gone=gone,
                                    inline=inline)
                yield paced
                with self.lock:
                    self.trains.append(paced)
                yield b"stopped\n" if paced.stopped else b"end\n"
            finally:
                with self.lock:
                    self.closed += 1
                self.closed_event.set()

        return Response(body(), mimetype="text/plain")


@pytest.fixture
def trains() -> Iterator[Trains]:
    with Trains() as mock:
        yield mock


def expected(n: int) -> bytes:
    return b"".join(chunk(i) for i in range(n)) + b"end\n"


def chunks_of(response: bytes) -> list[bytes]:
    """A raw HTTP/1.1 response's chunked body, chunk by chunk (its framing checked on the way)."""
    head, sep, body = response.partition(b"\r\n\r\n")
    assert sep and b"transfer-encoding: chunked" in head.lower(), head
    out: list[bytes] = []
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n"
            return out
        assert body[size:size + 2] == b"\r\n"
        out.append(body[:size])
        body = body[size + 2:]


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        got = sock.recv(65536)
        assert got, f"closed before {marker!r}; got {data!r}"
        data += got
    return data


def reset(sock: socket.socket) -> None:
    """Close as a client that vanished: a TCP reset, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


PATHS = ["/train", "/train-worker"]


# -- every chunk, in order, framed ----------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_httpx_streams_every_chunk_in_order_on_a_kept_alive_connection(trains: Trains, path: str) -> None:
    with httpx.Client(base_url=trains.url, timeout=10) as client:
        for n in (20, 3):  # twice on one connection: the train's response ends cleanly
            with client.stream("GET", f"{path}?n={n}") as response:
                assert response.status_code == 200
                assert response.headers["transfer-encoding"] == "chunked"
                assert b"".join(response.iter_bytes()) == expected(n)
    assert [t.index for t in trains.trains] == [20, 3] and not any(t.stopped for t in trains.trains)
    assert [len(t.sent) for t in trains.trains] == [20, 3]  # every chunk was a timed one


@pytest.mark.parametrize("path", PATHS)
def test_requests_streams_every_chunk_in_order(trains: Trains, path: str) -> None:
    with requests.get(f"{trains.url}{path}?n=12&first=0.001", stream=True, timeout=10) as response:
        assert response.status_code == 200
        lines = list(response.iter_lines())
    assert lines == [chunk(i).strip() for i in range(12)] + [b"end"]


@pytest.mark.parametrize("path", PATHS)
def test_each_chunk_of_a_train_is_its_own_chunk_on_the_wire(trains: Trains, path: str) -> None:
    got = raw(trains.port, f"GET {path}?n=8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    assert chunks_of(got) == [chunk(i) for i in range(8)] + [b"end\n"]


@pytest.mark.parametrize("path", PATHS)
def test_an_http10_client_gets_the_train_unframed_and_the_connection_closed(trains: Trains, path: str) -> None:
    got = raw(trains.port, f"GET {path}?n=4 HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"chunked" not in head.lower()  # (RFC 9110: our version)
    assert b"connection: close" in head.lower()
    assert body == expected(4)


@pytest.mark.parametrize("path", PATHS)
def test_a_half_closed_client_whose_waits_are_never_cut_gets_the_whole_train(trains: Trains, path: str) -> None:
    # every wait is at most a 1 ms gap, far under poll: `gone` is never asked, so the FIN never cuts
    got = raw(trains.port, f"GET {path}?n=10&poll=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
              half_close=True)
    assert chunks_of(got) == [chunk(i) for i in range(10)] + [b"end\n"]


# -- a client gone, a mock stopped ------------------------------------------------------------------
def _baseline() -> tuple[int, int]:
    """Threads and fds before a leak check, once the engine has run (a first event loop of a
    kind, e.g. uvloop's, keeps descriptors for the process: not a leak of the test's mock)."""
    Trains().start().stop()
    return threading.active_count(), open_fds()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", ["long-gap", "tiny-gaps"])
def test_a_client_gone_mid_train_closes_the_body_and_the_server_serves_on(path: str, shape: str) -> None:
    threads, fds = _baseline()
    trains = Trains().start()
    try:
        query = "n=3&long=1" if shape == "long-gap" else "n=2000"  # 2000 chunks 1 ms apart
        with socket.create_connection(("127.0.0.1", trains.port), timeout=10) as sock:
            sock.sendall(f"GET {path}?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            read_until(sock, chunk(0))
            reset(sock)
        assert trains.closed_event.wait(10)  # the body's finally ran
        if shape == "long-gap":  # chunk 1 was 30 s away: the train never got there
            assert all(t.index == 1 for t in trains.trains)
        got = raw(trains.port, f"GET {path}?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert chunks_of(got) == [chunk(0), chunk(1), chunk(2), b"end\n"]
    finally:
        trains.stop()
    assert trains.closed == 2
    assert threading.active_count() <= threads and open_fds() <= fds


@pytest.mark.parametrize("path", PATHS)
def test_stop_mid_train_returns_with_the_body_closed(path: str) -> None:
    threads, fds = _baseline()
    trains = Trains().start()
    sock = socket.create_connection(("127.0.0.1", trains.port), timeout=10)
    try:
        sock.sendall(f"GET {path}?n=3&long=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = read_until(sock, chunk(0))
        trains.stop()
        assert trains.closed == 1 and trains.closed_event.is_set()  # its finally ran before stop() returned
        got += read_all(sock)
    finally:
        sock.close()
        trains.stop()
    assert chunk(1) not in got and b"end\n" not in got  # cut mid-train
    assert all(t.stopped and t.index == 1 for t in trains.trains)  # a body that saw the stop saw it early
    assert threading.active_count() <= threads and open_fds() <= fds


def test_stop_mid_train_without_poll_returns_with_the_body_closed(
        each_http_engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mocktools.wsgi_server import MockWSGIServer

    monkeypatch.setattr(MockWSGIServer, "join_timeout", 0.5)  # (the werkzeug engine: fail fast)
    trains = Trains().start()
    sock = socket.create_connection(("127.0.0.1", trains.port), timeout=10)
    try:
        sock.sendall(b"GET /train-worker?n=3&long=1&poll=inf HTTP/1.1\r\nHost: x\r\n\r\n")
        read_until(sock, chunk(0))
        trains.stop()
        assert trains.closed == 1  # the asyncio engine closes a paused body whatever its poll
    finally:
        sock.close()
        trains.stop()


@pytest.mark.parametrize("path", PATHS)
def test_pipelined_requests_behind_a_train_are_answered_in_order(trains: Trains, path: str) -> None:
    requests_ = "".join(f"GET {path}?n={n} HTTP/1.1\r\nHost: x\r\n\r\n" for n in (4, 2))
    got = raw(trains.port, (requests_ + "GET /train?n=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
    first, second, third = got.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert chunks_of(first) == [chunk(i) for i in range(4)] + [b"end\n"]
    assert chunks_of(second) == [chunk(0), chunk(1), b"end\n"]
    assert chunks_of(third) == [chunk(0), b"end\n"]


def test_many_trains_at_once_all_finish(trains: Trains) -> None:
    socks = [socket.create_connection(("127.0.0.1", trains.port), timeout=10) for _ in range(30)]
    try:
        for i, sock in enumerate(socks):  # on the loop and on workers, several sharing wake-ups
            path = PATHS[i % 2]
            sock.sendall(f"GET {path}?n=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        for sock in socks:
            assert chunks_of(read_all(sock)) == [chunk(i) for i in range(10)] + [b"end\n"]
    finally:
        for sock in socks:
            sock.close()
    assert trains.closed == 30 and [t.index for t in trains.trains] == [10] * 30
