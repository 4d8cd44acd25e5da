"""The Redis domain without a socket: TTLs on the mock clock, types, blocking pops, pub/sub."""
from __future__ import annotations

import threading

import pytest

from mocktools import FakeClock
from mocktools.redis.keyspace import Entry, Keyspace, Subscriber
from mocktools.redis.resp import RedisError


def test_keys_expire_on_the_mock_clock() -> None:
    clock = FakeClock()
    ks = Keyspace(clock)
    ks.put(0, b"a", Entry("string", b"1", clock.time() + 10))
    ks.put(0, b"b", Entry("string", b"2"))
    assert ks.keys(0) == [b"a", b"b"]
    clock.advance(10)
    assert ks.entry(0, b"a") is None and ks.keys(0) == [b"b"] and ks.size(0) == 1


def test_wrong_type_and_db_range() -> None:
    ks = Keyspace(FakeClock())
    ks.container(0, b"h", "hash", create=True)[b"f"] = b"v"
    with pytest.raises(RedisError, match="WRONGTYPE"):
        ks.entry(0, b"h", "string")
    with pytest.raises(RedisError, match="out of range"):
        ks.db(16)


def test_blocking_pop_waits_for_a_push_or_the_clock() -> None:
    clock = FakeClock()
    ks = Keyspace(clock)
    stop = threading.Event()
    got: list = []
    thread = threading.Thread(target=lambda: got.append(ks.blocking_pop(0, [b"q"], 5, True, stop)))
    thread.start()
    ks.wait_blocked(1, 5)
    with ks.changed:
        ks.container(0, b"q", "list", create=True).append(b"job")
        ks.changed.notify_all()
    thread.join(5)
    assert got == [(b"q", b"job")] and ks.entry(0, b"q") is None  # an emptied list is deleted
    thread = threading.Thread(target=lambda: got.append(ks.blocking_pop(0, [b"q"], 5, True, stop)))
    thread.start()
    ks.wait_blocked(1, 5)
    clock.advance(5)
    ks.wake()
    thread.join(5)
    assert got[-1] is None and ks.blocked == 0


def test_publish_reaches_channels_and_patterns() -> None:
    ks = Keyspace(FakeClock())
    seen: list = []
    sub = Subscriber(lambda *fields: seen.append(fields), channels={b"news"}, patterns={b"n*"})
    ks.subscribe(sub)
    assert ks.publish(b"news", b"x") == 2 and ks.publish(b"other", b"y") == 0
    assert seen == [(b"message", b"news", b"x"), (b"pmessage", b"n*", b"news", b"x")]
