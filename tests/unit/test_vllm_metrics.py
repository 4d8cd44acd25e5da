"""Prometheus text and the scheduler model, without a socket."""
import threading

import pytest

from mocktools.vllm.metrics import Metrics, RequestStats, _fmt, build_1_2_5_buckets
from mocktools.vllm.scheduler import Scheduler, SchedulerStopped


def test_token_buckets_follow_1_2_5():
    assert build_1_2_5_buckets(100) == (1, 2, 5, 10, 20, 50, 100)
    assert _fmt(float("inf")) == "+Inf" and _fmt(float("-inf")) == "-Inf" and _fmt(float("nan")) == "NaN"


def test_render_has_vllm_names_types_and_histograms():
    m = Metrics('my "model"', 100, created=1.0)
    m.observe(RequestStats(prompt_tokens=7, generation_tokens=3, finished_reason="length", max_tokens=3,
                           ttft=0.02, itls=[0.01, 0.2], e2e=0.4, queue_time=0.1))
    m.observe(RequestStats(prompt_tokens=1, generation_tokens=1, finished_reason="weird"))
    m.add_preemption()
    text = m.render(running=2, waiting=1, kv_usage=0.25)
    lab = 'engine="0",model_name="my \\"model\\""'
    for line in (f"vllm:num_requests_running{{{lab}}} 2.0", f"vllm:num_requests_waiting{{{lab}}} 1.0",
                 f"vllm:kv_cache_usage_perc{{{lab}}} 0.25", f"vllm:gpu_cache_usage_perc{{{lab}}} 0.25",
                 f"vllm:prompt_tokens_total{{{lab}}} 8.0", f"vllm:generation_tokens_total{{{lab}}} 4.0",
                 f"vllm:num_preemptions_total{{{lab}}} 1.0",
                 # prometheus_client sorts label names, as on a real vLLM
                 f'vllm:request_success_total{{engine="0",finished_reason="length",{lab[11:]}}} 1.0',
                 f'vllm:request_success_total{{engine="0",finished_reason="error",{lab[11:]}}} 1.0',
                 f'vllm:time_to_first_token_seconds_bucket{{engine="0",le="0.01",{lab[11:]}}} 1.0',
                 f'vllm:time_to_first_token_seconds_bucket{{engine="0",le="0.02",{lab[11:]}}} 2.0',
                 f'vllm:time_to_first_token_seconds_bucket{{engine="0",le="+Inf",{lab[11:]}}} 2.0',
                 f"vllm:inter_token_latency_seconds_count{{{lab}}} 2.0",
                 f'vllm:request_prompt_tokens_bucket{{engine="0",le="10.0",{lab[11:]}}} 2.0',
                 "# TYPE vllm:prompt_tokens_total counter", "# TYPE vllm:e2e_request_latency_seconds histogram",
                 f"vllm:prompt_tokens_created{{{lab}}} 1.0"):
        assert line in text.splitlines(), line
    assert m.snapshot()["vllm:request_success_total[length]"] == 1.0
    m.reset()
    assert m.snapshot()["vllm:prompt_tokens_total"] == 0


def test_metrics_text_parses_with_a_prometheus_style_parser():
    text = Metrics("m", 64).render(0, 0, 0.0)
    for line in text.splitlines():
        if not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            float(value)
            assert name_labels.startswith("vllm:")


@pytest.mark.timeout(10)
def test_scheduler_admits_up_to_max_and_queues_fifo():
    s = Scheduler(max_num_seqs=2, kv_capacity_tokens=100)
    a, b = s.acquire(1, tokens=10), s.acquire(1, tokens=30)
    assert s.counts() == (2, 0) and s.kv_cache_usage() == pytest.approx(0.4)
    order = []
    threads = [threading.Thread(target=lambda i=i: order.append((i, s.acquire(1)))) for i in range(2)]
    threads[0].start()
    while s.counts()[1] < 1:
        threading.Event().wait(0.005)
    threads[1].start()
    while s.counts()[1] < 2:
        threading.Event().wait(0.005)
    assert s.counts() == (2, 2)
    s.release(a)
    threads[0].join(5)
    s.release(b)
    threads[1].join(5)
    assert [i for i, _ in order] == [0, 1] and s.counts() == (2, 0)


def test_scheduler_runs_an_oversized_request_alone_and_stops():
    s = Scheduler(max_num_seqs=1)
    big = s.acquire(4)
    assert s.counts() == (1, 0)
    stop = threading.Event()
    stop.set()
    with pytest.raises(SchedulerStopped):
        s.acquire(1, stop=stop)
    assert s.counts() == (1, 0)
    s.release(big)
    s.reset()
    with pytest.raises(ValueError):
        Scheduler(0)
    with pytest.raises(ValueError):
        s.set_max_num_seqs(0)
