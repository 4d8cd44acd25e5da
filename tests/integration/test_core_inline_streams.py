"""Inline dispatch (issue 15), streams: a stream from an inline route is written on the loop and
held while its client reads slowly; `Pause(inline=True)` resumes on the loop thread; `stop()`
closes held and paused streams; a slow inline request is logged. Both engines, no timing.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from tests.integration.test_core_inline import CHUNK, STREAM_CHUNKS, Site, loop_thread_name, raw, read_all

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("each_http_engine")]


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as mock:
        yield mock


# -- streams ------------------------------------------------------------------------------------
def test_a_stream_from_an_inline_route_waits_for_a_slow_reader_without_holding_the_loop(site: Site) -> None:
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    slow.settimeout(10)
    slow.connect(("127.0.0.1", site.port))
    try:
        slow.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert site.streaming.wait(10)
        # the slow client reads nothing: the stream must wait for it while others are served
        assert requests.get(f"{site.url}/fast", timeout=5).status_code == 200
        with site.lock:
            produced = site.produced
        assert produced < STREAM_CHUNKS // 2  # held back by the unread socket, not buffered whole
        got = read_all(slow)
    finally:
        slow.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert b"chunked" in head.lower() and body.endswith(b"0\r\n\r\n")
    assert body.count(CHUNK) == STREAM_CHUNKS and site.closed == 1


def test_stop_closes_an_inline_stream_held_by_a_slow_reader() -> None:
    site = Site().start()
    slow = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    try:
        slow.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        assert site.streaming.wait(10)
        site.stop()
        assert site.closed == 1  # the body's finally ran
        assert not read_all(slow).endswith(b"0\r\n\r\n")  # cut, as a server that went away
    finally:
        slow.close()
        site.stop()


@pytest.mark.parametrize("path,on_loop", [("/paced", True), ("/paced-worker", False), ("/paced-from-pool", True)])
def test_pause_inline_resumes_on_the_loop_thread(site: Site, each_http_engine: str, path: str, on_loop: bool) -> None:
    got = raw(site.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert b"tick0\n" in got and b"tick2\n" in got and got.endswith(b"0\r\n\r\n") and site.closed == 1
    steps = [t.name for t in site.threads[path]]
    assert len(steps) == 3
    if each_http_engine == "asyncio":
        resumed_on = {"loop" if name == loop_thread_name(site) else "worker" for name in steps[1:]}
        assert resumed_on == {"loop" if on_loop else "worker"}
        assert (steps[0] == loop_thread_name(site)) == (path != "/paced-from-pool")


def test_stop_closes_streams_paused_inline(each_http_engine: str) -> None:
    if each_http_engine != "asyncio":
        pytest.skip("only the asyncio engine turns Pause into a loop timer")
    site = Site().start()
    socks = [socket.create_connection(("127.0.0.1", site.port), timeout=10) for _ in range(10)]
    try:
        for sock in socks:
            sock.sendall(b"GET /paced?pause=30 HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in socks:
            data = b""
            while b"tick0" not in data:
                data += sock.recv(4096)
        site.stop()
        assert site.closed == 10
        for sock in socks:
            assert b"tick1" not in read_all(sock)
    finally:
        for sock in socks:
            sock.close()
        site.stop()


def test_an_inline_request_that_held_the_loop_too_long_is_logged_once_per_path(
        site: Site, each_http_engine: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from mocktools.aio_server import AsyncHTTPServer

    monkeypatch.setattr(AsyncHTTPServer, "slow_inline", -1.0)  # every inline request counts as slow
    with caplog.at_level("WARNING", logger="mocktools.engine"), requests.Session() as http:
        for _ in range(3):
            assert http.get(f"{site.url}/fast", timeout=5).status_code == 200
        assert http.get(f"{site.url}/slow", timeout=5).status_code == 200  # on a worker: not timed
    lines = [r.getMessage() for r in caplog.records if r.name == "mocktools.engine"]
    if each_http_engine == "asyncio":
        assert len(lines) == 1 and "GET /fast" in lines[0] and "inline=True" in lines[0]
    else:
        assert lines == []


def test_many_streams_pausing_together_all_resume_and_finish(site: Site) -> None:
    socks = [socket.create_connection(("127.0.0.1", site.port), timeout=10) for _ in range(30)]
    try:
        for i, sock in enumerate(socks):  # several share one wake-up bucket, some do not
            path = "/paced" if i % 3 else "/paced-worker"
            sock.sendall(f"GET {path}?pause=0.002 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        for sock in socks:
            got = read_all(sock)
            assert got.count(b"tick") == 3 and got.endswith(b"0\r\n\r\n")
    finally:
        for sock in socks:
            sock.close()
    assert site.closed == 30


def test_a_stream_resumed_inline_that_held_the_loop_is_logged(
        site: Site, each_http_engine: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from mocktools.aio_server import AsyncHTTPServer

    monkeypatch.setattr(AsyncHTTPServer, "slow_inline", -1.0)  # every step on the loop counts as slow
    with caplog.at_level("WARNING", logger="mocktools.engine"):
        got = raw(site.port, b"GET /paced-from-pool HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert got.endswith(b"0\r\n\r\n")
    lines = [r.getMessage() for r in caplog.records if r.name == "mocktools.engine"]
    if each_http_engine == "asyncio":  # started on a worker, resumed on the loop: the resumed steps count
        assert len(lines) == 1 and "/paced-from-pool" in lines[0]
    else:
        assert lines == []
