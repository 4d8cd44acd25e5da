"""Paced vLLM streams over a real socket on the asyncio engine: they wait as `Pause` timers, so
50 concurrent streams with a real inter-token latency hold no thread each (issue 15)."""
from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable

import openai
import pytest

from mocktools.http_engines import ENGINE_ENV
from mocktools.vllm.mock import MockVLLMServer

pytestmark = pytest.mark.timeout(30)

WORDS = "red green blue river mountain sky cloud rain sun moon star tree stone water fire earth".split()
EVENT = re.compile(rb"data: (.*?)\n\n")


async def _stream(port: int, body: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    data = await reader.read()  # the server closes after the response
    writer.close()
    return data


def _fleet_with_peak_threads(port: int, body: bytes, count: int) -> tuple[list[bytes], int]:
    """`count` concurrent requests; their answers and the most threads alive meanwhile."""
    peak = [0]

    async def fleet() -> list[bytes]:
        async def watch() -> None:
            while True:
                peak[0] = max(peak[0], threading.active_count())
                await asyncio.sleep(0.005)
        watcher = asyncio.ensure_future(watch())
        try:
            return await asyncio.gather(*(_stream(port, body) for _ in range(count)))
        finally:
            watcher.cancel()

    return asyncio.run(fleet()), peak[0]


def test_fifty_paced_streams_hold_no_thread_each_and_deliver_every_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, "asyncio")
    before = threading.active_count()
    streams = 50
    with MockVLLMServer(ttft=0.01, itl=0.01) as mock:
        mock.set_reply(" ".join(WORDS))  # 16 tokens: ~0.16 s per stream, all of it waiting
        body = json.dumps({"model": "mock-llm", "prompt": "hi", "stream": True, "max_tokens": 32}).encode()
        answers, peak = _fleet_with_peak_threads(mock.port, body, streams)
        metrics = mock.metrics_text()
    # sleeping streams would each hold a worker thread for their whole life (50 of them)
    assert peak - before < streams // 2
    for raw in answers:
        assert raw.startswith(b"HTTP/1.1 200") and raw.endswith(b"0\r\n\r\n")
        events = EVENT.findall(raw)
        assert events[-1] == b"[DONE]"
        texts = [json.loads(e)["choices"][0]["text"] for e in events[:-1]]
        assert "".join(texts) == " ".join(WORDS)  # every token, in order
    assert f'vllm:request_success_total{{engine="0",finished_reason="stop",model_name="mock-llm"}} {streams}.0' \
        in metrics
    assert 'vllm:num_requests_running{engine="0",model_name="mock-llm"} 0.0' in metrics  # slots released


@pytest.mark.parametrize("engine", ["asyncio", "werkzeug"])
def test_a_paced_stream_through_the_openai_client(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, engine)
    with MockVLLMServer(ttft=0.005, itl=0.002) as mock:
        mock.set_reply(" ".join(WORDS))
        client = openai.OpenAI(base_url=mock.url + "/v1", api_key="x", max_retries=0)
        chunks = list(client.chat.completions.create(model="mock-llm", messages=[{"role": "user", "content": "hi"}],
                                                     stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == " ".join(WORDS)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(WORDS) + 1  # + EOS


def _wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _open_stream(port: int) -> socket.socket:
    body = json.dumps({"model": "mock-llm", "prompt": "hi", "stream": True, "max_tokens": 8}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    data = b""
    while b"data: {" not in data:  # the first token is out; the stream now waits 30 s for the next
        data += sock.recv(4096)
    return sock


def test_a_paused_stream_frees_its_slot_when_the_client_goes_or_the_mock_stops(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, "asyncio")
    mock = MockVLLMServer(itl=30.0).start()
    try:
        gone = _open_stream(mock.port)
        held = _open_stream(mock.port)
        assert mock.engine.scheduler.counts() == (2, 0)
        gone.close()  # the client hangs up mid-pause: the engine closes the body, its finally frees the slot
        assert _wait_for(lambda: mock.engine.scheduler.counts() == (1, 0))
        mock.stop()  # stop() closes the paused body at once
        assert mock.engine.scheduler.counts() == (0, 0) and mock.engine.in_flight == 0
        assert 'finished_reason="abort",model_name="mock-llm"} 2.0' in mock.metrics_text()
        held.close()
    finally:
        mock.stop()


# -- non-streaming paced answers: pauses before a buffered body, no sleeping thread ------------------
def _answers(mock: MockVLLMServer) -> tuple[dict, dict]:
    client = openai.OpenAI(base_url=mock.url + "/v1", api_key="x", max_retries=0)
    chat = client.chat.completions.create(model="mock-llm", messages=[{"role": "user", "content": "hi"}],
                                          extra_headers={"X-Request-Id": "same"})
    resp = client.responses.create(model="mock-llm", input="hi", store=False)
    # (a response's and its items' ids are random: compare what it says)
    return chat.model_dump(exclude={"created"}), {"text": resp.output_text, "status": resp.status,
                                                  "usage": resp.usage.model_dump() if resp.usage else None}


@pytest.mark.parametrize("engine", ["asyncio", "werkzeug"])
def test_a_paced_non_stream_answer_equals_the_unpaced_one(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, engine)
    with MockVLLMServer(seed=3) as mock:
        mock.set_reply(" ".join(WORDS))
        unpaced = _answers(mock)
        mock.set_timing(ttft=0.005, itl=0.002)
        paced = _answers(mock)
        metrics = mock.metrics_text()
    assert paced == unpaced
    assert paced[0]["choices"][0]["message"]["content"] == " ".join(WORDS)
    assert 'vllm:request_success_total{engine="0",finished_reason="stop",model_name="mock-llm"} 4.0' in metrics
    assert 'vllm:num_requests_running{engine="0",model_name="mock-llm"} 0.0' in metrics


def test_thirty_paced_non_stream_answers_hold_no_thread_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, "asyncio")
    before = threading.active_count()
    requests = 30
    with MockVLLMServer(ttft=0.01, itl=0.01) as mock:
        mock.set_reply(" ".join(WORDS))  # 16 tokens: ~0.16 s per answer, all of it waiting
        body = json.dumps({"model": "mock-llm", "prompt": "hi", "max_tokens": 32}).encode()
        answers, peak = _fleet_with_peak_threads(mock.port, body, requests)
        metrics = mock.metrics_text()
    # answers that slept would each hold a worker thread while they wait (30 of them)
    assert peak - before < requests // 2
    for raw in answers:
        head, _, payload = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: %d" % len(payload) in head
        assert json.loads(payload)["choices"][0]["text"] == " ".join(WORDS)
    assert f'vllm:request_success_total{{engine="0",finished_reason="stop",model_name="mock-llm"}} {requests}.0' \
        in metrics
    assert f'vllm:time_to_first_token_seconds_count{{engine="0",model_name="mock-llm"}} {requests}.0' in metrics
    assert f'vllm:inter_token_latency_seconds_count{{engine="0",model_name="mock-llm"}} {requests * 16}.0' \
        in metrics
    assert 'vllm:num_requests_running{engine="0",model_name="mock-llm"} 0.0' in metrics  # slots released
