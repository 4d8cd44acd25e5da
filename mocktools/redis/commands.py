"""The command table, and the key and string commands (with TTLs); hashes.py and lists.py add theirs.

Each command is `fn(session, args) -> reply` registered with its Redis arity (exact when
positive, a minimum when negative, counting the command name). Replies are plain values that
resp.encode turns into RESP2 or RESP3. Errors use Redis's own texts, so a client's error
handling sees what it would see from Redis.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .keyspace import Entry
from .resp import OK, RedisError, SimpleString

if TYPE_CHECKING:
    from .wire import Session

Handler = Callable[["Session", list[bytes]], Any]
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Command:
    name: str
    fn: Handler
    arity: int
    #: answered before AUTH and inside a RESP2 subscription (connection commands)
    connection: bool = False


COMMANDS: dict[str, Command] = {}


def command(name: str, arity: int, *, connection: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = Command(name, fn, arity, connection)
        return fn
    return register


def variants(impl: Callable[[Session, list[bytes], Any], Any], arity: int, flags: dict[str, Any], *,
             connection: bool = False) -> None:
    """Register commands that differ by one argument of `impl` (LPUSH/RPUSH, SUBSCRIBE/PSUBSCRIBE...)."""
    for name, flag in flags.items():
        COMMANDS[name] = Command(name, functools.partial(_with_flag, impl, flag), arity, connection)


def _with_flag(impl: Callable[[Session, list[bytes], Any], Any], flag: Any, s: Session, args: list[bytes]) -> Any:
    return impl(s, args, flag)


def _number(value: bytes, parse: Callable[[bytes], Any], what: str) -> Any:
    try:
        number = parse(value)
    except ValueError:
        raise RedisError(f"ERR {what}") from None
    bad = math.isnan(number) if isinstance(number, float) else (
        not INT64[0] <= number <= INT64[1] or value.strip() != value)
    if bad:
        raise RedisError(f"ERR {what}")
    return number


def to_int(value: bytes, what: str = "value is not an integer or out of range") -> int:
    return int(_number(value, int, what))


def to_float(value: bytes, what: str = "timeout is not a float or out of range") -> float:
    return float(_number(value, float, what))


def syntax_error() -> RedisError:
    return RedisError("ERR syntax error")


# -- keys ------------------------------------------------------------------------------------
@command("DEL", -2)
def delete(s: Session, args: list[bytes]) -> int:
    return s.keyspace.delete(s.db, args)


COMMANDS["UNLINK"] = Command("UNLINK", delete, -2)


@command("EXISTS", -2)
def exists(s: Session, args: list[bytes]) -> int:
    return sum(1 for key in args if s.keyspace.entry(s.db, key) is not None)


@command("TYPE", 2)
def key_type(s: Session, args: list[bytes]) -> SimpleString:
    found = s.keyspace.entry(s.db, args[0])
    return SimpleString(found.kind if found else "none")


@command("KEYS", 2)
def keys(s: Session, args: list[bytes]) -> list[bytes]:
    return s.keyspace.keys(s.db, args[0])


@command("SCAN", -2)
def scan(s: Session, args: list[bytes]) -> list[Any]:
    """Cursor = position in the sorted key list: every key present for the whole scan is returned."""
    cursor = to_int(args[0], "invalid cursor")
    pattern, count, kind = b"*", 10, None
    rest = args[1:]
    while rest:
        option = rest[0].upper()
        if len(rest) < 2:
            raise syntax_error()
        if option == b"MATCH":
            pattern = rest[1]
        elif option == b"COUNT":
            count = to_int(rest[1])
            if count < 1:
                raise syntax_error()
        elif option == b"TYPE":
            kind = rest[1].decode().lower()
        else:
            raise syntax_error()
        rest = rest[2:]
    everything = s.keyspace.keys(s.db)
    page = everything[cursor:cursor + count]
    following = cursor + count if cursor + count < len(everything) else 0
    found = [k for k in page if _matches(s, k, pattern, kind)]
    return [str(following).encode(), found]


def _matches(s: Session, key: bytes, pattern: bytes, kind: str | None) -> bool:
    from .keyspace import glob

    if not glob(pattern, key):
        return False
    entry = s.keyspace.entry(s.db, key)
    return entry is not None and (kind is None or entry.kind == kind)


@command("DBSIZE", 1)
def dbsize(s: Session, args: list[bytes]) -> int:
    return s.keyspace.size(s.db)


@command("FLUSHDB", -1)
def flushdb(s: Session, args: list[bytes]) -> SimpleString:
    if args and args[0].upper() not in (b"ASYNC", b"SYNC"):
        raise syntax_error()
    s.keyspace.flush(s.db)
    return OK


@command("FLUSHALL", -1)
def flushall(s: Session, args: list[bytes]) -> SimpleString:
    if args and args[0].upper() not in (b"ASYNC", b"SYNC"):
        raise syntax_error()
    s.keyspace.flush()
    return OK


# -- expiry ----------------------------------------------------------------------------------
def _expire(s: Session, args: list[bytes], scale: float) -> int:
    amount = to_int(args[1])
    flags = {a.upper() for a in args[2:]}
    if not flags <= {b"NX", b"XX", b"GT", b"LT"} or (b"NX" in flags and len(flags) > 1) or {b"GT", b"LT"} <= flags:
        raise RedisError("ERR NX and XX, GT or LT options at the same time are not compatible"
                         if flags <= {b"NX", b"XX", b"GT", b"LT"} else f"ERR Unsupported option {min(flags).decode()}")
    with s.keyspace.lock:
        entry = s.keyspace.entry(s.db, args[0])
        if entry is None:
            return 0
        when = s.keyspace.now() + amount * scale
        current = entry.expires
        if (b"NX" in flags and current is not None) or (b"XX" in flags and current is None):
            return 0
        if b"GT" in flags and (current is None or when <= current):
            return 0
        if b"LT" in flags and current is not None and when >= current:
            return 0
        if amount * scale <= 0:
            s.keyspace.delete(s.db, [args[0]])
        else:
            entry.expires = when
        return 1


variants(_expire, -3, {"EXPIRE": 1.0, "PEXPIRE": 0.001})


@command("PERSIST", 2)
def persist(s: Session, args: list[bytes]) -> int:
    with s.keyspace.lock:
        entry = s.keyspace.entry(s.db, args[0])
        if entry is None or entry.expires is None:
            return 0
        entry.expires = None
        return 1


def _ttl_ms(s: Session, key: bytes) -> int:
    entry = s.keyspace.entry(s.db, key)
    if entry is None:
        return -2
    if entry.expires is None:
        return -1
    return max(0, round((entry.expires - s.keyspace.now()) * 1000))


@command("TTL", 2)
def ttl(s: Session, args: list[bytes]) -> int:
    ms = _ttl_ms(s, args[0])
    return ms if ms < 0 else (ms + 500) // 1000


@command("PTTL", 2)
def pttl(s: Session, args: list[bytes]) -> int:
    return _ttl_ms(s, args[0])


# -- strings ---------------------------------------------------------------------------------
@command("GET", 2)
def get(s: Session, args: list[bytes]) -> bytes | None:
    entry = s.keyspace.entry(s.db, args[0], "string")
    return entry.value if entry else None


@command("SET", -3)
def set_(s: Session, args: list[bytes]) -> Any:
    return _set(s, args, "set")


def _set(s: Session, args: list[bytes], name: str) -> Any:
    key, value, rest = args[0], args[1], [a.upper() for a in args[2:]]
    raw = args[2:]
    condition, want_old, keep_ttl, expires = None, False, False, None
    i = 0
    while i < len(rest):
        option = rest[i]
        if option in (b"NX", b"XX") and condition in (None, option):
            condition = option
        elif option == b"GET":
            want_old = True
        elif option == b"KEEPTTL" and expires is None:
            keep_ttl = True
        elif option in (b"EX", b"PX", b"EXAT", b"PXAT") and expires is None and not keep_ttl and i + 1 < len(rest):
            amount = to_int(raw[i + 1])
            if amount <= 0:
                raise RedisError(f"ERR invalid expire time in '{name}' command")
            now = s.keyspace.now()
            expires = {b"EX": now + amount, b"PX": now + amount / 1000, b"EXAT": float(amount),
                       b"PXAT": amount / 1000}[option]
            i += 1
        else:
            raise syntax_error()
        i += 1
    with s.keyspace.lock:
        old = s.keyspace.entry(s.db, key, "string" if want_old else None)
        if (condition == b"NX" and old is not None) or (condition == b"XX" and old is None):
            return old.value if want_old and old is not None else None
        if keep_ttl and old is not None:
            expires = old.expires
        s.keyspace.put(s.db, key, Entry("string", value, expires))
        if want_old:
            return old.value if old is not None else None
        return OK


@command("SETEX", 4)
def setex(s: Session, args: list[bytes]) -> Any:
    return _set(s, [args[0], args[2], b"EX", args[1]], "setex")


@command("PSETEX", 4)
def psetex(s: Session, args: list[bytes]) -> Any:
    return _set(s, [args[0], args[2], b"PX", args[1]], "psetex")


@command("SETNX", 3)
def setnx(s: Session, args: list[bytes]) -> int:
    return 1 if set_(s, [args[0], args[1], b"NX"]) is OK else 0


@command("GETDEL", 2)
def getdel(s: Session, args: list[bytes]) -> bytes | None:
    with s.keyspace.lock:
        value = get(s, args)
        if value is not None:
            s.keyspace.delete(s.db, args)
        return value


@command("MGET", -2)
def mget(s: Session, args: list[bytes]) -> list[bytes | None]:
    found = []
    for key in args:
        entry = s.keyspace.entry(s.db, key)
        found.append(entry.value if entry is not None and entry.kind == "string" else None)
    return found


@command("MSET", -3)
def mset(s: Session, args: list[bytes]) -> SimpleString:
    if len(args) % 2:
        raise RedisError("ERR wrong number of arguments for 'mset' command")
    with s.keyspace.lock:
        for key, value in zip(args[::2], args[1::2]):
            s.keyspace.put(s.db, key, Entry("string", value))
    return OK


def _incr(s: Session, key: bytes, by: int) -> int:
    with s.keyspace.lock:
        entry = s.keyspace.entry(s.db, key, "string")
        current = to_int(entry.value) if entry is not None else 0
        result = current + by
        if not INT64[0] <= result <= INT64[1]:
            raise RedisError("ERR increment or decrement would overflow")
        if entry is None:
            s.keyspace.put(s.db, key, Entry("string", str(result).encode()))
        else:
            entry.value = str(result).encode()
        return result


@command("INCR", 2)
def incr(s: Session, args: list[bytes]) -> int:
    return _incr(s, args[0], 1)


@command("DECR", 2)
def decr(s: Session, args: list[bytes]) -> int:
    return _incr(s, args[0], -1)


@command("INCRBY", 3)
def incrby(s: Session, args: list[bytes]) -> int:
    return _incr(s, args[0], to_int(args[1]))


@command("DECRBY", 3)
def decrby(s: Session, args: list[bytes]) -> int:
    return _incr(s, args[0], -to_int(args[1]))


@command("APPEND", 3)
def append(s: Session, args: list[bytes]) -> int:
    with s.keyspace.lock:
        entry = s.keyspace.entry(s.db, args[0], "string")
        if entry is None:
            s.keyspace.put(s.db, args[0], Entry("string", args[1]))
            return len(args[1])
        entry.value += args[1]
        return len(entry.value)


@command("STRLEN", 2)
def strlen(s: Session, args: list[bytes]) -> int:
    entry = s.keyspace.entry(s.db, args[0], "string")
    return len(entry.value) if entry else 0


__all__ = ["COMMANDS", "Command", "command", "syntax_error", "to_float", "to_int"]
