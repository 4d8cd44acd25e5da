"""The shared fault plan, decided without a socket."""
from __future__ import annotations

import pytest

from mocktools.clock import FakeClock
from mocktools.faults import FaultPlan


def statuses(plan: FaultPlan, path: str, n: int) -> list:
    return [plan.decide(path).status for _ in range(n)]


def test_failure_count_then_success_and_per_path() -> None:
    plan = FaultPlan()
    plan.set_failure_count(2, status=500, path="/a")
    assert statuses(plan, "/b", 2) == [None, None]
    decision = plan.decide("/a")
    assert decision.status == 500 and "1 more" in decision.reason and decision.fault == "status:500"
    assert statuses(plan, "/a", 2) == [500, None]
    plan.set_failure_count(3)
    plan.set_failure_count(1)  # replaces the earlier count for the same path
    assert statuses(plan, "/x", 2) == [503, None]
    plan.set_failure_count(0)
    with pytest.raises(ValueError):
        plan.set_failure_count(-1)


def test_permanent_failure_until_disabled_and_glob_paths() -> None:
    plan = FaultPlan()
    plan.set_permanent_failure(True, status=502, path="/v1/*")
    plan.set_permanent_failure(True, status=504, path="/other")
    assert plan.mode() == "permanent_failure"
    assert statuses(plan, "/v1/x", 3) == [502] * 3 and plan.decide("/v2").ok
    plan.set_permanent_failure(False, path="/v1/*")
    assert plan.decide("/v1/x").ok and plan.decide("/other").status == 504
    plan.set_permanent_failure(False)
    assert plan.decide("/other").ok and plan.mode() == "success"


def test_rate_limit_uses_the_clock_window() -> None:
    clock = FakeClock()
    plan = FaultPlan(clock)
    plan.set_rate_limit(2, window=10)
    assert plan.mode() == "rate_limited"
    assert statuses(plan, "/", 3) == [None, None, 429]
    clock.advance(4)
    limited = plan.decide("/")
    assert limited.status == 429 and limited.retry_after == 6
    clock.advance(6)
    assert statuses(plan, "/", 3) == [None, None, 429]
    plan.set_rate_limit(1, window=1, retry_after=0.5, path="/p")
    plan.decide("/p")
    assert plan.decide("/p").retry_after == 0.5
    plan.set_rate_limit(None)
    plan.set_rate_limit(None, path="/p")
    assert plan.decide("/").ok
    with pytest.raises(ValueError):
        plan.set_rate_limit(1, window=0)
    with pytest.raises(ValueError):
        plan.set_rate_limit(-1)


def test_latency_distributions_are_seeded() -> None:
    def samples(**kwargs) -> list[float]:
        plan = FaultPlan(seed=7)
        plan.set_latency(**kwargs)
        return [plan.decide("/").latency for _ in range(5)]

    assert samples(seconds=0.2) == [0.2] * 5
    uniform = samples(distribution="uniform", low=0.1, high=0.2)
    assert uniform == samples(distribution="uniform", low=0.1, high=0.2)
    assert all(0.1 <= s <= 0.2 for s in uniform) and len(set(uniform)) == 5
    assert all(s >= 0 for s in samples(distribution="normal", mean=0.01, stddev=0.05))
    assert samples(distribution="exponential", mean=0.1) != samples(distribution="exponential", mean=0.1, seed=8)
    assert samples(distribution="exponential", mean=0.0) == [0.0] * 5
    plan = FaultPlan()
    plan.set_latency(0.1, path="/slow")
    assert plan.mode() == "degraded" and plan.decide("/slow").latency == 0.1 and plan.decide("/fast").latency == 0
    plan.set_latency(0, path="/slow")
    assert not plan.active
    for bad in ({"distribution": "weird"}, {"distribution": "uniform", "low": 2, "high": 1}, {"seconds": -1}):
        with pytest.raises(ValueError):
            FaultPlan().set_latency(**bad)


def test_connection_faults_count_down_and_precede_statuses() -> None:
    plan = FaultPlan()
    plan.set_permanent_failure(True)
    plan.set_connection_fault("reset", count=2)
    first = plan.decide("/")
    assert first.connection == "reset" and first.fault == "connection:reset" and not first.ok
    assert plan.decide("/").connection == "reset"
    assert plan.decide("/").status == 503
    plan.set_connection_fault("garbage", path="/g")
    assert [plan.decide("/g").connection for _ in range(3)] == ["garbage"] * 3
    plan.set_connection_fault(None, path="/g")
    assert plan.decide("/g").connection is None
    with pytest.raises(ValueError):
        plan.set_connection_fault("explode")


def test_set_success_clears_everything_and_describe() -> None:
    plan = FaultPlan()
    plan.set_failure_count(1, retry_after=2)
    plan.set_rate_limit(5)
    plan.set_latency(0.5)
    plan.set_connection_fault("close", count=1)
    described = plan.describe()
    assert described["failures"][0]["retry_after"] == 2 and described["rate_limits"][0]["limit"] == 5
    assert described["latency"][0]["seconds"] == 0.5 and described["connection_faults"][0]["kind"] == "close"
    assert plan.mode() == "failing"
    plan.set_success()
    assert not plan.active and plan.mode() == "success" and plan.decide("/").ok
    assert plan.decide("/").fault is None


def test_durations_take_seconds_or_a_timedelta() -> None:
    from datetime import timedelta

    from mocktools.faults import FaultPlan

    plan = FaultPlan()
    plan.set_latency(timedelta(milliseconds=250))
    plan.set_rate_limit(1, window=timedelta(minutes=1), retry_after=timedelta(seconds=5))
    described = plan.describe()
    assert described["latency"][0]["seconds"] == 0.25
    assert described["rate_limits"][0]["window"] == 60.0 and described["rate_limits"][0]["retry_after"] == 5.0
