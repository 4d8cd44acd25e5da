"""HTTP/1.1 framing over raw sockets, on both engines: RFC 9112 rules, smuggling, errors, timeouts.

Each test is named after the defect it pins (issue 17, items 9 and 10, and the serving risks).
"""
from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from mocktools.http_engines import make_http_server
from mocktools.http_framing import ServerLimits
from mocktools.http_mock import HTTPMockServer
from mocktools.ofd.mock import MockOFDServer
from mocktools.routing import Router

pytestmark = pytest.mark.usefixtures("each_http_engine")

RECEIPT = b'{"document_id": "d1", "total": 1}'


class Echo(HTTPMockServer):
    name = "echo"
    inline_routes = False  # InlineEcho: the route promises never to block

    def register_routes(self, router: Router) -> None:
        router.add("/echo", lambda request: {"body": request.get_data(as_text=True)}, methods=["GET", "POST"],
                   inline=self.inline_routes)


class InlineEcho(Echo):
    """The asyncio engine runs /echo on its loop thread once the body is in (werkzeug ignores it)."""

    inline_routes = True


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a hang fails the test instead of blocking it."""
    out = b""
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"server neither answered nor closed; got {out!r}")
        except ConnectionResetError:
            return out
        if not data:
            return out
        out += data


def raw(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def statuses(data: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]


def error_of(data: bytes) -> dict:
    body = data.split(b"\r\n\r\n", 1)[1]
    return json.loads(body)["error"]


@pytest.fixture(params=["worker", "inline"])
def echo(request: pytest.FixtureRequest) -> Iterator[Echo]:
    with (InlineEcho if request.param == "inline" else Echo)() as mock:
        yield mock


@pytest.fixture
def ofd() -> Iterator[MockOFDServer]:
    with MockOFDServer() as mock:
        yield mock


@contextlib.contextmanager
def served(app, engine: str, inline: Any = None, **limits: Any) -> Iterator[int]:
    """A bare engine serving `app` with tightened limits (and `inline` as its probe); yields its port."""
    server = make_http_server("127.0.0.1", 0, app, engine=engine, limits=ServerLimits(**limits), inline=inline)
    thread = threading.Thread(target=server.serve_until_stopped, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.wake()
        thread.join()
        server.close_connections()
        server.server_close()


# -- item 9: chunked framing ---------------------------------------------------------------------
def test_chunk_extensions_and_trailers_are_accepted(echo: Echo) -> None:
    body = b"5;ext=1\r\nhello\r\n6;a=b;c\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    got = raw(echo.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n" + body)
    assert statuses(got) == [200] and json.loads(got.split(b"\r\n\r\n", 1)[1]) == {"body": "hello world"}


@pytest.mark.parametrize("size_line", [b"zz", b"5 5", b"-1", b""])
def test_bad_chunk_size_is_400_and_closed(echo: Echo, size_line: bytes) -> None:
    got = raw(echo.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + size_line + b"\r\nhello\r\n0\r\n\r\n")
    assert statuses(got) == [400] and error_of(got)["code"] == 400
    assert echo.get_call_count() == 0


def test_overflowing_chunk_size_is_400_and_closed_never_hangs(echo: Echo) -> None:
    got = raw(echo.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")
    assert statuses(got) == [400] and error_of(got)["type"] == "bad_request"


# -- item 10: request smuggling ------------------------------------------------------------------
def _smuggle(ofd: MockOFDServer, head: bytes) -> bytes:
    assert ofd.ledger.submit({"document_id": "kept"})[1] is False
    hidden = b"POST /ofd/v1/_test/reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    got = raw(ofd.port, head + hidden)
    assert ofd.ledger.count == 1, "a hidden request was run"
    return got


def test_header_line_without_colon_is_400_and_no_hidden_request(ofd: MockOFDServer) -> None:
    got = _smuggle(ofd, b"POST /ofd/v1/receipt HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nContent-Length: 76\r\n\r\n")
    assert statuses(got) == [400] and error_of(got)["type"] == "bad_request"


def test_space_before_colon_in_content_length_is_400(ofd: MockOFDServer) -> None:
    got = _smuggle(ofd, b"POST /ofd/v1/receipt HTTP/1.1\r\nHost: x\r\nContent-Length : 76\r\n\r\n")
    assert statuses(got) == [400]


def test_differing_duplicate_content_length_is_400(ofd: MockOFDServer) -> None:
    got = _smuggle(ofd, b"POST /ofd/v1/receipt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 76\r\n\r\n")
    assert statuses(got) == [400] and ofd.get_call_count() == 0


@pytest.mark.parametrize("value", [b"abc", b"-5", b"1_9", b"+21", b"0x10", b"1 2"])
def test_malformed_content_length_is_400_not_zero_or_lenient(ofd: MockOFDServer, value: bytes) -> None:
    got = _smuggle(ofd, b"POST /ofd/v1/receipt HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n")
    assert statuses(got) == [400] and ofd.get_call_count() == 0


def test_content_length_with_transfer_encoding_is_400(ofd: MockOFDServer) -> None:
    got = _smuggle(ofd, b"POST /ofd/v1/receipt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert statuses(got) == [400]


def test_transfer_encoding_in_http10_is_400(ofd: MockOFDServer) -> None:
    got = _smuggle(ofd, b"POST /ofd/v1/receipt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert statuses(got) == [400]


def test_expect_100_continue_gets_exactly_one_interim_response(ofd: MockOFDServer) -> None:
    with socket.create_connection(("127.0.0.1", ofd.port), timeout=5) as sock:
        sock.sendall(b"POST /ofd/v1/receipt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(RECEIPT))
        first = b""
        while b"\r\n\r\n" not in first:
            chunk = sock.recv(4096)
            assert chunk, "closed before 100 Continue"
            first += chunk
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(RECEIPT)
        got = first + read_all(sock)
    assert statuses(got) == [100, 200] and got.count(b"100 Continue") == 1


# -- server-level errors in the mock's JSON shape ------------------------------------------------
@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(300)) + b"\r\n", 431),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"NOT HTTP AT ALL\r\n\r\n", 400),
    (b"\x00\x01\x02\x03\r\n\r\n", 400),
])
def test_server_level_errors_are_json_not_html(echo: Echo, request_bytes: bytes, status: int) -> None:
    got = raw(echo.port, request_bytes)
    assert statuses(got) == [status]
    error = error_of(got)
    assert error["code"] == status and error["type"] and error["message"]
    assert b"Connection: close" in got.split(b"\r\n\r\n")[0]
    assert raw(echo.port, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")


# -- keep-alive behaviour that must survive the strict parser -----------------------------------
def test_pipelined_requests_are_answered_in_order(echo: Echo) -> None:
    one = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
    two = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
    three = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nthree\r\n0\r\n\r\n"
    got = raw(echo.port, one + two + three)
    assert statuses(got) == [200, 200, 200]
    assert got.index(b'"one"') < got.index(b'"body":""') < got.index(b'"three"')


def test_http10_request_is_answered_and_closed(echo: Echo) -> None:
    got = raw(echo.port, b"GET /echo HTTP/1.0\r\n\r\n")
    assert statuses(got) == [200] and b"Transfer-Encoding" not in got


def test_h2c_upgrade_is_ignored_and_answered_as_http11(echo: Echo) -> None:
    got = raw(echo.port, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                         b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", half_close=True)
    assert statuses(got) == [200]


# -- slow, idle and too many clients -------------------------------------------------------------
def test_slowloris_head_is_evicted_with_408(echo: Echo, each_http_engine: str) -> None:
    with served(echo.wsgi_app, each_http_engine, echo.http_listener.inline_ok, header_timeout=0.2) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        got = read_all(sock)
    assert statuses(got) == [408] and error_of(got)["code"] == 408


def test_slow_body_is_evicted_with_408(echo: Echo, each_http_engine: str) -> None:
    with served(echo.wsgi_app, each_http_engine, echo.http_listener.inline_ok, body_timeout=0.2) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        got = read_all(sock)
    assert statuses(got) == [408]


def test_idle_keep_alive_connection_is_closed_after_idle_timeout(echo: Echo, each_http_engine: str) -> None:
    with served(echo.wsgi_app, each_http_engine, echo.http_listener.inline_ok, idle_timeout=0.2) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        got = read_all(sock)  # answered, then closed once idle
    assert statuses(got) == [200]


def test_connection_cap_answers_503_instead_of_serving_more(echo: Echo, each_http_engine: str) -> None:
    with served(echo.wsgi_app, each_http_engine, echo.http_listener.inline_ok, max_connections=2) as port:
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        try:
            for sock in held:  # served, and kept open
                sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            got = raw(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
            assert statuses(got) == [503] and error_of(got)["type"] == "service_unavailable"
        finally:
            for sock in held:
                sock.close()


_FD_LIMIT_SERVER = r"""
import resource, sys
from mocktools import HTTPMockServer
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
with HTTPMockServer() as mock:
    print(mock.port, flush=True)
    sys.stdin.read()  # serve until the test closes our stdin
"""


def test_accept_at_the_fd_limit_answers_503(each_http_engine: str) -> None:
    """At the descriptor limit the accept loop sheds a client with 503 (through a reserve fd)
    instead of leaving it unanswered on a listening socket that stays readable."""
    import os

    server = subprocess.Popen([sys.executable, "-c", _FD_LIMIT_SERVER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "MOCKTOOLS_HTTP_ENGINE": each_http_engine})
    clients: list[socket.socket] = []
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        seen = []
        for _ in range(100):  # one at a time, each kept open, until the server is out of fds
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            clients.append(sock)
            sock.sendall(b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
            seen.append(statuses(sock.recv(65536)))
            if seen[-1] == [503]:
                break
        assert seen[0] == [404] and seen[-1] == [503], seen
        for sock in clients:
            sock.close()
        clients.clear()
        for _ in range(50):  # served again once descriptors are free (closing is asynchronous)
            got = raw(port, b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if statuses(got) == [404]:
                break
        assert statuses(got) == [404]
    finally:
        for sock in clients:
            sock.close()
        server.communicate("", timeout=10)


def test_a_thousand_idle_connections_cost_no_thread_each(each_http_engine: str) -> None:
    """The asyncio engine holds idle keep-alive clients on its loop: a normal client is still
    served and stop() closes them all (the 10,000-connection figure is in bench/README.md)."""
    if each_http_engine != "asyncio":
        pytest.skip("the werkzeug engine uses a thread per connection by design")
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 and (hard == resource.RLIM_INFINITY or hard >= 4096):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2500:
        pytest.skip("needs 2,500 file descriptors (client and server ends of 1,000 connections)")
    before = threading.active_count()
    with Echo() as mock:
        held = [socket.create_connection(("127.0.0.1", mock.port), timeout=5) for _ in range(1000)]
        try:
            for sock in held[::100]:
                sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            assert raw(mock.port, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
                b"HTTP/1.1 200")
            assert threading.active_count() < before + 20
            mock.stop()
            for sock in held[:50]:
                assert read_all(sock) == b""  # closed by the server
        finally:
            for sock in held:
                sock.close()
    assert threading.active_count() <= before + 1  # a closer thread may still be finishing


class Paced(HTTPMockServer):
    """A stream paced by `Pause` where the engine supports it (else it sleeps itself)."""

    name = "paced"

    def __init__(self, pause: float) -> None:
        super().__init__()
        self.pause, self.closed = pause, 0
        self.lock = threading.Lock()

    def register_routes(self, router: Router) -> None:
        router.add("/paced", self.paced)

    def paced(self, request):
        from werkzeug.wrappers import Response

        from mocktools.http_connection import Pause, can_pause, connection_of

        conn = connection_of(request.environ)
        pausable = conn is not None and can_pause(conn.alive)

        def body():
            try:
                for i in range(3):
                    yield f"tick{i}\n".encode()
                    if pausable:
                        yield Pause(self.pause)
                    else:
                        self.stopping.wait(self.pause)
            finally:
                with self.lock:
                    self.closed += 1

        return Response(body(), mimetype="text/plain")


def test_a_paced_stream_is_delivered_whole_on_either_engine() -> None:
    with Paced(0.01) as mock:
        got = raw(mock.port, b"GET /paced HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"tick0\n" in got and b"tick2\n" in got and got.endswith(b"0\r\n\r\n") and mock.closed == 1


def test_paused_streams_hold_no_thread_and_stop_closes_them(each_http_engine: str) -> None:
    if each_http_engine != "asyncio":
        pytest.skip("only the asyncio engine turns Pause into a loop timer")
    before = threading.active_count()
    mock = Paced(30.0).start()
    socks = [socket.create_connection(("127.0.0.1", mock.port), timeout=5) for _ in range(40)]
    try:
        for sock in socks:
            sock.sendall(b"GET /paced HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in socks:  # every stream has sent its first tick and now waits in a pause
            data = b""
            while b"tick0" not in data:
                data += sock.recv(4096)
        assert threading.active_count() < before + 15  # not one sleeping thread per stream
        mock.stop()
        assert mock.closed == 40  # each paused body was closed (its finally ran)
        for sock in socks[:5]:
            assert b"tick1" not in read_all(sock)  # cut, as a server that went away
    finally:
        for sock in socks:
            sock.close()
        mock.stop()
