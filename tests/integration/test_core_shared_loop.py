"""Several asyncio-engine servers on one loop thread (`make_http_server(shared_loop=...)`, used by the mesh):
each keeps its own port, connections, workers and stop; stopping one leaves the others serving
and leaks nothing; a request suspended on a stopped server is ended as on a loop of its own."""
from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from mocktools.http_connection import Deferred, can_suspend
from mocktools.http_engines import make_http_server
from mocktools.http_mock import HTTPMockServer
from mocktools.mesh.shared_loop import SharedLoop
from tests.conftest import open_fds

pytestmark = pytest.mark.timeout(30)


def _app(name: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        body = f"{name} {threading.current_thread().name}".encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    return app


def _serve(server: Any) -> threading.Thread:
    thread = threading.Thread(target=server.serve_until_stopped, daemon=True)
    thread.start()
    return thread


def _stop(server: Any, thread: threading.Thread) -> None:
    server.wake()
    thread.join(10)
    server.close_connections()
    server.server_close()


def test_servers_share_one_loop_thread_and_stop_one_at_a_time():
    threads, fds = threading.active_count(), open_fds()
    shared = SharedLoop("test-shared-loop")
    loop = shared.start()
    inline = lambda environ: True  # noqa: E731 - every request on the loop thread
    a = make_http_server("127.0.0.1", 0, _app("a"), engine="asyncio", inline=inline, shared_loop=loop)
    b = make_http_server("127.0.0.1", 0, _app("b"), engine="asyncio", inline=inline, shared_loop=loop)
    ta, tb = _serve(a), _serve(b)
    try:
        with requests.Session() as s:
            assert s.get(f"http://127.0.0.1:{a.port}/", timeout=5).text == "a test-shared-loop"
            assert s.get(f"http://127.0.0.1:{b.port}/", timeout=5).text == "b test-shared-loop"
            _stop(a, ta)  # its keep-alive connection is closed, its port free; b goes on
            with pytest.raises(requests.ConnectionError):
                s.get(f"http://127.0.0.1:{a.port}/", timeout=5)
            assert s.get(f"http://127.0.0.1:{b.port}/", timeout=5).text == "b test-shared-loop"
    finally:
        _stop(b, tb)
        shared.stop()
    assert threading.active_count() <= threads and open_fds() <= fds


class Waits(HTTPMockServer):
    name = "waits"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiting, self.cancelled = threading.Event(), threading.Event()

    def register_routes(self, router: Any) -> None:
        router.add("/", self.wait, inline=True)

    def wait(self, request: Any) -> Any:
        assert can_suspend(request.environ)
        self.waiting.set()
        return Deferred(on_cancel=self.cancelled.set)


def test_a_suspended_request_on_a_shared_loop_ends_with_its_server():
    shared = SharedLoop("test-shared-loop")
    loop = shared.start()
    try:
        mock = Waits(engine="asyncio")
        mock.http_listener.shared_loop = loop
        mock.start()
        out: dict[str, Any] = {}

        def get() -> None:
            try:
                requests.get(mock.url + "/", timeout=10)
            except requests.ConnectionError as exc:
                out["error"] = exc
        t = threading.Thread(target=get)
        t.start()
        assert mock.waiting.wait(5)
        mock.stop()
        t.join(10)
        assert "error" in out and mock.cancelled.is_set()
        (entry,) = mock.journal.calls()
        assert entry.status is None and entry.fault == "stopped"
        assert loop.is_running()  # the loop is the owner's: it goes on
    finally:
        shared.stop()
