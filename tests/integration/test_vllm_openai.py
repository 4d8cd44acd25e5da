"""MockVLLMServer against the official openai client, unmodified, over a real socket."""
import time

import openai
import pytest

from mocktools import FakeClock
from mocktools.vllm import MockVLLMServer
from mocktools.vllm.tokenizer import DEFAULT_TOKENIZER as T

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
MSGS = [{"role": "user", "content": "Say hi"}]


@pytest.fixture(scope="module")
def server():
    with MockVLLMServer(served_model_name=[MODEL, "llama"], model="/models/llama", seed=3) as m:
        yield m


@pytest.fixture
def mock(server):
    server.reset()
    yield server
    server.check()
    server.reset()


@pytest.fixture
def client(mock):
    return openai.OpenAI(base_url=mock.url + "/v1", api_key="EMPTY", max_retries=0, timeout=10)


def test_models_list(client):
    models = client.models.list().data
    assert [m.id for m in models] == [MODEL, "llama"]
    assert models[0].owned_by == "vllm" and models[0].root == "/models/llama" and models[0].max_model_len == 4096


def test_chat_completion_scripted_and_usage(client, mock):
    mock.set_reply("Hello there")
    r = client.chat.completions.create(model="llama", messages=MSGS, max_tokens=20, seed=7, temperature=0.5)
    assert r.model == MODEL and r.choices[0].message.content == "Hello there"
    assert r.choices[0].finish_reason == "stop" and r.id.startswith("chatcmpl-")
    prompt = client.post("/../tokenize", body={"model": MODEL, "messages": MSGS}, cast_to=object)
    assert r.usage.prompt_tokens == prompt["count"]
    assert r.usage.completion_tokens == len(T.encode("Hello there")) + 1
    [req] = mock.received_requests
    assert req["messages"] == MSGS and req["params"]["seed"] == 7 and req["params"]["max_tokens"] == 20
    assert mock.journal.calls("/v1/chat/completions")[-1].json["model"] == "llama"


def test_default_replies_are_deterministic_and_honour_seed_n_stop(client):
    a = client.chat.completions.create(model=MODEL, messages=MSGS, seed=1, n=2)
    b = client.chat.completions.create(model=MODEL, messages=MSGS, seed=1, n=2)
    c = client.chat.completions.create(model=MODEL, messages=MSGS, seed=2)
    assert [x.message.content for x in a.choices] == [x.message.content for x in b.choices]
    assert a.choices[0].message.content != a.choices[1].message.content != c.choices[0].message.content
    short = client.chat.completions.create(model=MODEL, messages=MSGS, seed=1, max_tokens=2)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 2
    word = a.choices[0].message.content.split()[2]
    stopped = client.chat.completions.create(model=MODEL, messages=MSGS, seed=1, n=2, stop=[word])
    assert stopped.choices[0].finish_reason == "stop" and word not in stopped.choices[0].message.content


def test_completion_and_logprobs(client, mock):
    mock.set_reply_table({"2+2=": " 4"})
    r = client.completions.create(model=MODEL, prompt="2+2=", max_tokens=5, logprobs=2)
    assert r.choices[0].text == " 4" and r.choices[0].finish_reason == "stop"
    assert r.choices[0].logprobs.tokens[0] == " " and len(r.choices[0].logprobs.top_logprobs[0]) == 2
    assert r.usage.prompt_tokens == len(T.encode("2+2=", add_special_tokens=True))
    chat = client.chat.completions.create(model=MODEL, messages=MSGS, logprobs=True, top_logprobs=3, max_tokens=3)
    assert len(chat.choices[0].logprobs.content) == 3 and len(chat.choices[0].logprobs.content[0].top_logprobs) == 3


def test_chat_stream_with_usage(client, mock):
    mock.enqueue_replies(["one two three"])
    stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(T.encode(text)) + 1
    raw = mock.calls[-1]
    assert raw.json["stream"] is True and raw.status == 200


def test_completion_stream(client):
    pieces = [c.choices[0].text for c in client.completions.create(model=MODEL, prompt="x", max_tokens=4,
                                                                   stream=True)]
    assert len(pieces) == 4


def test_embeddings_base64_default_and_float(client, mock):
    e = client.embeddings.create(model=MODEL, input=["hello", "world"])
    assert mock.calls[-1].json["encoding_format"] == "base64"
    f = client.embeddings.create(model=MODEL, input=["hello", "world"], encoding_format="float")
    assert e.data[0].embedding == f.data[0].embedding and len(f.data[0].embedding) == 384
    assert e.data[0].embedding != e.data[1].embedding and e.usage.prompt_tokens == 4


def test_error_classes(client, mock):
    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert nf.value.body["type"] == "NotFoundError" and nf.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as br:
        client.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=100_000)
    assert "maximum context length" in br.value.message and br.value.body["code"] == 400
    mock.set_failure_count(1, status=429, retry_after=0)
    with pytest.raises(openai.RateLimitError):
        client.models.list()
    mock.set_failure_count(1, status=503)
    with pytest.raises(openai.InternalServerError) as se:
        client.models.list()
    assert se.value.status_code == 503 and se.value.body["type"] == "ServiceUnavailableError"
    assert client.models.list().data


def test_api_key_guards_only_v1_routes():
    with MockVLLMServer(api_key=["k1", "k2"]) as m:
        with pytest.raises(openai.AuthenticationError) as au:
            openai.OpenAI(base_url=m.url + "/v1", api_key="wrong", max_retries=0).models.list()
        assert au.value.body == "Unauthorized" or au.value.response.json() == {"error": "Unauthorized"}
        assert openai.OpenAI(base_url=m.url + "/v1", api_key="k2", max_retries=0).models.list().data
        import urllib.request
        for path in ("/health", "/version", "/metrics"):
            assert urllib.request.urlopen(m.url + path, timeout=5).status == 200
        m.check()


def test_retries_against_failure_count(client, mock):
    retrying = client.with_options(max_retries=2)
    mock.set_failure_count(2, status=503, retry_after=0.01)
    assert retrying.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=2).choices
    assert mock.get_call_count("/v1/chat/completions") == 3
    assert [c.headers.get("X-Stainless-Retry-Count") for c in mock.calls] == ["0", "1", "2"]
    mock.set_failure_count(3, status=500, retry_after=0.01)
    with pytest.raises(openai.InternalServerError):
        retrying.models.list()
    assert mock.get_call_count("/v1/models") == 3


def test_timeout_against_a_stall(client, mock):
    mock.set_stream_fault("stall", after_chunks=2)
    got = []
    stream = client.with_options(timeout=0.5).chat.completions.create(model=MODEL, messages=MSGS, stream=True)
    with pytest.raises(openai.APITimeoutError):
        for chunk in stream:
            got.append(chunk)
    assert len(got) == 2
    stream.close()  # the client hangs up: the stalled stream ends as an abort and frees its slot
    deadline = time.monotonic() + 5
    while mock.engine.scheduler.counts() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mock.engine.scheduler.counts() == (0, 0)
    assert f'finished_reason="abort",model_name="{MODEL}"}} 1.0' in mock.metrics_text()
    mock.set_latency(5.0)  # a non-streaming stall: the shared latency fault
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).chat.completions.create(model=MODEL, messages=MSGS)


@pytest.mark.timeout(20)
def test_stop_is_fast_while_streams_stall_and_requests_wait():
    import threading
    import time

    m = MockVLLMServer(max_num_seqs=1).start()
    m.set_stream_fault("stall", after_chunks=1)
    c = openai.OpenAI(base_url=m.url + "/v1", api_key="x", max_retries=0, timeout=30)
    errors = []

    def consume():
        try:
            list(c.chat.completions.create(model="mock-llm", messages=MSGS, stream=True))
        except Exception as exc:  # the connection closes when the mock stops
            errors.append(exc)

    threads = [threading.Thread(target=consume) for _ in range(2)]
    for t in threads:
        t.start()
    while m.engine.scheduler.counts() != (1, 1):
        time.sleep(0.01)
    metrics = c.get("/../metrics", cast_to=openai._legacy_response.HttpxBinaryResponseContent).text
    assert 'vllm:num_requests_running{engine="0",model_name="mock-llm"} 1.0' in metrics
    assert 'vllm:num_requests_waiting{engine="0",model_name="mock-llm"} 1.0' in metrics
    m.stop()  # ends the stalled stream and the queued request (the stall itself never ends)
    for t in threads:
        t.join(5)
        assert not t.is_alive()


def test_mid_stream_error_event_raises_api_error(client, mock):
    mock.set_stream_fault("error", after_chunks=2, count=1, message="engine fell over")
    got = []
    with pytest.raises(openai.APIError, match="engine fell over"):
        for chunk in client.chat.completions.create(model=MODEL, messages=MSGS, stream=True):
            got.append(chunk)
    assert len(got) == 2
    assert list(client.chat.completions.create(model=MODEL, messages=MSGS, stream=True, max_tokens=2))


def test_truncated_stream_and_missing_done(client, mock):
    mock.set_stream_fault("truncate", after_chunks=3, count=1)
    got = []
    with pytest.raises(Exception) as info:
        for chunk in client.chat.completions.create(model=MODEL, messages=MSGS, stream=True):
            got.append(chunk)
    assert len(got) == 3 and isinstance(info.value, openai.APIConnectionError)
    assert "incomplete" in str(info.value.__cause__).lower()
    mock.set_stream_fault("no_done", count=1)
    mock.set_reply("fine")
    chunks = list(client.chat.completions.create(model=MODEL, messages=MSGS, stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert mock.errors == []


def test_client_sees_time_to_first_token_and_inter_token_latency():
    # On the mock clock: the stream's pauses are exact and nothing depends on thread scheduling
    # (on the real clock, client-side arrival gaps raced the server's sleeps: 0.0595 < 0.06).
    clock = FakeClock()
    with MockVLLMServer(served_model_name=[MODEL], clock=clock, ttft=0.15, itl=0.03) as m:
        m.set_reply("the world hello")  # 3 tokens + EOS
        client = openai.OpenAI(base_url=m.url + "/v1", api_key="EMPTY", max_retries=0, timeout=10)
        started = clock.monotonic()
        pieces = [chunk.choices[0].delta.content
                  for chunk in client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
                  if chunk.choices and chunk.choices[0].delta.content]
        assert "".join(pieces) == "the world hello" and len(pieces) == 3
        assert clock.monotonic() - started == pytest.approx(0.15 + 3 * 0.03)  # TTFT, then 3 gaps
        text = m.metrics_text()
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="%s"} 0.0' % MODEL in text
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.25",model_name="%s"} 1.0' % MODEL in text
    assert 'vllm:inter_token_latency_seconds_bucket{engine="0",le="0.025",model_name="%s"} 0.0' % MODEL in text
    assert 'vllm:inter_token_latency_seconds_bucket{engine="0",le="0.05",model_name="%s"} 3.0' % MODEL in text
    assert 'vllm:inter_token_latency_seconds_count{engine="0",model_name="%s"} 3.0' % MODEL in text
