"""Domain controls of MockRedisServer under /_mock/redis/ (beside the shared /_mock/ controls),
declared on the keyspace: list keys, move the fake clock, publish as another client."""
from __future__ import annotations

from typing import Any

from ..clock import Clock, FakeClock
from ..control_schema import STRING, ControlRoute, integer, number, obj
from ..errors import ApiError
from .keyspace import Keyspace

#: the longest single advance (one leap year)
MAX_ADVANCE = 366 * 86400.0


def redis_controls(keyspace: Keyspace, clock: Clock) -> list[ControlRoute]:
    def keys(db: int = 0, pattern: str = "*") -> dict[str, Any]:
        found = keyspace.keys(db, pattern.encode("utf-8", "surrogateescape"))
        return {"db": db, "keys": [k.decode("utf-8", "replace") for k in found]}

    def advance(seconds: float) -> dict[str, Any]:
        if not isinstance(clock, FakeClock):
            raise ApiError(409, "advance needs the mock to run on a FakeClock (MockRedisServer(clock=FakeClock()))",
                           type="not_a_fake_clock")
        now = clock.advance(seconds)
        keyspace.wake()  # blocking pops and expiries see the new time
        return {"clock": now}

    def publish(channel: str, message: str) -> dict[str, Any]:
        return {"receivers": keyspace.publish(channel.encode(), message.encode())}

    return [
        ControlRoute("/_mock/redis/keys", "GET", keys,
                     obj(db=integer(0, len(keyspace.dbs) - 1, default=0), pattern={**STRING, "default": "*"}),
                     summary="The live keys of database `db` matching the glob `pattern`", tag="redis"),
        ControlRoute("/_mock/redis/advance", "POST", advance,
                     obj(["seconds"], seconds=number(0.0, MAX_ADVANCE, description="seconds on the fake clock")),
                     summary="Move the fake clock: keys expire, blocking pops time out",
                     responses={409: "the mock runs on the real clock"}, tag="redis"),
        ControlRoute("/_mock/redis/publish", "POST", publish, obj(["channel", "message"], channel=STRING,
                                                                   message=STRING),
                     summary="Publish as another client; answers how many subscribers received it", tag="redis"),
    ]


__all__ = ["redis_controls", "MAX_ADVANCE"]
