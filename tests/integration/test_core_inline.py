"""Inline dispatch (issue 15): a route marked `inline=True` runs on the asyncio engine's loop thread,
every other request on a worker; the werkzeug engine ignores the mark and passes the same tests.

Sequenced with events, never with timing: a handler records the thread it ran on.
"""
from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Response

from mocktools.http_connection import Pause, abort_connection, can_pause, connection_of
from mocktools.http_mock import HTTPMockServer
from mocktools.routing import Router
from tests.integration.test_core_framing import raw, read_all  # one raw-socket client for the engine suites

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("each_http_engine")]

CHUNK = b"x" * 65536
STREAM_CHUNKS = 256  # 16 MiB: far more than the socket buffers of a client that reads nothing


class Site(HTTPMockServer):
    """Routes marked inline (never block) beside one that blocks until the test lets it go."""

    name = "inline-site"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threads: dict[str, list[threading.Thread]] = {}
        self.gate, self.entered, self.streaming = threading.Event(), threading.Event(), threading.Event()
        self.produced = self.closed = 0
        self.lock = threading.Lock()

    def register_routes(self, router: Router) -> None:
        router.add("/fast", self.fast, methods=["GET", "POST"], inline=True)
        router.add("/slow", self.fast, methods=["GET", "POST"])
        router.add("/block", self.block)
        router.add("/boom", self.boom, inline=True)
        router.add("/fault/<kind>", self.fault, inline=False)  # a rule with a converter is never inline
        router.add("/reset", lambda request: self.fault(request, "reset"), inline=True)
        router.add("/close", lambda request: self.fault(request, "close"), inline=True)
        router.add("/garbage", lambda request: self.fault(request, "garbage"), inline=True)
        router.add("/stream", self.stream, inline=True)
        router.add("/size", self.size, methods=["POST"], inline=True)
        router.add("/stream-then-<kind>", self.stream_then_fault)  # (a converter: never inline)
        router.add("/stream-then-garbage", lambda request: self.stream_then_fault(request, "garbage"), inline=True)
        router.add("/paced", lambda request: self.paced(request, inline=True), inline=True)
        router.add("/paced-worker", lambda request: self.paced(request, inline=False), inline=True)
        router.add("/paced-from-pool", lambda request: self.paced(request, inline=True))

    def note(self, path: str) -> None:
        with self.lock:
            self.threads.setdefault(path, []).append(threading.current_thread())

    def fast(self, request: Any) -> dict[str, Any]:
        self.note(request.path)
        return {"path": request.path, "body": request.get_data(as_text=True)}

    def size(self, request: Any) -> dict[str, Any]:
        self.note(request.path)
        return {"size": len(request.get_data())}

    def block(self, request: Any) -> dict[str, Any]:
        self.note(request.path)
        self.entered.set()
        self.gate.wait(10)
        return {"released": True}

    def boom(self, request: Any) -> dict[str, Any]:
        raise RuntimeError("inline handler failed")

    def fault(self, request: Any, kind: str) -> dict[str, Any]:
        self.note(request.path)
        abort_connection(request.environ, kind)
        raise AssertionError("unreachable")

    def stream(self, request: Any) -> Response:
        def body() -> Iterator[bytes]:
            try:
                for _ in range(STREAM_CHUNKS):
                    with self.lock:
                        self.produced += 1
                    self.streaming.set()
                    yield CHUNK
            finally:
                with self.lock:
                    self.closed += 1

        return Response(body(), mimetype="application/octet-stream")

    def stream_then_fault(self, request: Any, kind: str) -> Response:
        environ = request.environ

        def body() -> Iterator[bytes]:
            yield b"first,"
            yield b"second,"
            abort_connection(environ, kind)

        return Response(body(), mimetype="text/plain")

    def paced(self, request: Any, *, inline: bool) -> Response:
        conn = connection_of(request.environ)
        pausable = conn is not None and can_pause(conn.alive)
        pause = float(request.args.get("pause", "0.001"))
        path = request.path

        def body() -> Iterator[Any]:
            try:
                for i in range(3):
                    self.note(path)
                    yield f"tick{i}\n".encode()
                    if pausable:
                        yield Pause(pause, inline=inline)
                    else:
                        self.stopping.wait(pause)
            finally:
                with self.lock:
                    self.closed += 1

        return Response(body(), mimetype="text/plain")


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as mock:
        yield mock


def loop_thread_name(mock: HTTPMockServer) -> str:
    return f"mocktools-{mock.name}:{mock.port}"  # the listener's serving thread (see listeners/http.py)


def bodies(data: bytes) -> list[dict[str, Any]]:
    """The JSON bodies of the (Content-Length framed) responses in `data`, in order."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


# -- where requests run -------------------------------------------------------------------------
def test_an_inline_route_runs_on_the_loop_thread_and_others_on_a_worker(site: Site, each_http_engine: str) -> None:
    with requests.Session() as http:
        assert http.get(f"{site.url}/fast", timeout=5).json()["path"] == "/fast"
        assert http.post(f"{site.url}/fast", data=b"abc", timeout=5).json()["body"] == "abc"
        assert http.get(f"{site.url}/slow", timeout=5).json()["path"] == "/slow"
    fast, slow = site.threads["/fast"], site.threads["/slow"]
    if each_http_engine == "asyncio":
        assert {t.name for t in fast} == {loop_thread_name(site)}
        assert slow[0].name.endswith("-worker")
    else:  # werkzeug: every request on its connection's thread, none on the serving thread
        assert loop_thread_name(site) not in {t.name for t in fast + slow}


def test_inline_requests_are_answered_while_a_worker_handler_blocks(site: Site) -> None:
    got: dict[str, Any] = {}
    blocked = threading.Thread(target=lambda: got.update(requests.get(f"{site.url}/block", timeout=10).json()))
    blocked.start()
    try:
        assert site.entered.wait(10)
        for _ in range(5):  # new connections, each answered while /block holds its worker
            assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200
        assert requests.get(f"{site.url}/slow", timeout=5).status_code == 200
        assert not got
    finally:
        site.gate.set()
        blocked.join(10)
    assert got == {"released": True}


def test_a_latency_fault_sends_an_inline_route_to_a_worker(site: Site, each_http_engine: str) -> None:
    site.faults.set_latency(0.001, path="/fast")
    assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200
    site.faults.set_success()
    assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200
    first, second = site.threads["/fast"]
    assert loop_thread_name(site) != first.name
    if each_http_engine == "asyncio":
        assert first.name.endswith("-worker") and second.name == loop_thread_name(site)


def test_a_stub_sends_an_inline_route_to_a_worker(site: Site, each_http_engine: str) -> None:
    site.expect_request("/stubbed").respond_with_json({"stub": True})
    assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200
    assert requests.get(f"{site.url}/stubbed", timeout=5).json() == {"stub": True}
    assert loop_thread_name(site) != site.threads["/fast"][0].name


# -- framing with inline routes -----------------------------------------------------------------
def test_pipelined_inline_and_worker_requests_are_answered_in_order(site: Site) -> None:
    chunked = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"
    data = (b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nslow"
            b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
            b"POST /fast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked +
            b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = bodies(raw(site.port, data))
    assert [(b["path"], b["body"]) for b in got] == [
        ("/fast", ""), ("/slow", "slow"), ("/fast", "hi"), ("/fast", "abcde"), ("/slow", ""), ("/fast", "")]


def test_many_pipelined_inline_requests_in_one_packet(site: Site) -> None:
    data = b"".join(b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%d" % (len(str(i)), i)
                    for i in range(300)) + b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = bodies(raw(site.port, data))
    assert [b["body"] for b in got] == [str(i) for i in range(300)] + [""]


def test_keep_alive_connection_serves_inline_requests_one_after_another(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        for i in range(20):
            path = b"/fast" if i % 3 else b"/slow"
            sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n%d" % (path, i % 10))
            data = b""
            while b"}" not in data:
                data += sock.recv(65536)
            assert bodies(data) == [{"path": path.decode(), "body": str(i % 10)}]


def test_expect_100_continue_with_an_inline_route(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = b""
        while b"\r\n\r\n" not in interim:
            interim += sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        rest = interim.split(b"\r\n\r\n", 1)[1]
        while b"}" not in rest:
            rest += sock.recv(65536)
        assert bodies(rest) == [{"path": "/fast", "body": "hello"}]
        assert b"100 Continue" not in rest


def test_an_inline_route_waits_for_a_body_sent_after_its_head(site: Site, each_http_engine: str) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\n")
        sock.sendall(b"hello")
        sock.sendall(b" world")
        assert bodies(read_all(sock)) == [{"path": "/fast", "body": "hello world"}]
    if each_http_engine == "asyncio":  # however the bytes were split, it ran on the loop
        assert site.threads["/fast"][0].name == loop_thread_name(site)


def test_a_body_too_big_to_hold_for_an_inline_route_is_read_by_a_worker(site: Site, each_http_engine: str) -> None:
    body = b"z" * (3 << 20)  # beyond the 1 MiB the loop buffers before it pauses reading
    response = requests.post(f"{site.url}/size", data=body, timeout=10)
    assert response.json() == {"size": len(body)}
    if each_http_engine == "asyncio":  # a read returns at most 256 KiB, so the head came first
        assert site.threads["/size"][0].name.endswith("-worker")


def test_an_inline_route_whose_body_stops_coming_is_408(each_http_engine: str) -> None:
    from tests.integration.test_core_framing import served

    with Site() as site, served(site.wsgi_app, each_http_engine, site.http_listener.inline_ok,
                                body_timeout=0.2) as port:
        got = raw(port, b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        assert got.startswith(b"HTTP/1.1 408 ")


def test_an_inline_route_whose_client_half_closes_mid_body_gets_no_200(site: Site) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
        sock.sendall(b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ncut")
        sock.shutdown(socket.SHUT_WR)
        assert b" 200 " not in read_all(sock)
    assert "/fast" not in site.threads
    assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200


def test_a_body_over_the_limit_is_413_and_closed_on_an_inline_route() -> None:
    with Site(max_body_bytes=8) as site:
        got = raw(site.port, b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n" + b"y" * 20 +
                  b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 413 ") and got.count(b"HTTP/1.1 ") == 1
        assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200


# -- faults and errors from inline handlers -----------------------------------------------------
@pytest.mark.parametrize("kind", ["reset", "close", "garbage"])
def test_a_connection_fault_from_an_inline_handler(site: Site, kind: str) -> None:
    got = raw(site.port, f"GET /{kind} HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b"HTTP/1.1" not in got  # no response, and the pipelined request behind it is not served
    if kind == "garbage":
        assert got.startswith(b"\x00\x17garbage")
    assert f"/{kind}" in site.threads and "/fast" not in site.threads
    assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200  # the mock serves on


def test_what_an_inline_stream_sent_before_a_fault_arrives_before_the_garbage(site: Site) -> None:
    for path in ("/stream-then-garbage", "/stream-then-close"):
        got = raw(site.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"first," in body and b"second," in body
        assert body.endswith(b"\x00\x17garbage that is not HTTP\xff\r\n\r\n") == path.endswith("garbage")
        assert not body.endswith(b"0\r\n\r\n")  # no terminating chunk: the stream was cut


@pytest.mark.parametrize("kind", ["reset", "close"])
def test_a_connection_fault_from_the_fault_plan_on_an_inline_route(site: Site, kind: str) -> None:
    site.faults.set_connection_fault(kind, count=1, path="/fast")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{site.url}/fast", timeout=5)
    assert requests.get(f"{site.url}/fast", timeout=5).json()["path"] == "/fast"
    first, second = site.calls
    assert first.fault and kind in first.fault and first.status is None and second.fault is None


def test_an_inline_handler_error_is_a_500_and_the_connection_serves_on(site: Site) -> None:
    with requests.Session() as http:
        bad = http.get(f"{site.url}/boom", timeout=5)
        assert bad.status_code == 500 and bad.json()["error"]["type"] == "mock_internal_error"
        assert http.get(f"{site.url}/fast", timeout=5).status_code == 200
    assert [type(e) for e in site.errors] == [RuntimeError]
    site._errors.clear()


def test_a_bare_app_raising_inline_is_a_500_and_closed(each_http_engine: str) -> None:
    from tests.integration.test_core_framing import served

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        raise ValueError("broken app")

    from mocktools.http_engines import make_http_server

    server = make_http_server("127.0.0.1", 0, app, engine=each_http_engine, inline=lambda environ: True)
    thread = threading.Thread(target=server.serve_until_stopped, daemon=True)
    thread.start()
    try:
        got = raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 500 ") and got.count(b"HTTP/1.1 ") == 1
    finally:
        server.wake()
        thread.join()
        server.close_connections()
        server.server_close()
    assert served  # the framing suite's helper stays importable for both suites


def test_a_probe_that_raises_means_a_worker(each_http_engine: str) -> None:
    from mocktools.http_engines import make_http_server

    ran: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        ran.append(threading.current_thread().name)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def probe(environ: dict[str, Any]) -> bool:
        raise KeyError("probe failed")

    server = make_http_server("127.0.0.1", 0, app, engine=each_http_engine, inline=probe)
    thread = threading.Thread(target=server.serve_until_stopped, name="bare-loop", daemon=True)
    thread.start()
    try:
        got = raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"ok")
    finally:
        server.wake()
        thread.join()
        server.close_connections()
        server.server_close()
    assert ran and ran[0] != "bare-loop"
