"""Clocks and the journal."""
from __future__ import annotations

import threading

import pytest

from mocktools.clock import Clock, FakeClock, SystemClock
from mocktools.journal import CallRecord, Journal


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(100.0)
    assert isinstance(clock, Clock)
    assert clock.time() == 100.0 and clock.monotonic() == 0.0
    clock.advance(5)
    clock.sleep(2.5)
    clock.sleep(0)
    assert clock.time() == 107.5 and clock.monotonic() == 7.5
    clock.set(200.0)
    assert clock.time() == 200.0 and clock.monotonic() == 100.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(10.0)


def test_system_clock_reads_real_time() -> None:
    clock = SystemClock()
    before = clock.monotonic()
    clock.sleep(0)
    clock.sleep(0.001)
    assert clock.monotonic() > before and clock.time() > 1_600_000_000


def test_journal_window_is_bounded_and_counters_exact() -> None:
    journal = Journal(limit=10)
    for i in range(25):
        journal.add(method="POST", path=f"/p/{i % 2}", status=200 if i % 5 else 503)
    assert journal.count() == 25 and len(journal) == 25
    assert journal.count("/p/0") == 13 and journal.count("/p/*") == 25 and journal.count("/nope") == 0
    assert len(journal.calls()) == 10 and journal.calls()[0].seq == 16
    assert journal.status_counts()[503] == 5
    assert journal.last("/p/1").seq == 24 and journal.last("/zzz") is None
    assert all(r.method == "POST" for r in journal.calls(method="post"))
    assert journal.calls(method="GET") == []
    journal.clear()
    assert journal.count() == 0 and journal.calls() == []
    with pytest.raises(ValueError):
        Journal(limit=0)


def test_record_json_and_text_views() -> None:
    rec = CallRecord(method="POST", path="/x", body=b'{"a": 1}', headers={"A": "b"})
    assert rec.json == {"a": 1} and rec.text == '{"a": 1}'
    bad = CallRecord(body=b"\xffnot json")
    assert bad.json is None and bad.to_dict()["body"].endswith("not json")
    assert CallRecord().json is None
    view = CallRecord(body=b"x" * 10).to_dict(body_limit=4)
    assert view["body"] == "xxxx" and view["body_truncated"] is True
    assert "POST /x" in repr(rec)


def test_wait_for_wakes_on_condition_and_times_out() -> None:
    journal = Journal()
    timer = threading.Timer(0.05, lambda: [journal.add(path="/a") for _ in range(3)])
    timer.start()
    assert len(journal.wait_for(3, timeout=5)) == 3
    timer.join()
    with pytest.raises(TimeoutError, match="got 3"):
        journal.wait_for(4, timeout=0.01)
    with pytest.raises(TimeoutError, match="to /b"):
        journal.wait_for(1, timeout=0.01, path="/b")


def test_journal_is_exact_under_concurrency() -> None:
    journal = Journal(limit=100)

    def writer() -> None:
        for _ in range(1000):
            journal.add(path="/c")

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert journal.count() == 8000 and journal.count("/c") == 8000
    seqs = [r.seq for r in journal.calls()]
    assert seqs == list(range(7901, 8001))
