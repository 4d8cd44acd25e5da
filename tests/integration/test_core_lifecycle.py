"""The shared lifecycle and HTTP serving layer, over real sockets."""
from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time

import pytest
import requests

from mocktools import ApiError, HTTPMockServer, MockServerError, MockStartError
from mocktools.routing import Router, read_json_object
from tests.conftest import open_fds

pytestmark = pytest.mark.usefixtures("each_http_engine")  # every test runs on both HTTP engines


class EchoMock(HTTPMockServer):
    name = "echo"
    inline_routes = False  # InlineEchoMock: the same routes, promised never to block

    def register_routes(self, router: Router) -> None:
        inline = self.inline_routes
        router.add("/echo", self.echo, methods=["GET", "POST"], inline=inline)
        router.add("/items/<int:item_id>", lambda request, item_id: ({"id": item_id}, 201, {"X-Item": "1"}),
                   inline=inline)
        router.add("/text", lambda request: "plain", inline=inline)
        router.add("/teapot", lambda request: (b"short and stout", 418), inline=inline)
        router.add("/api-error", self.api_error, inline=inline)
        router.add("/boom", self.boom, inline=inline)
        router.add("/stream", self.stream, inline=inline)
        router.add("/stream-boom", self.stream_boom, inline=inline)

    def echo(self, request):
        if request.method == "POST":
            return {"got": read_json_object(request)}
        return {"args": dict(request.args)}

    def api_error(self, request):
        raise ApiError(409, "already there", type="conflict", detail="x")

    def boom(self, request):
        raise RuntimeError("mock bug")

    def stream(self, request):
        from werkzeug.wrappers import Response

        return Response((f"chunk{i}\n".encode() for i in range(3)), mimetype="text/plain")

    def stream_boom(self, request):
        from werkzeug.wrappers import Response

        def chunks():
            yield b"first\n"
            raise ValueError("broke mid-stream")

        return Response(chunks(), mimetype="text/plain")


class InlineEchoMock(EchoMock):
    """The asyncio engine runs these routes on its loop thread (werkzeug ignores the mark)."""

    inline_routes = True


@pytest.fixture(params=["worker", "inline"])
def echo(request: pytest.FixtureRequest):
    mock = InlineEchoMock() if request.param == "inline" else EchoMock()
    mock.start()
    yield mock
    mock.stop()


def test_start_listens_immediately_and_stop_frees_the_port() -> None:
    mock = EchoMock()
    assert mock.port == 0 and not mock.running
    mock.start()
    assert mock.start() is mock  # idempotent
    port = mock.port
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    assert requests.get(mock.url + "/echo", timeout=5).status_code == 200
    mock.stop()
    mock.stop()
    assert not mock.running
    with EchoMock(port=port) as again:  # the port is free for immediate reuse
        assert again.port == port and requests.get(again.url + "/text", timeout=5).text == "plain"


def test_port_in_use_raises_a_clear_error_and_leaves_nothing_running() -> None:
    with EchoMock() as first:
        threads = threading.active_count()
        fds = open_fds()
        second = EchoMock(port=first.port)
        with pytest.raises(MockStartError, match=f"127.0.0.1:{first.port} is already in use") as info:
            second.start()
        assert info.value.port == first.port and info.value.host == "127.0.0.1"
        assert not second.running and threading.active_count() <= threads and open_fds() <= fds


def test_stop_is_prompt_with_idle_keep_alive_clients(each_http_engine: str) -> None:
    before = threading.active_count()
    mock = EchoMock().start()
    sessions = [requests.Session() for _ in range(5)]
    for s in sessions:
        assert s.get(mock.url + "/echo", timeout=5).ok  # each leaves an idle keep-alive connection
    # werkzeug: a thread per connection; asyncio: the loop thread and at least one worker
    assert threading.active_count() >= before + (6 if each_http_engine == "werkzeug" else 2)
    mock.stop()
    assert threading.active_count() <= before, [t.name for t in threading.enumerate()]  # all joined
    for s in sessions:
        s.close()


def test_keep_alive_reuses_one_connection_and_drains_unread_bodies(echo: EchoMock) -> None:
    conn = http.client.HTTPConnection(echo.host, echo.port, timeout=5)
    conn.request("GET", "/echo?a=1")
    first = conn.getresponse()
    assert first.getheader("Connection") is None and first.read()
    sock = conn.sock
    conn.request("GET", "/text", body=b"an unread body", headers={"Content-Length": "14"})
    assert conn.getresponse().read() == b"plain"
    conn.request("POST", "/echo", body=b'{"k": 2}', headers={"Content-Type": "application/json"})
    assert b'"k":2' in conn.getresponse().read()
    assert conn.sock is sock
    conn.request("GET", "/text", headers={"Connection": "close"})
    response = conn.getresponse()
    assert response.getheader("Connection") == "close" and response.read() == b"plain"
    conn.close()


def test_chunked_request_body_is_read(echo: EchoMock) -> None:
    body = (part for part in (b'{"a":', b' "chunked"}'))
    response = requests.post(echo.url + "/echo", data=body, headers={"Content-Type": "application/json"}, timeout=5)
    assert response.json() == {"got": {"a": "chunked"}}
    assert echo.calls[-1].json == {"a": "chunked"}


def test_handler_results_errors_and_routing(echo: EchoMock) -> None:
    created = requests.get(echo.url + "/items/7", timeout=5)
    assert created.status_code == 201 and created.json() == {"id": 7} and created.headers["X-Item"] == "1"
    assert requests.get(echo.url + "/teapot", timeout=5).status_code == 418
    conflict = requests.get(echo.url + "/api-error", timeout=5)
    assert conflict.status_code == 409 and conflict.json()["error"] == {
        "code": 409, "type": "conflict", "message": "already there", "detail": "x"}
    assert requests.get(echo.url + "/nope", timeout=5).status_code == 404
    not_allowed = requests.delete(echo.url + "/echo", timeout=5)
    assert not_allowed.status_code == 405 and "GET" in not_allowed.headers["Allow"]
    assert requests.get(echo.url + "/stream", timeout=5).text == "chunk0\nchunk1\nchunk2\n"
    assert echo.get_call_count() == 6 and echo.get_call_count("/items/*") == 1


def test_handler_exception_is_a_500_and_check_reraises_it() -> None:
    mock = EchoMock()
    with pytest.raises(MockServerError, match="RuntimeError: mock bug") as info:
        with mock:
            response = requests.get(mock.url + "/boom", timeout=5)
            assert response.status_code == 500 and "RuntimeError" in response.json()["error"]["message"]
            with pytest.raises(requests.RequestException):
                _ = requests.get(mock.url + "/stream-boom", timeout=5).content
            assert requests.get(mock.url + "/text", timeout=5).text == "plain"  # still serving
    assert isinstance(info.value.__cause__, RuntimeError) and len(info.value.errors) == 2
    mock.check()  # errors are raised once


def test_reset_clears_journal_faults_and_errors(echo: EchoMock) -> None:
    requests.get(echo.url + "/boom", timeout=5)
    echo.set_permanent_failure()
    echo.reset()
    assert echo.get_call_count() == 0 and echo.errors == [] and echo.faults.mode() == "success"


def test_connection_faults_look_like_a_broken_network(echo: EchoMock) -> None:
    for kind in ("reset", "close", "garbage"):
        echo.set_connection_fault(kind, count=1)
        with pytest.raises(requests.ConnectionError):
            requests.get(echo.url + "/echo", timeout=5)
        assert requests.get(echo.url + "/echo", timeout=5).ok
    assert [c.fault for c in echo.calls if c.fault] == ["connection:reset", "connection:close", "connection:garbage"]
    assert [c.status for c in echo.calls][::2] == [None, None, None]


def test_latency_delays_and_stop_interrupts_it(echo: EchoMock) -> None:
    echo.set_latency(0.05)
    started = time.perf_counter()
    assert requests.get(echo.url + "/text", timeout=5).ok
    assert time.perf_counter() - started >= 0.05
    echo.set_latency(30)
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_get_quietly(echo.url + "/text")))
    thread.start()
    time.sleep(0.05)
    echo.stop()
    thread.join(20)
    assert not thread.is_alive()  # stop() interrupted the 30 s delay


def _get_quietly(url: str) -> object:
    try:
        return requests.get(url, timeout=10).status_code
    except requests.RequestException as exc:
        return exc


def test_failure_fault_has_retry_after_and_json(echo: EchoMock) -> None:
    echo.set_failure_count(1, status=503, retry_after=2)
    response = requests.get(echo.url + "/text", timeout=5)
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert response.json()["error"]["type"] == "injected_fault"
    echo.set_failure_count(1, status=429, retry_after=0.5)
    assert requests.get(echo.url + "/text", timeout=5).headers["Retry-After"] == "0.5"


def test_await_start_and_wait_for_calls(echo: EchoMock) -> None:
    mock = EchoMock()
    assert asyncio.run(mock.await_start()) is mock and mock.running
    client = threading.Timer(0.02, lambda: requests.get(mock.url + "/text", timeout=5))
    client.start()
    assert len(mock.wait_for_calls(1, timeout=5)) == 1
    client.join(10)  # the call is journaled before its answer is written: let the client finish first
    mock.stop()
    assert "stopped" in repr(mock)


def test_thousand_start_stop_cycles_leak_no_thread_or_fd() -> None:
    for _ in range(5):  # warm up lazy imports and caches
        EchoMock().start().stop()
    threads, fds = threading.active_count(), open_fds()
    for i in range(1000):
        mock = EchoMock().start()
        if i % 100 == 0:
            assert requests.get(mock.url + "/text", timeout=5).text == "plain"
        mock.stop()
    assert threading.active_count() <= threads
    assert open_fds() <= fds + 2
