"""The raw wire: SSE bytes, vLLM error shapes, hostile input, utility routes, admin controls, CLI."""
import argparse
import json

import pytest
import requests

from mocktools.vllm import MockVLLMServer
from mocktools.vllm.tokenizer import DEFAULT_TOKENIZER as T

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def server():
    with MockVLLMServer(served_model_name="m", max_model_len=64, max_body_bytes=64 * 1024) as m:
        yield m


@pytest.fixture
def mock(server):
    server.reset()
    yield server
    server.check()


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s


def test_sse_bytes_exactly_as_vllm_streams(mock, http):
    mock.set_reply("the world")
    r = http.post(mock.url + "/v1/chat/completions", json={**CHAT, "stream": True,
                                                           "stream_options": {"include_usage": True}})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    raw = r.content.decode()
    assert raw.endswith("data: [DONE]\n\n") and "event:" not in raw
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") and "\n" not in e for e in events)
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert chunks[0]["choices"][0] == {"index": 0, "delta": {"role": "assistant", "content": ""},
                                       "logprobs": None, "finish_reason": None}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and "stop_reason" in chunks[-2]["choices"][0]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


def test_error_shapes(mock, http):
    r = http.post(mock.url + "/v1/chat/completions", json={**CHAT, "model": "x"})
    assert r.status_code == 404 and r.json() == {"error": {
        "message": "The model `x` does not exist. Valid aliases: m.", "type": "NotFoundError", "param": "model",
        "code": 404}}
    assert http.get(mock.url + "/v1/nothing").json() == {"detail": "Not Found"}
    r = http.get(mock.url + "/v1/chat/completions")
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
    mock.set_failure_count(1, status=503)
    r = http.get(mock.url + "/v1/models")
    assert r.status_code == 503 and r.json()["error"]["type"] == "ServiceUnavailableError"
    mock.set_rate_limit(1, window=60, retry_after=2)
    http.get(mock.url + "/v1/models")
    r = http.get(mock.url + "/v1/models")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2" and r.json()["error"]["code"] == 429


@pytest.mark.parametrize("data,headers", [
    (b"{not json", {"Content-Type": "application/json"}),
    (b"[1, 2]", {"Content-Type": "application/json"}),
    (b'{"model": "m"}', {"Content-Type": "text/plain"}),
    (b"", {"Content-Type": "application/json"}),
    (b"[" * 100_000, {"Content-Type": "application/json"}),
    (b'{"messages": [{"role": 1}]}', {"Content-Type": "application/json"}),
])
def test_hostile_bodies_get_400_and_server_keeps_serving(mock, http, data, headers):
    before = mock.get_call_count()
    r = http.post(mock.url + "/v1/chat/completions", data=data, headers=headers)
    assert r.status_code in (400, 413) and "error" in r.json()
    assert mock.get_call_count() == before + 1
    assert http.get(mock.url + "/v1/models").status_code == 200


@pytest.mark.parametrize("content", ["\x00\ud7ff" * 10, "\udc00 lone surrogate", "<|assistant|></s>" * 5,
                                     "\u202e" * 5])
def test_odd_but_valid_text_is_served(mock, http, content):
    body = json.dumps({**CHAT, "messages": [{"role": "user", "content": content}], "max_tokens": 3})
    r = http.post(mock.url + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 3
    t = http.post(mock.url + "/tokenize", data=json.dumps({"prompt": content}),
                  headers={"Content-Type": "application/json"}).json()
    assert t["count"] >= 1


def test_oversized_body_is_413_in_vllm_shape(mock, http):
    r = http.post(mock.url + "/v1/completions", json={"prompt": "x" * 100_000})
    assert r.status_code == 413 and r.json()["error"]["code"] == 413
    assert http.post(mock.url + "/v1/completions", json={"prompt": "x", "max_tokens": 1}).status_code == 200


def test_tokenize_detokenize_consistent_with_usage(mock, http):
    t = http.post(mock.url + "/tokenize", json={"prompt": "hello world", "return_token_strs": True}).json()
    assert t["tokens"] == T.encode("hello world", add_special_tokens=True) and t["max_model_len"] == 64
    assert t["count"] == 3 and t["token_strs"] == ["<s>", "hello", " world"]
    assert http.post(mock.url + "/detokenize", json={"tokens": t["tokens"]}).json() == {"prompt": "hello world"}
    usage = http.post(mock.url + "/v1/completions", json={"prompt": "hello world", "max_tokens": 1}).json()["usage"]
    assert usage["prompt_tokens"] == t["count"]
    chat = http.post(mock.url + "/tokenize", json={"messages": CHAT["messages"]}).json()
    assert chat["token_strs"] is None
    assert http.post(mock.url + "/v1/chat/completions", json={**CHAT, "max_tokens": 1}).json()[
        "usage"]["prompt_tokens"] == chat["count"]
    for path, body in (("/detokenize", {"tokens": [-1]}), ("/detokenize", {"tokens": "x"}),
                       ("/tokenize", {"prompt": 5}), ("/tokenize", {"prompt": "x", "model": "nope"})):
        assert http.post(mock.url + path, json=body).status_code in (400, 404)


def test_utility_routes(mock, http):
    r = http.get(mock.url + "/health")
    assert r.status_code == 200 and r.content == b""
    assert http.post(mock.url + "/ping").status_code == 200
    assert http.get(mock.url + "/version").json() == {"version": "0.33.0"}
    assert http.get(mock.url + "/load").json() == {"server_load": 0}
    mock.set_healthy(False)
    assert http.get(mock.url + "/health").status_code == 503 and http.get(mock.url + "/ping").status_code == 503
    m = http.get(mock.url + "/metrics")
    assert m.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'vllm:num_requests_running{engine="0",model_name="m"} 0.0' in m.text


def test_metrics_count_what_was_served(mock, http):
    mock.set_reply("the world")
    http.post(mock.url + "/v1/chat/completions", json=CHAT)
    http.post(mock.url + "/v1/completions", json={"prompt": "hi", "max_tokens": 1})
    text = http.get(mock.url + "/metrics").text
    assert 'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 1.0' in text
    assert 'vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 1.0' in text
    assert 'vllm:generation_tokens_total{engine="0",model_name="m"} 4.0' in text
    assert 'vllm:e2e_request_latency_seconds_count{engine="0",model_name="m"} 2.0' in text


def test_invocations_dispatch_by_shape(mock, http):
    assert http.post(mock.url + "/invocations", json=CHAT).json()["object"] == "chat.completion"
    assert http.post(mock.url + "/invocations", json={"prompt": "x", "max_tokens": 1}).json()[
        "object"] == "text_completion"
    assert http.post(mock.url + "/invocations", json={"input": "x"}).json()["object"] == "list"
    assert http.post(mock.url + "/invocations", json={"what": 1}).status_code == 400


def test_admin_controls_over_http(mock, http):
    base = mock.url + "/_mock/vllm"
    assert http.post(base + "/reply", json={"text": "scripted"}).json() == {"ok": True}
    assert http.post(mock.url + "/v1/chat/completions", json=CHAT).json()["choices"][0]["message"][
        "content"] == "scripted"
    http.post(base + "/replies", json={"texts": ["q"]})
    http.post(base + "/reply-table", json={"table": {"hi": "tabled"}})
    http.post(base + "/timing", json={"ttft": 0.0, "itl": 0.0})
    http.post(base + "/max-num-seqs", json={"n": 4})
    out = [http.post(mock.url + "/v1/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"]
           for _ in range(2)]
    assert out == ["q", "tabled"]
    assert http.post(base + "/stream-fault", json={"kind": "no_done", "count": 1}).status_code == 200
    assert not http.post(mock.url + "/v1/completions", json={"prompt": "x", "max_tokens": 1, "stream": True}
                         ).text.endswith("[DONE]\n\n")
    assert http.post(base + "/stream-fault", json={"kind": "bogus"}).status_code == 400
    assert http.post(base + "/stream-fault", json={"nope": 1}).status_code == 400
    http.post(base + "/stream-fault/clear")
    http.post(base + "/release-stalls")
    http.post(base + "/health", json={"healthy": False})
    assert http.get(mock.url + "/health").status_code == 503
    reqs = http.get(base + "/requests").json()["requests"]
    assert reqs[0]["kind"] == "chat" and reqs[0]["messages"] == CHAT["messages"]
    state = http.get(mock.url + "/_mock/state").json()
    assert state["max_num_seqs"] == 4 and state["healthy"] is False


def test_cli_flags_build_the_mock():
    parser = argparse.ArgumentParser()
    MockVLLMServer.cli_arguments(parser)
    args = parser.parse_args(["--served-model-name", "a", "b", "--api-key", "k", "--max-model-len", "128",
                              "--max-num-seqs", "2", "--ttft", "0.1", "--itl", "0.01", "--embedding-dim", "8"])
    m = MockVLLMServer.from_cli(args, host="127.0.0.1", port=0, seed=4)
    assert m.model_config.served_model_names == ["a", "b"] and m.api_keys == ["k"] and m.seed == 4
    assert m.engine.scheduler.max_num_seqs == 2 and m.engine.ttft == 0.1 and m.model_config.embedding_dim == 8
    with pytest.raises(ValueError):
        MockVLLMServer(max_model_len=1)


def test_cli_api_key_from_environment(monkeypatch):
    parser = argparse.ArgumentParser()
    MockVLLMServer.cli_arguments(parser)
    monkeypatch.setenv("VLLM_API_KEY", "envkey")
    assert MockVLLMServer.from_cli(parser.parse_args([]), port=0).api_keys == ["envkey"]
    assert MockVLLMServer.from_cli(parser.parse_args(["--api-key", "x"]), port=0).api_keys == ["x"]


def test_api_key_header_variants():
    with MockVLLMServer(api_key="secret") as m, requests.Session() as s:
        assert s.get(m.url + "/v1/models").json() == {"error": "Unauthorized"}
        assert s.get(m.url + "/v1/models", headers={"Authorization": "bearer secret"}).status_code == 200
        assert s.get(m.url + "/v1/models", headers={"Authorization": "Basic secret"}).status_code == 401
        assert s.post(m.url + "/tokenize", json={"prompt": "x"}).status_code == 200
        assert s.post(m.url + "/invocations", json={"input": "x"}).status_code == 200
        assert m.get_call_count("/v1/models") == 3


def test_pytest_fixture_gives_a_fresh_mock(mock_vllm):
    mock_vllm.set_timing(ttft=0.0)
    r = requests.post(mock_vllm.url + "/v1/completions", json={"prompt": "x", "max_tokens": 2}, timeout=5)
    assert r.status_code == 200 and mock_vllm.get_call_count("/v1/completions") == 1
    assert mock_vllm.port != 8000 and mock_vllm.received_requests[0]["prompt"] == "x"
