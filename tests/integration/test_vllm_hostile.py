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
