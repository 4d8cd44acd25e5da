"""The engine's Suspend / Deferred contract (http_connection): an inline handler that waits for an
event of its own returns a Deferred; the request is suspended on the loop (no thread holds it)
and answered, journaled and error-translated when the deferred settles, exactly as a response
returned at once. Sequenced with events (the test settles the deferred on the loop), never timing.
"""
from __future__ import annotations

import asyncio
import socket
import struct
import threading
from typing import Any

import pytest
import requests

from mocktools.errors import MockServerError, WireError
from mocktools.http_connection import Deferred, Suspend, can_suspend
from mocktools.http_mock import HTTPMockServer
from mocktools.routing import JSONAnswer, json_dumps
from tests.conftest import open_fds

pytestmark = pytest.mark.timeout(30)


class Teapot(WireError):
    status = 418
    type = "teapot"


class Later(HTTPMockServer):
    """`/later` answers when the test settles its Deferred; `/raw` is a WSGI body yielding Suspend."""

    name = "later-site"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pending: list[tuple[asyncio.AbstractEventLoop, Deferred]] = []
        self.waiting = threading.Event()
        self.cancelled = threading.Event()
        self.threads: list[str] = []
        self.closed = threading.Event()  # a body of this mock was closed

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = super().wsgi_app(environ, start_response)
        closed = self.closed

        def tracked() -> Any:
            try:
                yield from body
            finally:
                getattr(body, "close", lambda: None)()
                closed.set()
        return tracked()

    def register_routes(self, router: Any) -> None:
        router.add("/later", self.later, inline=True)

    def later(self, request: Any) -> Any:
        self.threads.append(threading.current_thread().name)
        if not can_suspend(request.environ):  # the werkzeug engine: answer at once
            return {"at_once": True}
        deferred = Deferred(on_cancel=self.cancelled.set)
        self.pending.append((asyncio.get_running_loop(), deferred))
        self.waiting.set()
        return deferred

    def settle(self, how: str, value: Any = None) -> None:
        """Settle the last deferred on its loop (where the contract says it is settled)."""
        loop, deferred = self.pending[-1]
        done = threading.Event()

        def run() -> None:
            if how == "resolve":
                deferred.resolve(value)
            else:
                deferred.fail(value)
            done.set()
        loop.call_soon_threadsafe(run)
        assert done.wait(5)


def _get_async(url: str) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["response"] = requests.get(url, timeout=10)
        except requests.RequestException as exc:
            out["error"] = exc
    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_a_deferred_answer_is_sent_and_journaled_when_settled():
    with Later(engine="asyncio") as mock:
        t, out = _get_async(mock.url + "/later")
        assert mock.waiting.wait(5)
        assert mock.journal.count() == 0  # not answered yet: not journaled yet
        mock.settle("resolve", JSONAnswer(json_dumps({"late": True}).encode(), 201))
        t.join(10)
        assert out["response"].status_code == 201 and out["response"].json() == {"late": True}
        assert mock.threads == [f"mocktools-later-site:{mock.port}"]  # on the loop thread
        (entry,) = mock.journal.calls()
        assert entry.status == 201 and entry.path == "/later"


def test_a_deferred_failure_is_translated_as_a_raising_handler():
    with Later(engine="asyncio") as mock:
        t, out = _get_async(mock.url + "/later")
        assert mock.waiting.wait(5)
        mock.settle("fail", Teapot("short and stout"))
        t.join(10)
        assert out["response"].status_code == 418 and out["response"].json()["error"]["type"] == "teapot"
        mock.waiting.clear()
        t, out = _get_async(mock.url + "/later")
        assert mock.waiting.wait(5)
        mock.settle("fail", KeyError("bug"))
        t.join(10)
        assert out["response"].status_code == 500
        assert [e.status for e in mock.journal.calls()] == [418, 500]
        with pytest.raises(MockServerError, match="KeyError"):
            mock.check()  # the 500 is kept for check()


@pytest.mark.parametrize("then", ["settled", "stopped"])
def test_a_client_gone_while_suspended_closes_the_body_and_journals_the_answer_when_known(then):
    mock = Later(engine="asyncio").start()
    try:
        with socket.create_connection(("127.0.0.1", mock.port)) as s:
            s.sendall(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
            assert mock.waiting.wait(5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # gone: a reset
        assert mock.closed.wait(5)  # the engine closed the suspended body
        assert mock.journal.count() == 0
        if then == "settled":
            mock.settle("resolve", JSONAnswer(b"{}", 200))  # the work went on: its answer is journaled
            assert [e.status for e in mock.journal.wait_for(1, timeout=5)] == [200]
    finally:
        mock.stop()
    if then == "stopped":  # the server stopped before the work ended: journaled as cut by the stop
        (entry,) = mock.journal.calls()
        assert entry.status is None and entry.fault == "stopped"
    assert not mock.cancelled.is_set() and len(mock.journal.calls()) == 1


def test_stop_while_suspended_cancels_the_work_and_drops_the_connection():
    threads, fds = threading.active_count(), open_fds()
    mock = Later(engine="asyncio").start()
    t, out = _get_async(mock.url + "/later")
    assert mock.waiting.wait(5)
    mock.stop()
    t.join(10)
    assert "error" in out  # no answer: the connection dropped, as a stopped server's
    assert mock.cancelled.is_set()  # the owner was told nobody takes the answer
    (entry,) = mock.journal.calls()
    assert entry.status is None and entry.fault == "stopped"
    assert threading.active_count() <= threads and open_fds() <= fds


def test_a_resume_before_the_engine_took_the_suspend_goes_on_at_once():
    suspend = Suspend()
    suspend.resume()  # the owner signalled first
    woken: list[str] = []
    soon: list[Any] = []
    suspend.bind(lambda: woken.append("woken"), soon.append)
    assert woken == [] and len(soon) == 1  # not re-entrant: the engine steps on from its loop
    soon[0]()
    assert woken == ["woken"]
    late = Suspend()
    late.bind(lambda: woken.append("late"), soon.append)
    late.unbind()  # the engine gave up (client gone): a late resume is a no-op
    late.resume()
    assert woken == ["woken"]


@pytest.mark.parametrize("engine", ["asyncio", "werkzeug"])
def test_a_body_that_suspends_where_it_cannot_be_resumed_is_a_500(engine):
    """A raw WSGI body yielding Suspend off the loop (a worker, or the werkzeug engine) broke
    the contract: answered 500, and the server keeps serving."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/ok":
            start_response("200 OK", [("Content-Length", "2")])
            return [b"ok"]
        return iter([Suspend()])

    from mocktools.http_engines import make_http_server
    server = make_http_server("127.0.0.1", 0, app, engine=engine)
    thread = threading.Thread(target=server.serve_until_stopped, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert requests.get(url + "/suspend", timeout=10).status_code == 500
        assert requests.get(url + "/ok", timeout=10).text == "ok"
    finally:
        server.wake()
        thread.join(10)
        server.close_connections()
        server.server_close()


def test_the_werkzeug_engine_never_suspends():
    with Later(engine="werkzeug") as mock:
        assert requests.get(mock.url + "/later", timeout=10).json() == {"at_once": True}
        assert [e.status for e in mock.journal.calls()] == [200]
