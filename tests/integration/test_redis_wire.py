"""MockRedisServer on raw sockets: exact RESP bytes, inline commands, hostile input, faults."""
from __future__ import annotations

import socket

import pytest

from mocktools import FakeClock, MockRedisServer, MockStartError
from mocktools.redis.resp import NULL_ARRAY, OK, Push, encode


@pytest.fixture(scope="module")
def server():
    with MockRedisServer(clock=FakeClock()) as mock:
        yield mock


@pytest.fixture
def sock(server):
    server.reset()
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    yield conn
    conn.close()
    server.check()


def ask(conn: socket.socket, data: bytes, expect: int = 1) -> bytes:
    """Send `data`, read until `expect` CRLF-terminated top-level replies worth of lines arrived."""
    conn.sendall(data)
    buf = b""
    while buf.count(b"\r\n") < expect:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def cmd(*args: bytes | str) -> bytes:
    return encode([a if isinstance(a, bytes) else a.encode() for a in args])


def test_replies_are_resp2_until_hello_3(sock) -> None:
    assert ask(sock, cmd("PING")) == b"+PONG\r\n"
    assert ask(sock, cmd("GET", "nope")) == b"$-1\r\n"
    assert ask(sock, cmd("HSET", "h", "f", "v")) == b":1\r\n"
    assert ask(sock, cmd("HGETALL", "h"), 5) == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    hello = ask(sock, cmd("HELLO", "3"), 15)
    assert hello.startswith(b"%7\r\n") and b"proto\r\n:3\r\n" in hello
    assert ask(sock, cmd("GET", "nope")) == b"_\r\n"
    assert ask(sock, cmd("HGETALL", "h"), 5) == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"


def test_unknown_commands_and_bad_arity_answer_like_redis(sock) -> None:
    assert ask(sock, cmd("FOO", "bar")) == b"-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n"
    assert ask(sock, cmd("GET")) == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert ask(sock, cmd("SET", "k", "v", "EX", "0")) == b"-ERR invalid expire time in 'set' command\r\n"
    assert ask(sock, cmd("SELECT", "99")) == b"-ERR DB index is out of range\r\n"
    assert ask(sock, cmd("PING")) == b"+PONG\r\n"  # the connection keeps serving


def test_inline_and_pipelined_commands(sock) -> None:
    assert ask(sock, b"PING\r\n") == b"+PONG\r\n"
    assert ask(sock, b"SET greeting hello\r\nGET greeting\r\n", 3) == b"+OK\r\n$5\r\nhello\r\n"
    many = b"".join(cmd("INCR", "n") for _ in range(100))
    assert ask(sock, many, 100) == b"".join(b":%d\r\n" % i for i in range(1, 101))


def test_large_values_survive_framing(sock, server) -> None:
    value = bytes(range(256)) * 4096  # 1 MiB, every byte value, CRLFs inside
    sock.sendall(cmd(b"SET", b"blob", value))
    assert sock.recv(5) == b"+OK\r\n"
    assert server.get("blob") == value


def test_protocol_error_closes_only_that_connection(server, sock) -> None:
    assert ask(sock, b"*1\r\n$x\r\n").startswith(b"-ERR Protocol error")
    assert sock.recv(10) == b""  # closed, as Redis does
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as again:
        assert ask(again, cmd("PING")) == b"+PONG\r\n"


def test_resp2_subscribed_mode_allows_only_pubsub_commands(sock, server) -> None:
    assert ask(sock, cmd("SUBSCRIBE", "a", "b"), 6) == encode([b"subscribe", b"a", 1]) + encode([b"subscribe", b"b", 2])
    assert ask(sock, cmd("GET", "x")).startswith(b"-ERR Can't execute 'get'")
    assert ask(sock, cmd("PING"), 3) == encode([b"pong", b""])
    assert server.publish("a", "hi") == 1
    assert sock.recv(100) == encode([b"message", b"a", b"hi"])
    assert ask(sock, cmd("UNSUBSCRIBE"), 6).count(b"unsubscribe") == 2
    assert ask(sock, cmd("GET", "x")) == b"$-1\r\n"


def test_resp3_pushes(sock, server) -> None:
    ask(sock, cmd("HELLO", "3"), 15)
    assert ask(sock, cmd("SUBSCRIBE", "c"), 4) == encode(Push([b"subscribe", b"c", 1]), 3)
    assert ask(sock, cmd("GET", "x")) == b"_\r\n"  # RESP3 allows commands while subscribed
    server.publish("c", "m")
    assert sock.recv(100).startswith(b">3\r\n$7\r\nmessage")


def test_multi_exec_discard(sock) -> None:
    assert ask(sock, cmd("MULTI")) == b"+OK\r\n"
    assert ask(sock, cmd("SET", "a", "1")) == b"+QUEUED\r\n"
    assert ask(sock, cmd("INCR", "a")) == b"+QUEUED\r\n"
    assert ask(sock, cmd("EXEC"), 3) == b"*2\r\n+OK\r\n:2\r\n"
    assert ask(sock, cmd("DISCARD")) == b"-ERR DISCARD without MULTI\r\n"
    assert ask(sock, cmd("MULTI")) + ask(sock, cmd("SET", "a", "9")) + ask(sock, cmd("DISCARD")) == \
        b"+OK\r\n+QUEUED\r\n+OK\r\n"
    assert ask(sock, cmd("GET", "a"), 2) == b"$1\r\n2\r\n"


@pytest.mark.parametrize("kind", ["close", "reset", "garbage"])
def test_connection_faults(server, kind: str) -> None:
    server.reset()
    server.set_connection_fault(kind, count=1, path="GET")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(cmd("GET", "k"))
        try:
            data = conn.recv(100)
        except ConnectionResetError:
            data = b"<reset>"
        assert {"close": data == b"", "reset": data in (b"", b"<reset>"),
                "garbage": data.startswith(b"\x00\x17garbage")}[kind]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        assert ask(conn, cmd("GET", "k")) == b"$-1\r\n"
    assert [c.status for c in server.calls if c.path == "GET"] == [None, 200]
    assert server.calls[0].fault is not None


def test_injected_status_is_an_err_reply(sock, server) -> None:
    server.set_failure_count(1, status=503)
    assert ask(sock, cmd("PING")).startswith(b"-ERR injected failure")
    assert ask(sock, cmd("PING")) == b"+PONG\r\n"


def test_encoder_covers_resp3_types() -> None:
    assert encode({b"a": 1.5, b"b": True}, 3) == b"%2\r\n$1\r\na\r\n,1.5\r\n$1\r\nb\r\n#t\r\n"
    assert encode({b"a": 1.5}, 2) == b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n"
    assert encode({b"x"}, 3) == b"~1\r\n$1\r\nx\r\n" and encode(NULL_ARRAY, 2) == b"*-1\r\n" and encode(OK) == b"+OK\r\n"


def test_port_in_use_is_a_clear_start_error(server) -> None:
    with pytest.raises(MockStartError, match="already in use"):
        MockRedisServer(port=server.port).start()


def test_an_oversized_command_is_refused_and_the_server_keeps_serving(server, monkeypatch) -> None:
    from mocktools.redis import resp

    monkeypatch.setattr(resp, "MAX_REQUEST", 1024)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"x" * 5000)
        assert conn.recv(100).startswith(b"-ERR Protocol error: a command over 1024 bytes")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        assert ask(conn, cmd("PING")) == b"+PONG\r\n"
