"""Regression tests for issue 17 item 1 (scheduler slots) and the prompts-per-request bound."""
import pytest
import requests

from mocktools.vllm import Engine, MockVLLMServer
from mocktools.vllm.protocol import ModelConfig

CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def test_vllm_scheduler_slot_leak_itl_1e10_is_rejected_and_nothing_500s():
    with MockVLLMServer(max_num_seqs=1) as m:
        for bad in ({"itl": 1e10}, {"ttft": 1e10}, {"itl": -1}, {"itl": "x"}, {"ttft": True}):
            r = requests.post(m.url + "/_mock/vllm/timing", json=bad, timeout=5)
            assert r.status_code == 400 and "seconds" in r.json()["error"]["message"]
        assert requests.post(m.url + "/v1/chat/completions", json=CHAT, timeout=5).status_code == 200
        assert m.engine.scheduler.counts() == (0, 0)
        m.check()


def test_vllm_scheduler_slot_released_when_the_wait_fails():
    def exploding_wait(seconds: float) -> bool:
        raise OverflowError("timeout value is too large")

    engine = Engine(ModelConfig(["m"], "m"), max_num_seqs=1, wait=exploding_wait)
    with pytest.raises(OverflowError):
        engine.run(engine.prepare("chat", CHAT))
    assert engine.scheduler.counts() == (0, 0) and engine.in_flight == 0
    assert 'finished_reason="abort",model_name="m"} 1.0' in engine.metrics_text()


def test_vllm_reset_frees_leaked_slots():
    with MockVLLMServer(max_num_seqs=1) as m:
        m.engine.scheduler.acquire(1)  # a slot nobody will release
        assert requests.post(m.url + "/_mock/reset", timeout=5).status_code == 200
        r = requests.post(m.url + "/v1/chat/completions", json=CHAT, timeout=5)
        assert r.status_code == 200


def test_vllm_prompts_per_request_are_bounded():
    with MockVLLMServer() as m:
        r = requests.post(m.url + "/v1/completions", json={"prompt": ["a"] * 1025, "max_tokens": 1}, timeout=5)
        assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
        r = requests.post(m.url + "/v1/completions", json={"prompt": ["a"] * 16, "n": 100, "max_tokens": 1})
        assert r.status_code == 400 and "1024 sequences" in r.json()["error"]["message"]
        ok = requests.post(m.url + "/v1/completions", json={"prompt": ["a"] * 8, "max_tokens": 1}, timeout=5)
        assert ok.status_code == 200 and len(ok.json()["choices"]) == 8


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=8)
FIELDS = {
    "/v1/chat/completions": ["messages", "tools", "tool_choice", "parallel_tool_calls", "response_format",
                             "structured_outputs", "stream", "include_reasoning", "max_tokens"],
    "/v1/responses": ["input", "instructions", "tools", "tool_choice", "text", "max_output_tokens", "stream",
                      "previous_response_id", "background", "structured_outputs"],
    "/v1/messages": ["model", "messages", "max_tokens", "system", "tools", "tool_choice", "thinking",
                     "stop_sequences", "stream", "output_config"],
}
GOOD = {"/v1/chat/completions": {"messages": [{"role": "user", "content": "hi"}]},
        "/v1/responses": {"input": "hi"},
        "/v1/messages": {"model": "mock-llm", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}}


@pytest.fixture(scope="module")
def agentic_mock():
    with MockVLLMServer(enable_auto_tool_choice=True, tool_call_parser="hermes", reasoning_parser="qwen3",
                        responses_store=True) as m:
        yield m


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(FIELDS)), st.data())
def test_hostile_agentic_bodies_never_500(agentic_mock, path, data):
    keys = data.draw(st.lists(st.sampled_from(FIELDS[path]), max_size=4, unique=True))
    body = {**GOOD[path], **{k: data.draw(JSON) for k in keys}}
    r = requests.post(agentic_mock.url + path, json=body, timeout=10)
    assert r.status_code < 500, (body, r.text)
    agentic_mock.check()


def test_vllm_replies_as_a_string_is_refused_not_split_into_characters():
    with MockVLLMServer() as m:
        r = requests.post(m.url + "/_mock/vllm/replies", json={"texts": "abc"}, timeout=5)
        assert r.status_code == 400
        with pytest.raises(TypeError):
            m.enqueue_turns("abc")
        assert m.engine.script.describe()["queued"] == 0
