"""MockRedisServer through the unmodified redis-py client (sync and asyncio, RESP2 and RESP3)."""
from __future__ import annotations

import asyncio
import threading

import pytest
import redis
import redis.asyncio as aioredis
import requests

from mocktools import FakeClock, MockRedisServer


@pytest.fixture(scope="module")
def server():
    with MockRedisServer(clock=FakeClock(), admin_port=0) as mock:
        yield mock


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(server, request):
    server.reset()
    client = redis.Redis.from_url(server.url, protocol=request.param, socket_timeout=10)
    yield client
    client.close()
    server.check()


def test_strings_with_ttl_on_the_mock_clock(server, r) -> None:
    assert r.set("session:1", "alice", ex=30) is True
    assert r.get("session:1") == b"alice" and r.ttl("session:1") == 30 and 29_000 < r.pttl("session:1") <= 30_000
    server.advance(29)
    assert r.get("session:1") == b"alice"
    server.advance(1)
    assert r.get("session:1") is None and r.ttl("session:1") == -2 and r.exists("session:1") == 0
    assert r.set("k", "v", nx=True) and r.set("k", "w", nx=True) is None and r.set("k", "w", xx=True)
    assert r.set("k", "x", get=True) == b"w" and r.set("k", "y", px=1500) and r.pttl("k") == 1500
    assert r.expire("k", 100) and r.ttl("k") == 100 and r.pexpire("k", 200) and r.pttl("k") == 200
    assert r.persist("k") and r.ttl("k") == -1 and r.type("k") in (b"string", "string")


def test_counters_bulk_and_key_listing(r) -> None:
    assert r.incr("hits") == 1 and r.incrby("hits", 10) == 11 and r.decr("hits") == 10 and r.decrby("hits", 5) == 5
    assert r.mset({"a": "1", "b": "2", "c": "3"}) and r.mget("a", "nope", "c") == [b"1", None, b"3"]
    assert sorted(r.keys("*")) == [b"a", b"b", b"c", b"hits"] and r.dbsize() == 4
    assert sorted(r.scan_iter(match="[ab]", count=1)) == [b"a", b"b"]
    assert r.delete("a", "b", "zzz") == 2 and r.exists("a", "c", "c") == 2
    r.set("text", "abc")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("text")
    assert r.flushdb() and r.dbsize() == 0


def test_hashes(r) -> None:
    assert r.hset("user:1", mapping={"name": "ann", "visits": "1"}) == 2
    assert r.hget("user:1", "name") == b"ann" and r.hmget("user:1", ["name", "x"]) == [b"ann", None]
    assert r.hgetall("user:1") == {b"name": b"ann", b"visits": b"1"}
    assert r.hincrby("user:1", "visits", 4) == 5 and r.hlen("user:1") == 2 and r.hexists("user:1", "name")
    assert r.hdel("user:1", "name", "nope") == 1 and r.hgetall("nope") == {}
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("user:1")


def test_lists_as_a_queue_and_blocking_pops_on_the_mock_clock(server, r) -> None:
    assert r.rpush("jobs", "j1", "j2") == 2 and r.lpush("jobs", "j0") == 3
    assert r.lrange("jobs", 0, -1) == [b"j0", b"j1", b"j2"] and r.llen("jobs") == 3
    assert r.lpop("jobs") == b"j0" and r.rpop("jobs") == b"j2" and r.lpop("jobs", 5) == [b"j1"]
    assert r.exists("jobs") == 0 and r.lpop("jobs") is None
    # a consumer blocked in BRPOP gets the job a producer pushes later
    got: list = []
    consumer = redis.Redis.from_url(server.url, protocol=r.get_connection_kwargs().get("protocol", 3))
    thread = threading.Thread(target=lambda: got.append(consumer.brpop(["jobs"], timeout=0)))
    thread.start()
    server.wait_for_blocked(1)
    r.lpush("jobs", "late")
    thread.join(10)
    consumer.close()
    assert [tuple(x) for x in got] == [(b"jobs", b"late")]


def test_blocking_pop_times_out_when_the_mock_clock_passes(server, r) -> None:
    result: list = []
    consumer = redis.Redis.from_url(server.url, protocol=3)
    thread = threading.Thread(target=lambda: result.append(consumer.blpop(["none"], timeout=30)))
    thread.start()
    server.wait_for_blocked(1)
    server.advance(30)
    thread.join(10)
    consumer.close()
    assert result == [None] and not thread.is_alive()


def test_pubsub(server, r) -> None:
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("log.*")
    assert p.get_message(timeout=5)["type"] == "subscribe"
    assert p.get_message(timeout=5)["type"] == "psubscribe"
    assert r.publish("news", "hello") == 1 and server.publish("log.app", "line") == 1
    message = p.get_message(timeout=5)
    assert message["type"] == "message" and message["channel"] == b"news" and message["data"] == b"hello"
    message = p.get_message(timeout=5)
    assert message["type"] == "pmessage" and message["pattern"] == b"log.*" and message["channel"] == b"log.app"
    p.unsubscribe("news")
    assert p.get_message(timeout=5)["type"] == "unsubscribe"
    assert r.publish("news", "nobody") == 0
    p.close()


def test_transactions_pipeline_and_server_commands(r) -> None:
    with r.pipeline() as pipe:
        assert pipe.set("x", 1).incr("x").get("x").execute() == [True, 2, b"2"]
    assert r.echo("hi") == b"hi" and r.ping() is True
    info = r.info()
    assert info["redis_version"] and info["role"] == "master" and "connected_clients" in r.info("clients")
    r.select(3)
    r.set("in3", "yes")
    r.select(0)
    assert r.get("in3") is None
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCH", "x")


def test_faults_journal_and_admin_api(server, r) -> None:
    server.set_failure_count(2, path="GET")
    for _ in range(2):
        with pytest.raises(redis.ResponseError, match="injected failure"):
            r.get("a")
    assert r.get("a") is None
    assert server.get_call_count("GET") == 3 and [c.status for c in server.calls if c.path == "GET"][:2] == [503, 503]
    assert server.commands("GET")[-1] == [b"GET", b"a"]
    server.set_connection_fault("reset", count=1, path="SET")
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url, protocol=3, retry_on_timeout=False, retry=None).set("a", "1")
    assert r.set("a", "1")  # the server keeps serving; a new connection works
    answer = requests.get(server.admin_url + "/_mock/redis/keys", timeout=5).json()
    assert answer["keys"] == ["a"]
    assert requests.get(server.admin_url + "/_mock/calls/count?path=SET", timeout=5).json()["count"] >= 2


def test_auth() -> None:
    with MockRedisServer(password="s3cret") as mock:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(mock.url, password="wrong").ping()
        assert redis.Redis.from_url(mock.url, password="s3cret", protocol=2).ping()
        assert redis.Redis.from_url(mock.url, password="s3cret", protocol=3).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(mock.url, protocol=2).get("k")


def test_asyncio_client(server) -> None:
    server.reset()

    async def main() -> list:
        client = aioredis.Redis.from_url(server.url)
        try:
            await client.set("a", "1", ex=5)
            pubsub = client.pubsub()
            await pubsub.subscribe("ch")
            await pubsub.get_message(timeout=5)
            await client.publish("ch", "hi")
            message = await pubsub.get_message(timeout=5)
            await pubsub.aclose()
            return [await client.get("a"), await client.hset("h", "f", "v"), await client.hgetall("h"),
                    message["data"], await client.ttl("a")]
        finally:
            await client.aclose()

    assert asyncio.run(main()) == [b"1", 1, {b"f": b"v"}, b"hi", 5]


def test_stop_ends_a_blocked_pop_at_once() -> None:
    mock = MockRedisServer().start()
    client = redis.Redis.from_url(mock.url, socket_timeout=10)
    errors: list = []

    def block() -> None:
        try:
            client.blpop(["q"], timeout=0)
        except redis.RedisError as exc:
            errors.append(exc)

    thread = threading.Thread(target=block)
    thread.start()
    mock.wait_for_blocked(1)
    mock.stop()
    thread.join(10)
    assert not thread.is_alive() and errors and not mock.running


def test_from_cli_puts_the_control_api_beside_it() -> None:
    import argparse

    mock = MockRedisServer.from_cli(argparse.Namespace(password=None, admin_port=None), host="127.0.0.1", port=0)
    with mock:
        assert mock.admin_url and requests.get(mock.admin_url + "/_mock", timeout=5).ok
        assert set(mock.endpoints()) == {"url", "admin"} and mock.url.startswith("redis://")
