"""Every wait and every held request observes stopping (issue 17, item 4 and the stop risks).

Each test parks something in a real server through a real client, stops the mock and checks
that the parked thing was let go (the client sees a dropped connection, not an answer) and
that stop() returned; durations are only bounded generously (< 2 s), never raced.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
import requests

from mocktools.faults import FaultDecision
from mocktools.journal import Journal, WaitInterrupted
from mocktools.mesh import MockServiceMesh
from mocktools.ofd import MockOFDServer
from mocktools.otlp import MockOTLPCollector
from mocktools.teraslice import MockTerasliceServer
from mocktools.vllm import MockVLLMServer

GENEROUS = 2.0  # stop() must stay under 20 ms; asserting 2 s cannot race on a loaded machine


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a state the test set up (not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


class Outcome:
    """Run one client call in a thread; keep what it returned or raised."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.result = fn()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc

    def join(self) -> Outcome:
        self.thread.join(10)
        assert not self.thread.is_alive(), "the client call was not released"
        return self


def timed_stop(mock: Any) -> float:
    started = time.perf_counter()
    mock.stop()
    return time.perf_counter() - started


def test_calls_wait_is_released_by_stop() -> None:
    ofd = MockOFDServer().start()
    url = f"{ofd.url}/_mock/calls/wait"
    waits = [Outcome(lambda: requests.post(url, json={"n": 100, "timeout": 30}, timeout=30)) for _ in range(3)]
    until(lambda: ofd.journal.waiting == 3)
    assert timed_stop(ofd) < GENEROUS
    for wait in waits:
        assert isinstance(wait.join().error, requests.ConnectionError)  # dropped, not a 408 or 200
    assert ofd.journal.waiting == 0 and ofd.errors == []


def test_python_wait_for_calls_raises_when_the_mock_stops() -> None:
    ofd = MockOFDServer().start()
    wait = Outcome(lambda: ofd.wait_for_calls(5, timeout=30))
    until(lambda: ofd.journal.waiting == 1)
    ofd.stop()
    assert isinstance(wait.join().error, WaitInterrupted)
    with ofd:  # a restarted mock waits normally again
        requests.post(f"{ofd.url}/ofd/v1/receipt", json={"id": "1"}, timeout=5)
        assert len(ofd.wait_for_calls(1, timeout=5)) == 1


def test_journal_interrupt_releases_only_parked_waits() -> None:
    journal = Journal()
    wait = Outcome(lambda: journal.wait_for(1, timeout=30))
    until(lambda: journal.waiting == 1)
    journal.interrupt()
    assert isinstance(wait.join().error, WaitInterrupted)
    journal.add(path="/x")
    assert len(journal.wait_for(1, timeout=1)) == 1


def test_otlp_wait_is_released_by_stop() -> None:
    collector = MockOTLPCollector(grpc_port=None).start()
    url = f"{collector.url}/_mock/otlp/wait"
    waits = [Outcome(lambda: requests.post(url, json={"n": 5, "timeout": 30}, timeout=30)) for _ in range(3)]
    until(lambda: collector.store.waiting == 3)
    assert timed_stop(collector) < GENEROUS
    for wait in waits:
        assert isinstance(wait.join().error, requests.ConnectionError)
    assert collector.store.waiting == 0 and collector.errors == []


def _entered(mock: Any) -> threading.Event:
    """An event set once the fault plan has decided a call (it is then held in its latency)."""
    entered = threading.Event()
    decide = mock.faults.decide

    def spy(path: str) -> FaultDecision:
        decision = decide(path)
        entered.set()
        return decision

    mock.faults.decide = spy
    return entered


def test_request_held_in_injected_latency_is_dropped_by_stop() -> None:
    ofd = MockOFDServer().start()
    ofd.set_latency(60)
    entered = _entered(ofd)
    held = Outcome(lambda: requests.post(f"{ofd.url}/ofd/v1/receipt", json={"id": "r1"}, timeout=30))
    assert entered.wait(5)
    assert timed_stop(ofd) < GENEROUS
    assert isinstance(held.join().error, requests.ConnectionError)  # not a 200
    assert ofd.get_received_receipts() == []  # the held request never reached the handler
    (record,) = ofd.journal.calls()
    assert record.status is None and record.fault == "stopped"  # still journaled


def test_request_held_in_a_mesh_chaos_hang_is_dropped_by_stop() -> None:
    mesh = MockServiceMesh({"services": {"api": {"calls": ["db:/q"]}, "db": {"endpoints": {"/q": {}}}}}).start()
    try:
        mesh.chaos.hang("api")
        api = mesh.instances["api"][0]
        held = Outcome(lambda: requests.get(mesh.url_of("api") + "/", timeout=30))
        until(lambda: api.describe_state()["inflight"] == 1)
    finally:
        assert timed_stop(mesh) < GENEROUS
    assert isinstance(held.join().error, requests.ConnectionError)


def test_stream_cut_by_stop_looks_incomplete_to_the_client() -> None:
    vllm = MockVLLMServer(itl=30.0).start()
    client = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x", max_retries=0, timeout=30)
    stream = client.completions.create(model="mock-llm", prompt="hello", max_tokens=5, stream=True)
    events = iter(stream)
    first = next(events)  # the first token; the next waits 30 s of inter-token latency
    assert first.choices
    stopper = Outcome(lambda: timed_stop(vllm))
    with pytest.raises((httpx.RemoteProtocolError, openai.APIError)):
        for _ in events:  # no [DONE], and no terminating chunk: the body is incomplete
            pass
    assert stopper.join().result < GENEROUS


def test_teraslice_blocking_stop_is_dropped_by_stop() -> None:
    ts = MockTerasliceServer(seed=3).start()
    ids = ts.add_job({"name": "long"})
    ts.cluster.force_status(ids["ex_id"], "running")
    entered = threading.Event()
    wait = ts._wait_for_stop

    def spy(ex_id: str) -> str:
        entered.set()
        return wait(ex_id)

    ts._wait_for_stop = spy  # type: ignore[method-assign]
    held = Outcome(lambda: requests.post(f"{ts.url}/v1/ex/{ids['ex_id']}/_stop", timeout=30))  # waits 60 s
    assert entered.wait(5)
    assert timed_stop(ts) < GENEROUS
    assert isinstance(held.join().error, requests.ConnectionError)


def test_otlp_grpc_export_held_in_latency_is_not_stored_when_stopped() -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    from mocktools.otlp import samples

    collector = MockOTLPCollector(grpc_port=0).start()
    collector.set_latency(60)
    entered = _entered(collector)
    channel = grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}")
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    held = Outcome(lambda: stub.Export(samples.batch_of_spans(1), timeout=30))
    assert entered.wait(5)
    assert timed_stop(collector) < GENEROUS
    error = held.join().error
    channel.close()
    assert isinstance(error, grpc.RpcError) and error.code() in (grpc.StatusCode.UNAVAILABLE,
                                                                  grpc.StatusCode.CANCELLED)
    assert collector.get_spans() == []  # the client saw a failure: nothing stored to be stored twice
