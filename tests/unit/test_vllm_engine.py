"""The socket-free engine: validation, responses, SSE streams, stream faults, timing and metrics."""
import json
import threading

import pytest

from mocktools.clock import FakeClock
from mocktools.errors import ApiError
from mocktools.vllm.embeddings import decode_base64
from mocktools.vllm.engine import TRUNCATE, Engine
from mocktools.vllm.protocol import ModelConfig
from mocktools.vllm.tokenizer import DEFAULT_TOKENIZER as T

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def engine(clock):
    return Engine(ModelConfig(["m", "alias"], "org/m", max_model_len=256, embedding_dim=16), clock=clock)


def events(stream):
    out = []
    for item in stream:
        if item is TRUNCATE:
            out.append("TRUNCATE")
        elif item:
            text = item.decode()
            assert text.startswith("data: ") and text.endswith("\n\n")
            data = text[6:-2]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_chat_response_shape_and_usage_matches_tokenizer(engine):
    engine.script.set_reply("the answer")
    body = engine.run(engine.prepare("chat", {**CHAT, "model": "alias"}))
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-") and body["model"] == "m"
    choice = body["choices"][0]
    assert choice["message"]["content"] == "the answer" and choice["finish_reason"] == "stop"
    prompt = T.encode(T.apply_chat_template(CHAT["messages"]))
    assert body["usage"] == {"prompt_tokens": len(prompt), "completion_tokens": len(T.encode("the answer")) + 1,
                             "total_tokens": len(prompt) + len(T.encode("the answer")) + 1,
                             "prompt_tokens_details": None, "completion_tokens_details": None}


def test_completion_with_list_prompt_n_and_echo(engine):
    body = engine.run(engine.prepare("completion", {"prompt": ["a", "b"], "n": 2, "max_tokens": 4, "echo": True}))
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert body["choices"][0]["text"].startswith("a") and body["choices"][2]["text"].startswith("b")
    assert body["usage"]["prompt_tokens"] == 4  # BOS + one byte token, twice
    assert body["usage"]["completion_tokens"] == sum(1 for _ in body["choices"]) * 4


def test_completion_token_id_prompt_and_logprobs(engine):
    ids = T.encode("hello world", add_special_tokens=True)
    body = engine.run(engine.prepare("completion", {"prompt": ids, "max_tokens": 3, "logprobs": 2}))
    lp = body["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == 3 and len(lp["token_logprobs"]) == 3 and lp["text_offset"][0] == 0
    assert all(len(t) == 2 for t in lp["top_logprobs"])
    assert engine.prepare("completion", {"prompt": ids}).meta["prompt"] == "hello world"


def test_chat_logprobs(engine):
    body = engine.run(engine.prepare("chat", {**CHAT, "logprobs": True, "top_logprobs": 2, "max_tokens": 2}))
    content = body["choices"][0]["logprobs"]["content"]
    assert len(content) == 2 and len(content[0]["top_logprobs"]) == 2 and isinstance(content[0]["bytes"], list)


@pytest.mark.parametrize("kind,body,param", [
    ("chat", {"messages": []}, "messages"),
    ("chat", {"messages": ["x"]}, "messages"),
    ("chat", {"messages": [{"role": "user", "content": 5}]}, "messages"),
    ("chat", {**CHAT, "max_tokens": 0}, "max_tokens"),
    ("chat", {**CHAT, "max_tokens": "ten"}, "max_tokens"),
    ("chat", {**CHAT, "max_tokens": 10_000}, "max_tokens"),
    ("chat", {**CHAT, "n": 0}, "n"),
    ("chat", {**CHAT, "temperature": -1}, "temperature"),
    ("chat", {**CHAT, "temperature": "hot"}, "temperature"),
    ("chat", {**CHAT, "top_p": 2}, "top_p"),
    ("chat", {**CHAT, "stop": 5}, "stop"),
    ("chat", {**CHAT, "stream": "yes"}, "stream"),
    ("chat", {**CHAT, "stream_options": {"include_usage": True}}, "stream_options"),
    ("chat", {**CHAT, "stream": True, "stream_options": 3}, "stream_options"),
    ("chat", {**CHAT, "top_logprobs": 3}, "top_logprobs"),
    ("chat", {**CHAT, "logprobs": True, "top_logprobs": 50}, "top_logprobs"),
    ("chat", {**CHAT, "stop_token_ids": [-1]}, "stop_token_ids"),
    ("completion", {"prompt": 5}, "prompt"),
    ("completion", {"prompt": [10 ** 9]}, "prompt"),
    ("completion", {"prompt": "x", "suffix": "y"}, "suffix"),
    ("completion", {"prompt": "x" * 300}, "input_tokens"),
])
def test_invalid_parameters_are_400_with_param(engine, kind, body, param):
    with pytest.raises(ApiError) as info:
        engine.prepare(kind, body)
    assert info.value.status == 400 and info.value.extra["param"] == param


def test_unknown_model_is_404_naming_aliases(engine):
    with pytest.raises(ApiError) as info:
        engine.prepare("chat", {**CHAT, "model": "gpt-4"})
    assert info.value.status == 404 and info.value.type == "NotFoundError"
    assert "Valid aliases: m, alias" in info.value.message


def test_chat_stream_shape_with_usage(engine):
    engine.script.set_reply("hello world")
    job = engine.prepare("chat", {**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    evs = events(engine.stream(job))
    assert evs[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert evs[-1] == "[DONE]"
    usage_chunk = evs[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] == 3
    content = evs[1:-2]
    assert "".join(c["choices"][0]["delta"]["content"] for c in content) == "hello world"
    assert [c["choices"][0]["finish_reason"] for c in content] == [None, None, "stop"]
    assert "usage" not in content[0] and len({c["id"] for c in evs[:-1]}) == 1


def test_completion_stream_continuous_usage_and_logprobs(engine):
    job = engine.prepare("completion", {"prompt": "x", "max_tokens": 3, "stream": True, "logprobs": 1,
                                        "stream_options": {"include_usage": True, "continuous_usage_stats": True}})
    evs = events(engine.stream(job))
    chunks = evs[:-2]
    assert [c["usage"]["completion_tokens"] for c in chunks] == [1, 2, 3]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length" and chunks[0]["object"] == "text_completion"
    assert all(len(c["choices"][0]["logprobs"]["tokens"]) == 1 for c in chunks)


def test_stream_n2_interleaves_choices(engine):
    engine.script.set_reply("the world")
    evs = events(engine.stream(engine.prepare("chat", {**CHAT, "n": 2, "stream": True})))
    assert [e["choices"][0]["index"] for e in evs[:-1]] == [0, 1, 0, 1, 0, 1, 0, 1]


def test_timing_on_fake_clock_feeds_metrics(engine, clock):
    engine.set_timing(ttft=0.5, itl=0.1)
    engine.script.set_reply("the world hello")
    start = clock.monotonic()
    engine.run(engine.prepare("chat", CHAT))
    assert clock.monotonic() - start == pytest.approx(0.5 + 0.1 * 3)
    events(engine.stream(engine.prepare("chat", {**CHAT, "stream": True})))
    text = engine.metrics_text()
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",model_name="m"} 2.0' in text
    assert 'vllm:inter_token_latency_seconds_count{engine="0",model_name="m"} 6.0' in text
    assert 'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 2.0' in text
    assert 'vllm:generation_tokens_total{engine="0",model_name="m"} 8.0' in text
    with pytest.raises(ValueError):
        engine.set_timing(ttft=-1)


def test_stream_fault_error_event_after_k_chunks(engine):
    engine.set_stream_fault("error", after_chunks=2, count=1, message="boom", status=503)
    evs = events(engine.stream(engine.prepare("chat", {**CHAT, "stream": True})))
    assert len(evs) == 4 and evs[2] == {"error": {"message": "boom", "type": "ServiceUnavailableError",
                                                  "param": None, "code": 503}} and evs[3] == "[DONE]"
    assert "error" not in events(engine.stream(engine.prepare("chat", {**CHAT, "stream": True})))[2]
    assert 'finished_reason="error",model_name="m"} 1.0' in engine.metrics_text()


def test_stream_fault_truncate_no_done_and_late_fault(engine):
    engine.script.set_reply("a b")
    engine.set_stream_fault("truncate", after_chunks=1, count=1)
    assert events(engine.stream(engine.prepare("chat", {**CHAT, "stream": True})))[1:] == ["TRUNCATE"]
    engine.set_stream_fault("no_done", count=1)
    evs = events(engine.stream(engine.prepare("chat", {**CHAT, "stream": True})))
    assert evs[-1] != "[DONE]" and evs[-1]["choices"][0]["finish_reason"] == "stop"
    engine.set_stream_fault("error", after_chunks=99, count=1)
    evs = events(engine.stream(engine.prepare("chat", {**CHAT, "stream": True})))
    assert evs[-3]["choices"][0]["finish_reason"] == "stop" and "error" in evs[-2]
    with pytest.raises(ValueError):
        engine.set_stream_fault("explode")
    with pytest.raises(ValueError):
        engine.set_stream_fault("stall", after_chunks=-1)


@pytest.mark.timeout(10)
def test_stall_holds_until_released_or_stopped_and_occupies_a_slot(engine):
    engine.scheduler.set_max_num_seqs(1)
    engine.set_stream_fault("stall", after_chunks=1, count=1)
    stalled = engine.stream(engine.prepare("chat", {**CHAT, "stream": True}))
    got = []
    t = threading.Thread(target=lambda: got.extend(events(stalled)))
    t.start()
    waiter = threading.Thread(target=lambda: got.append(engine.run(engine.prepare("chat", CHAT))))
    pause = threading.Event()
    while engine.scheduler.counts() != (1, 0):
        pause.wait(0.01)
    waiter.start()
    while engine.scheduler.counts() != (1, 1):
        pause.wait(0.01)
    assert 'vllm:num_requests_waiting{engine="0",model_name="m"} 1.0' in engine.metrics_text()
    assert engine.describe()["running"] == 1
    engine.release_stalls()
    t.join(5)
    waiter.join(5)
    assert got[-1]["object"] == "chat.completion" and "[DONE]" in got
    engine.set_stream_fault("stall", after_chunks=0, count=1)
    s = engine.stream(engine.prepare("chat", {**CHAT, "stream": True}))
    th = threading.Thread(target=lambda: events(s))
    th.start()
    engine.stop_event.set()
    th.join(5)
    assert not th.is_alive()
    with pytest.raises(ApiError):  # a stopped engine refuses to admit
        engine.scheduler.set_max_num_seqs(1)
        engine.scheduler.acquire(1)
        engine.run(engine.prepare("chat", CHAT))


def test_stall_with_duration_resumes(engine):
    engine.set_stream_fault("stall", after_chunks=1, count=1, stall_seconds=0.05)
    assert events(engine.stream(engine.prepare("chat", {**CHAT, "stream": True})))[-1] == "[DONE]"


def test_client_disconnect_counts_as_abort(engine):
    s = engine.stream(engine.prepare("chat", {**CHAT, "stream": True}))
    next(s), next(s)
    s.close()
    assert 'finished_reason="abort",model_name="m"} 1.0' in engine.metrics_text() and engine.scheduler.counts() == (0, 0)


def test_embeddings_deterministic_float_and_base64(engine):
    a = engine.embeddings({"model": "m", "input": ["hello", "other"]})
    b = engine.embeddings({"input": "hello", "encoding_format": "base64"})
    ids = engine.embeddings({"input": T.encode("hello", add_special_tokens=True)})
    vec = a["data"][0]["embedding"]
    assert len(vec) == 16 and abs(sum(v * v for v in vec) - 1) < 1e-5
    assert decode_base64(b["data"][0]["embedding"]) == vec == ids["data"][0]["embedding"]
    assert a["data"][1]["embedding"] != vec and a["usage"]["prompt_tokens"] == 4
    small = engine.embeddings({"input": "hello", "dimensions": 4})["data"][0]["embedding"]
    assert len(small) == 4 and abs(sum(v * v for v in small) - 1) < 1e-5
    for bad in ({"input": []}, {"input": 3}, {"input": [None]}, {"input": "x", "encoding_format": "hex"},
                {"input": "x", "dimensions": 99}):
        with pytest.raises(ApiError):
            engine.embeddings(bad)


def test_reset_and_describe(engine):
    engine.script.set_reply("x")
    engine.set_stream_fault("stall")
    engine.healthy = False
    engine.run(engine.prepare("chat", CHAT))
    d = engine.describe()
    assert d["replies"]["fixed"] == "x" and d["stream_faults"][0]["kind"] == "stall" and not d["healthy"]
    assert d["metrics"]["vllm:prompt_tokens_total"] > 0
    engine.reset()
    d = engine.describe()
    assert d["replies"]["fixed"] is None and d["stream_faults"] == [] and d["healthy"]
    assert d["metrics"]["vllm:prompt_tokens_total"] == 0


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_scalars = st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_fields = st.fixed_dictionaries({}, optional={
    k: _json for k in ("model", "messages", "prompt", "max_tokens", "n", "stop", "stream", "stream_options", "seed",
                       "logprobs", "top_logprobs", "temperature", "input", "encoding_format", "dimensions", "echo")})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_fields, kind=st.sampled_from(["chat", "completion", "embeddings"]))
def test_arbitrary_bodies_answer_or_raise_api_error_only(engine, body, kind):
    try:
        if kind == "embeddings":
            engine.embeddings(body)
        else:
            job = engine.prepare(kind, body)
            if job.stream:
                events(engine.stream(job))
            else:
                json.dumps(engine.run(job))
    except ApiError as exc:
        assert 400 <= exc.status < 500
