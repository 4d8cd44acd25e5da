"""Domain controls of MockRedisServer under /_mock/redis/ (beside the shared /_mock/ controls)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from ..errors import ApiError
from ..routing import Router, read_json_object

if TYPE_CHECKING:
    from .mock import MockRedisServer


def register_redis_admin_routes(mock: MockRedisServer, router: Router) -> None:
    def keys(request: Request) -> dict[str, Any]:
        db = _db(request.args.get("db", "0"))
        found = mock.keys(request.args.get("pattern", "*"), db)
        return {"db": db, "keys": [k.decode("utf-8", "replace") for k in found]}

    def advance(request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        seconds = body.get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 366 * 86400:
            raise ApiError(400, "seconds must be a number from 0 to 31622400", type="bad_request", field="seconds")
        try:
            return {"clock": mock.advance(float(seconds))}
        except TypeError as exc:
            raise ApiError(409, str(exc), type="not_a_fake_clock") from None

    def publish(request: Request) -> dict[str, Any]:
        body = read_json_object(request)
        channel, message = body.get("channel"), body.get("message")
        if not isinstance(channel, str) or not isinstance(message, str):
            raise ApiError(400, "channel and message must be strings", type="bad_request",
                           field="channel" if not isinstance(channel, str) else "message")
        return {"receivers": mock.publish(channel, message)}

    router.add("/_mock/redis/keys", keys)
    router.add("/_mock/redis/advance", advance, methods=["POST"])
    router.add("/_mock/redis/publish", publish, methods=["POST"])


def _db(raw: str) -> int:
    try:
        db = int(raw)
    except ValueError:
        raise ApiError(400, "db must be an integer", type="bad_request", field="db") from None
    if not 0 <= db < 16:
        raise ApiError(400, "db must be 0-15", type="bad_request", field="db")
    return db


__all__ = ["register_redis_admin_routes"]
