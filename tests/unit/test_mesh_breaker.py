"""Circuit breaker state machine on a FakeClock (the module must keep 100 % line and branch coverage)."""

import threading

import pytest

from mocktools.clock import FakeClock
from mocktools.mesh.circuit_breaker import (
    CLOSED,
    DISABLED,
    FORCED_OPEN,
    HALF_OPEN,
    OPEN,
    BreakerConfig,
    BreakerEvent,
    CallNotPermitted,
    CircuitBreaker,
    is_flapping,
)


def make(**kw):
    clock = FakeClock()
    events = []
    cfg = BreakerConfig(**{"window_size": 4, "minimum_calls": 4, "wait_duration": 10, "half_open_calls": 2, **kw})
    return CircuitBreaker("a->b", cfg, clock, [events.append]), clock, events


def test_opens_at_failure_rate_after_minimum_calls():
    b, _, events = make()
    for failed in (True, True, False):
        assert b.try_acquire()
        b.record(failed)
    assert b.state == CLOSED  # 3 calls < minimum 4
    b.record(False)  # 2 of 4 failed = 50 % >= 50 %
    assert b.state == OPEN and events[-1].from_state == CLOSED and "failure rate 50.0%" in events[-1].reason
    assert not b.try_acquire() and b.not_permitted == 1
    with pytest.raises(CallNotPermitted, match="a->b is OPEN"):
        b.acquire()


def test_count_window_slides():
    b, _, _ = make()
    for failed in (True, False, False, False, False, False, True):
        b.record(failed)
    assert b.state == CLOSED and b.metrics()["calls"] == 4 and b.metrics()["failed"] == 1


def test_failure_count_threshold():
    b, _, events = make(failure_count_threshold=1, failure_rate_threshold=100, window_size=10, minimum_calls=3)
    b.record(False)
    b.record(False)
    b.record(True)
    assert b.state == OPEN and events[0].reason == "1 failures >= 1"


def test_slow_calls_open():
    b, _, events = make(slow_call_duration=1.0, slow_call_rate_threshold=75)
    for d in (2, 2, 2, 0.5):
        b.record(False, d)
    assert b.state == OPEN and "slow-call rate 75.0%" in events[-1].reason
    b2, _, _ = make(slow_call_duration=1.0)
    for _ in range(4):
        b2.record(False, 1.0)  # exactly the threshold is not slow
    assert b2.state == CLOSED and b2.metrics()["slow"] == 0


def test_minimum_capped_by_count_window_and_not_by_time_window():
    assert BreakerConfig(window_size=5, minimum_calls=100).effective_minimum == 5
    assert BreakerConfig(window_type="time", window_size=5, minimum_calls=100).effective_minimum == 100


def test_time_window_forgets_old_seconds():
    b, clock, _ = make(window_type="time", window_size=2, minimum_calls=3)
    b.record(True)
    b.record(True)
    clock.advance(3)  # both fell out of the 2-second window
    b.record(True)
    assert b.state == CLOSED and b.metrics()["calls"] == 1
    b.record(False)
    b.record(True)  # 3 calls in window, 2 failed in this second = 66 %
    assert b.state == OPEN


def test_open_half_open_closed_on_the_clock():
    b, clock, events = make()
    b.transition_to_open("test")
    clock.advance(9.9)
    assert not b.try_acquire() and b.state == OPEN
    clock.advance(0.1)
    assert b.try_acquire() and b.state == HALF_OPEN
    assert b.try_acquire() and not b.try_acquire()  # only 2 trial calls
    b.record(False)
    assert b.state == HALF_OPEN
    b.record(False)
    assert b.state == CLOSED and "2 trial calls below thresholds" in events[-1].reason
    assert [(e.from_state, e.to_state) for e in events] == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_half_open_failure_reopens_and_release_returns_permit():
    b, clock, events = make()
    b.transition_to_open()
    clock.advance(10)
    assert b.try_acquire() and b.try_acquire()
    b.release()  # an ignored outcome gives its permit back
    assert b.metrics()["half_open_permits"] == 1
    b.record(True)
    b.record(False)  # 1 of 2 = 50 % -> open again
    assert b.state == OPEN and events[-1].reason.startswith("trial calls: failure rate")
    b.release()  # not half-open: no effect
    assert b.metrics()["half_open_permits"] == 0


def test_half_open_permits_enforced_under_concurrency():
    b, clock, _ = make(half_open_calls=3)
    b.transition_to_open()
    clock.advance(10)
    granted = []
    barrier = threading.Barrier(16)

    def worker():
        barrier.wait()
        granted.append(b.try_acquire())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 3 and b.not_permitted == 13


def test_forced_open_disabled_reset():
    b, clock, events = make()
    b.force_open()
    clock.advance(100)
    assert not b.try_acquire() and b.state == FORCED_OPEN
    b.disable()
    for _ in range(10):
        assert b.try_acquire()
        b.record(True)  # DISABLED records nothing
    assert b.state == DISABLED and b.metrics()["calls"] == 0
    b.reset()
    assert b.state == CLOSED and [e.to_state for e in events] == [FORCED_OPEN, DISABLED, CLOSED]


def test_call_wrapper():
    b, _, _ = make(minimum_calls=1, window_size=1)
    assert b.call(lambda: 200, lambda r: r >= 500) == 200
    assert b.call(lambda: 503) == 503  # default: results are successes
    with pytest.raises(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    assert b.state == OPEN
    with pytest.raises(CallNotPermitted):
        b.call(lambda: 200)


def test_metrics_and_events_dict():
    b, _, events = make()
    assert b.metrics() == {"edge": "a->b", "state": CLOSED, "calls": 0, "failed": 0, "slow": 0, "failure_rate": 0.0,
                           "slow_rate": 0.0, "not_permitted": 0, "half_open_permits": 0}
    b.record(True)
    assert b.metrics()["failure_rate"] == 100.0
    b.force_open()
    assert events[0].to_dict() == {"time": 1_700_000_000.0, "edge": "a->b", "from": CLOSED, "to": FORCED_OPEN,
                                   "reason": "forced open"}


def test_which_outcomes_count():
    cfg = BreakerConfig(failure_statuses=(503,), count_timeouts=False, count_connection_errors=True)
    assert cfg.is_failure(503) and not cfg.is_failure(500)
    assert not cfg.is_failure(0, "timeout") and cfg.is_failure(0, "connection")


@pytest.mark.parametrize("kw", [
    {"failure_rate_threshold": 0}, {"failure_rate_threshold": 101}, {"slow_call_rate_threshold": 0},
    {"failure_count_threshold": 0}, {"window_type": "sliding"}, {"window_size": 0}, {"minimum_calls": 0},
    {"half_open_calls": 0}, {"slow_call_duration": 0}, {"wait_duration": -1},
])
def test_invalid_config(kw):
    with pytest.raises(ValueError):
        BreakerConfig(**kw)


def test_from_dict_overlay():
    base = BreakerConfig.from_dict({"window_size": 10, "failure_statuses": [502, 503]})
    cfg = BreakerConfig.from_dict({"wait_duration": 5}, base)
    assert cfg.window_size == 10 and cfg.wait_duration == 5 and cfg.failure_statuses == (502, 503)
    with pytest.raises(ValueError, match="unknown breaker settings"):
        BreakerConfig.from_dict({"threshold": 3})


def test_flapping():
    def ev(t, to=OPEN):
        return BreakerEvent(t, "e", CLOSED, to, "")

    assert is_flapping([ev(0), ev(5), ev(9), ev(100, CLOSED)], window=10, opens=3)
    assert not is_flapping([ev(0), ev(5), ev(11)], window=10, opens=3)
    assert not is_flapping([ev(0)], window=10, opens=3)


def test_listener_sees_events_outside_the_lock():
    b, clock, _ = make()
    seen = []
    b.listeners.append(lambda e: seen.append((e.to_state, b.metrics()["state"])))  # re-enters the breaker
    b.transition_to_open()
    clock.advance(10)
    b.try_acquire()
    assert seen == [(OPEN, OPEN), (HALF_OPEN, HALF_OPEN)]
