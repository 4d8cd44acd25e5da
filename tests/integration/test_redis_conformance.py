"""Differential test: the same command script, byte for byte, against MockRedisServer and a real
redis-server (skipped when none is on PATH; `apt-get install redis-server` provides one).

The mock speaks Redis 7.4; commands newer than the peer (CLIENT SETINFO is 7.2+) stay out of the script."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from mocktools import MockRedisServer
from mocktools.redis.resp import encode

BINARY = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(BINARY is None, reason="no redis-server on PATH")

SCRIPT = [
    "PING", "PING hello", "ECHO hi", "SET k v", "GET k", "GET missing", "SET k v2 GET", "SET k v3 NX",
    "SET k v3 XX", "SET n 10", "INCR n", "INCRBY n 5", "DECR n", "DECRBY n 3", "INCR k", "APPEND k xyz",
    "STRLEN k", "MSET a 1 b 2", "MGET a b nope", "EXISTS a b nope a", "DEL a nope", "TYPE b", "TYPE nope",
    "SETNX b 9", "GETDEL b", "EXPIRE nope 10", "PERSIST k", "TTL k", "PTTL nope", "SET e x EX 100",
    "TTL e", "EXPIRE e 50 GT", "EXPIRE e 50 LT", "TTL e", "PERSIST e", "TTL e",
    "HSET h f1 a f2 b", "HGET h f1", "HMGET h f1 zz f2", "HGETALL h", "HLEN h", "HEXISTS h f1",
    "HEXISTS h zz", "HINCRBY h cnt 7", "HINCRBY h f1 1", "HDEL h f1 zz", "HKEYS h", "HVALS h", "HSETNX h f2 q",
    "GET h", "RPUSH q 1 2 3", "LPUSH q 0", "LRANGE q 0 -1", "LRANGE q -2 -1", "LRANGE q 5 10", "LLEN q",
    "LPOP q", "RPOP q 2", "LPOP q 5", "LPOP q", "LPOP q 2", "LLEN q", "DBSIZE", "SELECT 2", "DBSIZE",
    "SELECT 0", "KEYS n*", "MULTI", "SET t 1", "INCR t", "EXEC", "EXEC", "DISCARD", "GET", "SET k",
    "NOSUCH a b", "SELECT 99", "SET x y EX 0", "SET x y EX abc", "INCRBY n abc", "HSET h onlyfield",
    "BLPOP nope 0.01", "PUBLISH ch msg", "LPOP q -1", "EXPIRE k 10 NX XX", "SET k v NX XX",
    "SET k v EX 10 PX 10", "SET k v KEEPTTL EX 5", "HGETALL nope", "RPOP nope 1", "AUTH x", "AUTH a b c",
    "CLIENT SETNAME conn1", "CLIENT GETNAME", "CLIENT NOPE", "PUBSUB NUMSUB ch", "PUBSUB NUMPAT", "PUBSUB CHANNELS",
    "HELLO 4", "SELECT abc", "UNLINK a", "GETDEL h", "LPUSH h x", "MSET a", "HMSET h a", "HSTRLEN h f2",
    "SETEX s 10 v", "TTL s", "PSETEX s 0 v", "INCRBY big 9223372036854775807", "INCR big", "LPUSH k2 a",
    "BRPOP k2 0", "BLPOP k2 -1", "BLPOP k2 abc", "EXPIRE k2 -1", "EXISTS k2", "PING a b",
    "FLUSHDB", "DBSIZE", "QUIT",
]


def transcript(port: int, protocol: int) -> list[bytes]:
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        if protocol == 3:
            sock.sendall(encode([b"HELLO", b"3"]))
            _read_reply(reader)
        for line in SCRIPT:
            sock.sendall(encode([part.encode() for part in line.split()]))
            replies.append(_read_reply(reader))
    return replies


def _read_reply(reader) -> bytes:
    line = reader.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"$", b"="):
        n = int(rest)
        return line + (reader.read(n + 2) if n >= 0 else b"")
    if kind in (b"*", b"%", b"~", b">"):
        n = int(rest)
        count = n * 2 if kind == b"%" else n
        return line + b"".join(_read_reply(reader) for _ in range(max(count, 0)))
    return line


@pytest.fixture(scope="module")
def real_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([BINARY, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.skip("redis-server did not start")
            time.sleep(0.02)
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("protocol", [2, 3])
def test_same_bytes_as_redis(real_port: int, protocol: int) -> None:
    with socket.create_connection(("127.0.0.1", real_port)) as s:
        s.sendall(encode([b"FLUSHALL"]))
        s.recv(100)
    expected = transcript(real_port, protocol)
    with MockRedisServer() as mock:
        got = transcript(mock.port, protocol)
    mismatches = [(SCRIPT[i], e, g) for i, (e, g) in enumerate(zip(expected, got)) if e != g]
    assert mismatches == []
