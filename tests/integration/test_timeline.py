"""One clock for a registry, and a timeline of controls across three mocks on it."""
from __future__ import annotations

import openai
import pytest
import requests

from mocktools import (
    FakeClock,
    MockHTTPServer,
    MockOFDServer,
    MockRegistry,
    MockVLLMServer,
)


def build(seed: int = 7) -> MockRegistry:
    registry = MockRegistry(clock=FakeClock(), seed=seed)
    registry.add("ofd", MockOFDServer)
    registry.add("vllm", MockVLLMServer, ttft=0.2)
    registry.add("payments", MockHTTPServer)
    return registry


def ttft_seen(vllm_url: str, clock: FakeClock) -> float:
    """How far the shared clock moved while the vLLM mock answered one completion."""
    client = openai.OpenAI(base_url=f"{vllm_url}/v1", api_key="k", max_retries=0, timeout=10)
    before = clock.monotonic()
    client.chat.completions.create(model="mock-llm", messages=[{"role": "user", "content": "x"}], max_tokens=1)
    return round(clock.monotonic() - before, 6)


def test_a_timeline_across_three_mocks_on_one_clock() -> None:
    with build() as registry:
        clock = registry.clock
        assert isinstance(clock, FakeClock)
        assert all(mock.clock is clock for _, mock in registry.items())
        payments = registry["payments"]
        assert isinstance(payments, MockHTTPServer)
        payments.expect_request("/pay", method="POST").in_scenario("checkout", "Started").respond_with_json({"ok": 1})
        payments.expect_request("/pay", method="POST").in_scenario("checkout", "closed").respond_with_data("", 410)
        timeline = registry.timeline()
        timeline.at(5.0, "ofd", "set_failure_count", 3)
        timeline.at(8.0, "vllm", "set_timing", ttft=0.4)
        timeline.at(10.0, "payments", lambda mock: mock.scenarios.set("checkout", "closed"))
        receipt = f"{registry['ofd'].url}/ofd/v1/receipt"
        pay = f"{payments.url}/pay"

        assert timeline.advance(4.0) == [] and requests.post(receipt, json={"document_id": "a"}, timeout=5).status_code == 200
        assert ttft_seen(registry["vllm"].url, clock) == 0.2
        fired = timeline.run_until(5.0)
        assert [e.label for e in fired] == ["ofd.set_failure_count(3)"]
        assert [requests.post(receipt, json={"document_id": "b"}, timeout=5).status_code for _ in range(4)] == [503] * 3 + [200]
        timeline.run_until(8.0)
        assert ttft_seen(registry["vllm"].url, clock) == 0.4
        assert requests.post(pay, timeout=5).status_code == 200
        timeline.run_until(12.0)
        assert requests.post(pay, timeout=5).status_code == 410
        assert timeline.now == pytest.approx(12.0) and timeline.pending() == []
        assert [round(e.at, 3) for e in timeline.fired] == [5.0, 8.0, 10.0]


def test_one_seed_reproduces_the_schedule_and_every_mock_seed() -> None:
    def schedule(seed: int) -> tuple[list, dict]:
        registry = build(seed)
        timeline = registry.timeline()
        timeline.every(2.0, "ofd", "set_failure_count", 1, start=1.0, until=9.0, jitter=0.5)
        timeline.at(3.0, "vllm", "set_timing", ttft=0.1, jitter=1.0)
        return timeline.schedule(), {name: mock.seed for name, mock in registry.items()}

    assert schedule(7) == schedule(7)
    assert schedule(7)[0] != schedule(8)[0] and schedule(7)[1] != schedule(8)[1]
    times = [t for t, _ in schedule(7)[0]]
    assert times == sorted(times) and len(times) == 6


def test_timeline_validation_and_instance_clocks() -> None:
    clock = FakeClock()
    registry = MockRegistry(clock=clock)
    registry.add("ofd", MockOFDServer(clock=clock))
    with pytest.raises(ValueError, match="own clock"):
        registry.add("other", MockOFDServer())
    timeline = registry.timeline()
    with pytest.raises(KeyError):
        timeline.at(1, "nope", "reset")
    with pytest.raises(AttributeError):
        timeline.at(1, "ofd", "no_such_control")
    with pytest.raises(ValueError):
        timeline.at(-1, "ofd", "reset")
    with pytest.raises(ValueError):
        timeline.advance(-1)
    with pytest.raises(ValueError):
        MockRegistry().timeline()
    timeline.at(1.0, "ofd", "set_failure_count", 1)
    clock.advance(2.0)  # moved by someone else: due events fire on fire_due()
    assert [e.label for e in timeline.fire_due()] == ["ofd.set_failure_count(1)"]
