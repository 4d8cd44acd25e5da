"""The asyncio engine's event loop: the stdlib's by default, uvloop on request."""
from __future__ import annotations

import asyncio
import socket

import pytest

from mocktools import aio_loop
from mocktools.aio_server import AsyncHTTPServer

uvloop = pytest.importorskip("uvloop")


def _app(environ: dict, start_response: object) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "2")])  # type: ignore[operator]
    return [b"ok"]


def test_resolve_loop_defaults_to_the_stdlib_loop_and_reads_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(aio_loop.LOOP_ENV, raising=False)
    assert aio_loop.resolve_loop() == "asyncio"
    monkeypatch.setenv(aio_loop.LOOP_ENV, " UVloop ")
    assert aio_loop.resolve_loop() == "uvloop"
    assert aio_loop.resolve_loop("asyncio") == "asyncio"  # a name given wins over the env var


def test_an_unknown_loop_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(aio_loop.LOOP_ENV, "trio")
    with pytest.raises(ValueError, match="unknown event loop 'trio'; known: asyncio, uvloop"):
        aio_loop.resolve_loop()


@pytest.mark.parametrize("name, loop_type", [("uvloop", uvloop.Loop), ("asyncio", asyncio.BaseEventLoop)])
def test_the_server_runs_on_the_loop_named(name: str, loop_type: type) -> None:
    server = AsyncHTTPServer("127.0.0.1", 0, _app, loop=name)
    try:
        assert server.loop_kind == name
        assert isinstance(server.loop, loop_type)
        assert aio_loop.running_loop_kind(server.loop) == name
    finally:
        server.server_close()


@pytest.mark.parametrize("name", aio_loop.LOOPS)
def test_stop_closes_many_idle_connections_through_the_closer_thread(name: str) -> None:
    """Above `sync_close_limit` open connections, a helper thread aborts them on the finished
    loop (public transport API on both loops: no transport internals)."""
    import threading

    server = AsyncHTTPServer("127.0.0.1", 0, _app, loop=name)
    server.sync_close_limit = 4
    thread = threading.Thread(target=server.serve_until_stopped)
    thread.start()
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(12)]
    try:
        for sock in held:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        server.wake()
        thread.join(5)
        server.close_connections()
        server.server_close()
        assert server._closer is not None
        server._closer.join(5)
        for sock in held:
            assert sock.recv(10) == b""  # closed by the server
        assert server.loop.is_closed()
    finally:
        for sock in held:
            sock.close()
