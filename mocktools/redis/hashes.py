"""Hash commands (HSET, HGET, HMGET, HGETALL, HDEL, HINCRBY, HLEN, HEXISTS, HKEYS, HVALS, HSETNX)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .commands import INT64, command, to_int
from .resp import OK, RedisError, SimpleString

if TYPE_CHECKING:
    from .wire import Session


def _hash(s: Session, key: bytes, create: bool = False) -> dict[bytes, bytes] | None:
    return s.keyspace.container(s.db, key, "hash", create=create)  # type: ignore[no-any-return]


@command("HSET", -4)
def hset(s: Session, args: list[bytes]) -> int:
    if len(args) % 2 == 0:
        raise RedisError("ERR wrong number of arguments for 'hset' command")
    with s.keyspace.lock:
        fields = _hash(s, args[0], create=True)
        assert fields is not None
        new = 0
        for name, value in zip(args[1::2], args[2::2]):
            new += name not in fields
            fields[name] = value
        return new


@command("HMSET", -4)
def hmset(s: Session, args: list[bytes]) -> SimpleString:
    if len(args) % 2 == 0:
        raise RedisError("ERR wrong number of arguments for 'hmset' command")
    hset(s, args)
    return OK


@command("HSETNX", 4)
def hsetnx(s: Session, args: list[bytes]) -> int:
    with s.keyspace.lock:
        fields = _hash(s, args[0], create=True)
        assert fields is not None
        if args[1] in fields:
            return 0
        fields[args[1]] = args[2]
        return 1


@command("HGET", 3)
def hget(s: Session, args: list[bytes]) -> bytes | None:
    fields = _hash(s, args[0])
    return fields.get(args[1]) if fields else None


@command("HMGET", -3)
def hmget(s: Session, args: list[bytes]) -> list[bytes | None]:
    with s.keyspace.lock:
        fields = _hash(s, args[0]) or {}
        return [fields.get(name) for name in args[1:]]


@command("HGETALL", 2)
def hgetall(s: Session, args: list[bytes]) -> dict[bytes, bytes]:
    with s.keyspace.lock:
        return dict(_hash(s, args[0]) or {})


@command("HKEYS", 2)
def hkeys(s: Session, args: list[bytes]) -> list[bytes]:
    with s.keyspace.lock:
        return list(_hash(s, args[0]) or {})


@command("HVALS", 2)
def hvals(s: Session, args: list[bytes]) -> list[bytes]:
    with s.keyspace.lock:
        return list((_hash(s, args[0]) or {}).values())


@command("HDEL", -3)
def hdel(s: Session, args: list[bytes]) -> int:
    with s.keyspace.lock:
        fields = _hash(s, args[0])
        if not fields:
            return 0
        gone = sum(1 for name in args[1:] if fields.pop(name, None) is not None)
        s.keyspace.drop_if_empty(s.db, args[0])
        return gone


@command("HINCRBY", 4)
def hincrby(s: Session, args: list[bytes]) -> int:
    by = to_int(args[2])
    with s.keyspace.lock:
        fields = _hash(s, args[0], create=True)
        assert fields is not None
        current = to_int(fields[args[1]], "hash value is not an integer") if args[1] in fields else 0
        result = current + by
        if not INT64[0] <= result <= INT64[1]:
            raise RedisError("ERR increment or decrement would overflow")
        fields[args[1]] = str(result).encode()
        return result


@command("HLEN", 2)
def hlen(s: Session, args: list[bytes]) -> int:
    return len(_hash(s, args[0]) or {})


@command("HEXISTS", 3)
def hexists(s: Session, args: list[bytes]) -> int:
    return int(args[1] in (_hash(s, args[0]) or {}))


@command("HSTRLEN", 3)
def hstrlen(s: Session, args: list[bytes]) -> int:
    return len((_hash(s, args[0]) or {}).get(args[1], b""))


__all__: list[str] = []
