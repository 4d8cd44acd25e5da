"""A closed connection of the asyncio engine leaves no reference cycle of ours behind: its
protocol and parser are freed by reference counting, not by a cyclic collection (a full pass,
once they are old: the passes that make a loaded mock's p99; bench/README.md)."""
from __future__ import annotations

import gc
import socket

import pytest

from mocktools.ofd.mock import MockOFDServer

pytestmark = pytest.mark.timeout(30)
OURS = {"HTTPProtocol", "HttpRequestParser", "Exchange", "Body", "RequestRun"}


def _cyclic_garbage_of_connections(port: int, n: int, request: bytes) -> list[str]:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                while sock.recv(65536):  # until the server closes (Connection: close)
                    pass
        gc.collect()
        return [type(o).__name__ for o in gc.garbage if type(o).__name__ in OURS]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("request_bytes", [
    b"GET /ofd/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b'POST /ofd/v1/receipt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n'
    b'Content-Length: 19\r\n\r\n{"document_id":"a"}',
], ids=["get", "post-with-body"])
def test_closed_connections_leave_no_cycles_of_ours(request_bytes: bytes) -> None:
    with MockOFDServer(engine="asyncio") as mock:
        assert _cyclic_garbage_of_connections(mock.port, 30, request_bytes) == []
