"""The ways a mesh hop runs (hop_runners.py), for tests that must give the same results on each:
"loop" (the asyncio engine's default: on the instance's loop, the mesh's one loop thread,
non-blocking calls), "own-loop" (the same on a loop thread per instance, `shared_loop=False`) and
"thread" (the blocking executor on a worker: forced here by a span subscriber, whose code may block)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.hop_client import HopClient
from mocktools.mesh.hop_flow import Fetch
from mocktools.mesh.loop_client import LoopClient

HOP_PATHS = ["loop", "own-loop", "thread"]


@contextmanager
def mesh_on(path: str, spec: Any, **kwargs: Any) -> Iterator[MockServiceMesh]:
    with MockServiceMesh(spec, engine="asyncio", shared_loop=path != "own-loop", **kwargs) as mesh:
        unsubscribe = mesh.spans.subscribe(lambda span: None) if path == "thread" else None
        try:
            yield mesh
        finally:
            if unsubscribe is not None:
                unsubscribe()


class LoopClientThread:
    """A LoopClient on a loop of its own thread, with HopClient's blocking `get` (for tests)."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = LoopClient(self.loop, HopClient(**kwargs))

    @property
    def connections_made(self) -> int:
        return self.client.blocking.connections_made

    def idle_count(self, host: str, port: int) -> int:
        return self.client.idle_count(host, port)

    def wait_peer_closed(self, host: str, port: int) -> None:
        """Until the loop saw the peer close the idle connection (it drops it then, by itself)."""
        deadline = time.monotonic() + 5
        while self.idle_count(host, port) and time.monotonic() < deadline:
            time.sleep(0.005)

    def get(self, host: str, port: int, path: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def start() -> None:
            try:
                self.client.fetch(Fetch(host, port, path, headers, timeout), result.set_result)
            except Exception as exc:  # noqa: BLE001 - raised to the caller, as HopClient raises it
                result.set_exception(exc)
        self.loop.call_soon_threadsafe(start)
        got = result.result(10)
        if isinstance(got, BaseException):
            raise got
        return got  # type: ignore[no-any-return]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.client.close()
        self.loop.close()


class BlockingClient(HopClient):
    def wait_peer_closed(self, host: str, port: int) -> None:
        """Until the peer's FIN is here (the idle connection is readable: it closed)."""
        assert self._idle[(host, port)][0].sock.recv(1, socket.MSG_PEEK) == b""

    def close(self) -> None:
        self.clear()
