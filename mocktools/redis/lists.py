"""List commands: LPUSH/RPUSH, LPOP/RPOP (with count), LRANGE, LLEN, and the blocking BLPOP/BRPOP
that a queue consumer waits in (timeouts on the mock clock; a stopping mock closes the connection)."""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from ..listeners.tcp import ConnectionDropped
from .commands import command, syntax_error, to_float, to_int, variants
from .resp import NULL_ARRAY, RedisError

if TYPE_CHECKING:
    from .wire import Session


# -- lists -----------------------------------------------------------------------------------
def _push(s: Session, args: list[bytes], left: bool) -> int:
    with s.keyspace.changed:
        items: deque[bytes] = s.keyspace.container(s.db, args[0], "list", create=True)
        for value in args[1:]:
            if left:
                items.appendleft(value)
            else:
                items.append(value)
        s.keyspace.changed.notify_all()
        return len(items)


variants(_push, -3, {"LPUSH": True, "RPUSH": False})


def _pop(s: Session, args: list[bytes], left: bool) -> Any:
    if len(args) > 2:
        raise syntax_error()
    count = None if len(args) == 1 else to_int(args[1], "value is out of range, must be positive")
    if count is not None and count < 0:
        raise RedisError("ERR value is out of range, must be positive")
    with s.keyspace.lock:
        items = s.keyspace.container(s.db, args[0], "list", create=False)
        if not items:
            return NULL_ARRAY if count is not None else None
        taken = [items.popleft() if left else items.pop() for _ in range(min(count or 1, len(items)))]
        s.keyspace.drop_if_empty(s.db, args[0])
        return taken if count is not None else taken[0]


variants(_pop, -2, {"LPOP": True, "RPOP": False})


@command("LLEN", 2)
def llen(s: Session, args: list[bytes]) -> int:
    items = s.keyspace.container(s.db, args[0], "list", create=False)
    return len(items) if items else 0


@command("LRANGE", 4)
def lrange(s: Session, args: list[bytes]) -> list[bytes]:
    start, stop = to_int(args[1]), to_int(args[2])
    with s.keyspace.lock:
        items = list(s.keyspace.container(s.db, args[0], "list", create=False) or ())
    n = len(items)
    start = max(0, start + n if start < 0 else start)
    stop = stop + n if stop < 0 else min(stop, n - 1)
    return items[start:stop + 1] if start <= stop else []


def _bpop(s: Session, args: list[bytes], left: bool) -> Any:
    timeout = to_float(args[-1])
    if timeout < 0:
        raise RedisError("ERR timeout is negative")
    # inside MULTI/EXEC a blocking pop does not block, as in Redis
    found = s.keyspace.blocking_pop(s.db, args[:-1], timeout, left, s.stopping, block=not s.in_exec)
    if found is None and (s.stopping.is_set() or s.keyspace.closed):
        raise ConnectionDropped("server stopping")  # as Redis shutting down: the connection closes
    return NULL_ARRAY if found is None else list(found)


variants(_bpop, -3, {"BLPOP": True, "BRPOP": False})


__all__: list[str] = []
