"""Blue/green state machine on a FakeClock: announce, notify, drain, switch, 456."""

import pytest

from mocktools.clock import FakeClock
from mocktools.e6data.strategy import StrategyManager, StrategyMismatch, other


def kinds(manager):
    return [e.kind for e in manager.events]


def test_starts_blue_and_accepts_only_blue():
    m = StrategyManager(FakeClock())
    assert m.active == "blue" and m.pending is None
    assert m.check("blue", "authenticate") == "blue"
    assert m.check("BLUE ", "authenticate") == "blue"
    with pytest.raises(StrategyMismatch) as err:
        m.check("green", "authenticate")
    assert err.value.sent == "green" and err.value.active == "blue"
    assert m.rejections == 1 and kinds(m) == ["rejected"]


def test_missing_header_is_served_by_active_and_unenforced_accepts_anything():
    m = StrategyManager(FakeClock())
    assert m.check(None) == "blue"
    assert m.check("") == "blue"
    loose = StrategyManager(FakeClock(), enforce=False)
    assert loose.check("green") == "blue"


def test_interval_announces_then_switch_completes_after_notification():
    clock = FakeClock()
    m = StrategyManager(clock, interval=120)
    clock.advance(119)
    m.tick()
    assert m.pending is None
    clock.advance(1)
    m.tick()
    assert m.pending == "green" and m.active == "blue"
    # both strategies are served while pending
    assert m.check("blue") == "blue"
    assert m.check("green") == "green"
    # not complete until a client has been told
    assert m.pending == "green"
    assert m.announcement() == "green"
    m.tick()
    assert m.active == "green" and m.pending is None
    assert kinds(m)[:2] == ["announced", "notified"] and "switched" in kinds(m)
    with pytest.raises(StrategyMismatch):
        m.check("blue", "prepareStatement")


def test_in_flight_query_delays_switch_and_keeps_its_strategy():
    clock = FakeClock()
    m = StrategyManager(clock, interval=None, drain_timeout=60)
    m.query_opened("blue")
    assert m.switch_strategy() == "green"
    assert m.announcement() == "green"
    m.tick()
    assert m.active == "blue", "an open blue query holds the switch"
    m.query_closed("blue")
    assert m.active == "green"
    assert m.switches == 1
    # a query started on blue may finish there; a new call on blue may not
    assert m.check("blue", "getNextResultBatch", query_strategy="blue") == "blue"
    with pytest.raises(StrategyMismatch):
        m.check("blue", "prepareStatement")


def test_drain_timeout_forces_the_switch():
    clock = FakeClock()
    m = StrategyManager(clock, interval=None, drain_timeout=30)
    m.query_opened("blue")
    m.switch_strategy()
    clock.advance(29)
    m.tick()
    assert m.active == "blue"
    clock.advance(1)
    m.tick()
    assert m.active == "green"
    assert m.events[-1].detail["open_on_old"] == 1


def test_immediate_and_set_strategy():
    m = StrategyManager(FakeClock(), interval=None)
    assert m.switch_strategy(immediate=True) == "green"
    assert m.active == "green" and m.pending is None
    m.set_strategy("green")  # no-op
    assert m.switches == 1
    m.set_strategy("blue")
    assert m.active == "blue" and m.switches == 2
    with pytest.raises(ValueError):
        m.set_strategy("red")
    with pytest.raises(ValueError):
        StrategyManager(FakeClock(), initial="red")


def test_switch_strategy_while_pending_is_a_noop_and_announcement_none_when_stable():
    m = StrategyManager(FakeClock(), interval=None)
    assert m.announcement() is None
    m.query_opened("blue")
    assert m.switch_strategy() == "green"
    assert m.switch_strategy() == "green"
    assert kinds(m).count("announced") == 1


def test_several_interval_switches_alternate():
    clock = FakeClock()
    m = StrategyManager(clock, interval=120)
    seen = []
    for _ in range(4):
        clock.advance(120)
        m.tick()
        m.announcement()
        m.tick()
        seen.append(m.active)
    assert seen == ["green", "blue", "green", "blue"]
    assert other("blue") == "green" and other("green") == "blue"


def test_describe_and_reset():
    clock = FakeClock()
    m = StrategyManager(clock, interval=10)
    m.query_opened("blue")
    m.query_closed("blue")
    m.query_closed("blue")  # never negative
    state = m.describe()
    assert state["active"] == "blue" and state["open_queries"] == {"blue": 0, "green": 0}
    clock.advance(10)
    m.tick()
    assert m.describe()["pending"] == "green"
    assert m.describe()["events"][0]["kind"] == "announced"
    m.reset()
    assert m.active == "blue" and m.pending is None and not m.events
    assert m.open_queries() == {"blue": 0, "green": 0}
