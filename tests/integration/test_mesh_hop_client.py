"""The hop client (mesh/hop_client.py): keep-alive reuse, connection faults, timeouts, headers.

Every hop still goes over a real socket to the callee's engine: its journal and its connection
faults see each call; these tests pin what a caller reports for each kind of failure, on both
hop paths (the loop's LoopClient and the blocking HopClient give the same results).
"""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from mocktools.mesh import MockServiceMesh, hop_client
from mocktools.mesh.hop_client import ConnectFailed, ConnectionBroken, HopTimeout, USER_AGENT
from mocktools.mesh.hop_flow import Fetch
from mocktools.mesh.propagation import parse_traceparent
from tests.integration.mesh_paths import HOP_PATHS, BlockingClient, LoopClientThread, mesh_on

TWO_BACKS = {"services": {"front": {"endpoints": {"/": {"calls": ["back:/"]}}},
                          "back": {"instances": 2, "endpoints": {"/": {"response": {"v": 1}}}}}}


def _calls(mesh: MockServiceMesh, n: int, path: str = "/", headers: dict[str, str] | None = None) -> list[dict]:
    url = mesh.url_of("front") + path
    return [requests.get(url, headers=headers, timeout=10).json()["calls"][0] for _ in range(n)]


@pytest.fixture(params=HOP_PATHS)
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["thread", "loop"])
def make_client(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """The blocking HopClient or the loop's LoopClient (driven from this thread)."""
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        made.append(BlockingClient(**kwargs) if request.param == "thread" else LoopClientThread(**kwargs))
        return made[-1]
    yield make
    for client in made:
        client.close()


def test_connections_are_reused_across_hops_and_every_hop_is_journaled(path):
    with mesh_on(path, TWO_BACKS) as m:
        results = _calls(m, 20)
        assert all(r["ok"] and r["status"] == 200 and r["body"]["response"] == {"v": 1} for r in results)
        front = m.instances["front"][0]
        assert front.http.connections_made == 2  # one per back instance, reused by the 18 other calls
        backs = m.instances["back"]
        assert sum(len(b.journal.calls()) for b in backs) == 20
        assert {r["instance"] for r in results} == {b.instance_id for b in backs}


@pytest.mark.parametrize("kind", ["reset", "close", "garbage"])
def test_a_faulted_instance_fails_over_as_a_protocol_error_and_sees_the_call(kind, path):
    with mesh_on(path, TWO_BACKS) as m:
        bad, good = m.instances["back"]
        bad.set_connection_fault(kind)
        results = _calls(m, 4)
        assert all(r["ok"] and r["instance"] == good.instance_id for r in results)
        failed_over = [r for r in results if r.get("attempts") == 2]
        assert len(failed_over) == 2  # round-robin hits the faulted instance every other call
        assert {e.fault for e in bad.journal.calls()} == {f"connection:{kind}"} and len(bad.journal.calls()) == 2
        m.registry.deregister(good.instance_id)  # only the faulted one is left: both tries fail
        r = _calls(m, 1)[0]
        assert r["status"] == 503 and r["error"] == f"connection to {bad.instance_id} failed: ProtocolError"
        assert r["attempts"] == 2


def test_a_refused_connection_is_a_new_connection_error(make_client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client()
    with pytest.raises(ConnectFailed) as exc:
        client.get("127.0.0.1", port, "/", {}, 1.0)
    assert exc.value.name == "NewConnectionError"


def test_a_read_timeout_is_a_504_and_does_not_fail_over(path):
    spec = {"services": {"front": {"endpoints": {"/": {"calls": [{"service": "back", "endpoint": "/slow",
                                                                  "timeout_ms": 50}]}}},
                         "back": {"instances": 2, "endpoints": {"/slow": {"latency_ms": 2000}}}}}
    with mesh_on(path, spec) as m:
        r = requests.get(m.url_of("front") + "/", timeout=10)
        call = r.json()["calls"][0]
        assert r.status_code == 502 and call["status"] == 504 and "did not answer within 0.05s" in call["error"]
        assert "attempts" not in call  # a timeout is an answer: no second instance is tried


def test_propagated_headers_reach_the_callee(path):
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with mesh_on(path, TWO_BACKS) as m:
        r = requests.get(m.url_of("front") + "/", headers={"traceparent": parent, "tracestate": "congo=t61rcWkgMzE"})
        call = r.json()["calls"][0]
        callee = m.instance(call["instance"])
        entry = callee.journal.calls()[-1]
        h = {k.lower(): v for k, v in entry.headers.items()}
        trace_id, span_id, flags = parse_traceparent(h["traceparent"])
        assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and flags == 1
        client_spans = m.spans.spans(trace_id, kind="client")
        assert [s.span_id for s in client_spans] == [span_id]  # the parent-id sent is the CLIENT span
        assert h["tracestate"] == "congo=t61rcWkgMzE"
        assert h["x-mesh-hops"] == "1" and h["x-mesh-caller"] == "front"
        assert h["host"] == f"127.0.0.1:{callee.port}" and h["user-agent"] == USER_AGENT
        assert h["accept-encoding"] == "identity"


# ---- the client against hand-made servers --------------------------------------------------------
@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """Start a one-connection-at-a-time server whose behaviour is `serve(conn)`; returns its port."""
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(serve: Callable[[socket.socket], None]) -> int:
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        listeners.append(ls)

        def loop() -> None:
            while True:
                try:
                    conn, _ = ls.accept()
                except OSError:
                    return
                with conn:
                    serve(conn)

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        threads.append(t)
        return ls.getsockname()[1]

    yield start
    for ls in listeners:
        ls.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        ls.close()
    for t in threads:
        t.join(5)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    return data


def test_a_connection_the_peer_closed_while_idle_is_dropped_not_reused(raw_server, make_client):
    served = []
    close = threading.Event()

    def once(conn: socket.socket) -> None:  # answer one request keep-alive, then close the connection
        served.append(_read_request(conn))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        close.wait(5)

    port = raw_server(once)
    client = make_client()
    assert client.get("127.0.0.1", port, "/a", {}, 5.0) == (200, b"ok")
    assert client.idle_count("127.0.0.1", port) == 1
    close.set()
    client.wait_peer_closed("127.0.0.1", port)  # the peer's FIN is here: it closed
    assert client.get("127.0.0.1", port, "/b", {}, 5.0) == (200, b"ok")
    close.set()
    assert client.connections_made == 2 and len(served) == 2


def test_connection_close_chunked_gzip_informational_and_read_until_close_bodies(raw_server, make_client):
    body = gzip.compress(b'{"rows": 1}')
    answers = iter([
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 4\r\n\r\nlate",
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    ])

    def serve(conn: socket.socket) -> None:  # keep-alive until an answer says the connection ends
        while _read_request(conn):
            answer = next(answers)
            conn.sendall(answer)
            if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                return

    port = raw_server(serve)
    client = make_client()
    assert client.get("127.0.0.1", port, "/", {}, 5.0) == (200, b"x")
    assert client.idle_count("127.0.0.1", port) == 0  # Connection: close is honoured
    assert client.get("127.0.0.1", port, "/", {}, 5.0) == (201, b"abcde")
    assert client.get("127.0.0.1", port, "/", {}, 5.0) == (200, b'{"rows": 1}')
    assert client.get("127.0.0.1", port, "/", {}, 5.0) == (202, b"late")  # a 1xx is skipped, as http.client does
    assert client.get("127.0.0.1", port, "/", {}, 5.0) == (200, b"until the end")
    assert client.connections_made == 2  # chunked and gzip answers kept the second connection


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", b"SSH-2.0-nope\r\n\r\n"])
def test_closed_truncated_or_garbage_answers_are_protocol_errors(raw_server, answer, make_client):
    def serve(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(answer)

    port = raw_server(serve)
    with pytest.raises(ConnectionBroken) as exc:
        make_client().get("127.0.0.1", port, "/", {}, 5.0)
    assert exc.value.name == "ProtocolError"


def test_a_silent_server_times_out(raw_server, make_client):
    release = threading.Event()

    def silent(conn: socket.socket) -> None:
        _read_request(conn)
        release.wait(5)

    port = raw_server(silent)
    try:
        with pytest.raises(HopTimeout):
            make_client().get("127.0.0.1", port, "/", {}, 0.05)
    finally:
        release.set()


def test_header_values_with_line_breaks_are_refused(make_client):
    with pytest.raises(ValueError):
        make_client().get("127.0.0.1", 1, "/", {"x-evil": "a\r\nHost: other"}, 1.0)


def test_an_idle_connection_counts_as_open_only_while_nothing_is_readable():
    a, b = socket.socketpair()
    with a, b:
        assert hop_client._still_open(a)
        b.sendall(b"x")  # bytes nobody asked for
        assert a.recv(1, socket.MSG_PEEK) == b"x" and not hop_client._still_open(a)
        a.recv(1)
        assert hop_client._still_open(a)
        b.close()  # the peer went away
        assert not hop_client._still_open(a)


def test_idle_connections_are_kept_for_a_bounded_number_of_targets(raw_server, make_client):
    def serve(conn: socket.socket) -> None:
        while _read_request(conn):
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    ports = [raw_server(serve) for _ in range(3)]
    client = make_client(max_targets=2)
    for port in ports:
        assert client.get("127.0.0.1", port, "/", {}, 5.0) == (204, b"")
    assert [client.idle_count("127.0.0.1", p) for p in ports] == [0, 1, 1]  # the oldest was closed
    assert client.get("127.0.0.1", ports[0], "/", {}, 5.0) == (204, b"") and client.connections_made == 4


def test_calls_in_flight_on_a_loop_each_time_out_at_their_own_deadline(raw_server):
    """The LoopClient keeps one timer for all its calls in flight (the earliest deadline)."""
    release = threading.Event()

    def silent(conn: socket.socket) -> None:
        _read_request(conn)
        release.wait(5)

    def answer(conn: socket.socket) -> None:
        while _read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    slow_a, slow_b, fast = raw_server(silent), raw_server(silent), raw_server(answer)
    client = LoopClientThread()
    order: list[tuple[str, object]] = []
    finished = threading.Event()

    def start() -> None:
        for name, port, timeout in (("late", slow_a, 0.2), ("early", slow_b, 0.05), ("ok", fast, 5.0)):
            def done(got: object, name: str = name) -> None:
                order.append((name, got if isinstance(got, tuple) else type(got).__name__))
                if len(order) == 3:
                    finished.set()
            client.client.fetch(hop_client_fetch("127.0.0.1", port, timeout), done)
    try:
        client.loop.call_soon_threadsafe(start)
        assert finished.wait(5)
    finally:
        release.set()
        client.close()
    assert ("ok", (200, b"ok")) in order
    assert [entry for entry in order if entry[0] != "ok"] == [("early", "HopTimeout"), ("late", "HopTimeout")]


def hop_client_fetch(host: str, port: int, timeout: float) -> Fetch:
    return Fetch(host, port, "/", {}, timeout)
