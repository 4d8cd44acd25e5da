"""RESP, the Redis serialization protocol: requests parsed by hiredis, replies encoded for RESP2 or RESP3.

Requests are arrays of bulk strings (what every client sends); hiredis, the parser redis-py
itself uses when installed, reads them. An inline command (`PING\\r\\n` typed into telnet) is
split on whitespace as Redis does. Replies are plain Python values, encoded per connection:
RESP3 (after `HELLO 3`) has maps, sets, doubles, booleans, nulls and push messages; RESP2 flattens
maps to arrays, sends doubles as bulk strings and booleans as integers.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, BinaryIO

import hiredis

from ..errors import WireError

MAX_INLINE = 64 * 1024
MAX_REQUEST = 64 * 1024 * 1024  # bytes of one unfinished command before it is refused (Redis: 512 MB)


class SimpleString(str):
    """A `+OK`-style status reply."""


class Push(list):  # type: ignore[type-arg]
    """An out-of-band message (pub/sub): `>` in RESP3, a plain array in RESP2."""


class NullArray:
    """RESP2's `*-1` (e.g. BLPOP timing out); `_` in RESP3."""


OK = SimpleString("OK")
PONG = SimpleString("PONG")
QUEUED = SimpleString("QUEUED")
NULL_ARRAY = NullArray()


class RedisError(WireError):
    """An error reply. `message` starts with the error code Redis uses (`ERR`, `WRONGTYPE`...)."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        code = message.split(" ", 1)[0]
        if not code.isupper():
            message = f"ERR {message}"
        super().__init__(message, status=status)


class ProtocolError(RedisError):
    """The client sent something that is not RESP; Redis answers and closes the connection."""


def wrong_type() -> RedisError:
    return RedisError("WRONGTYPE Operation against a key holding the wrong kind of value")


def encode_error(exc: WireError) -> bytes:
    message = exc.message.replace("\r", " ").replace("\n", " ")
    if not isinstance(exc, RedisError) and not message.split(" ", 1)[0].isupper():
        message = f"ERR {message}"
    return b"-" + message.encode("utf-8", "replace") + b"\r\n"


def encode(value: Any, protocol: int = 2) -> bytes:
    """One reply as bytes in `protocol` (2 or 3)."""
    out: list[bytes] = []
    _encode(value, protocol, out)
    return b"".join(out)


def _encode(value: Any, protocol: int, out: list[bytes]) -> None:
    if isinstance(value, SimpleString):
        out.append(b"+" + value.encode() + b"\r\n")
    elif isinstance(value, bytes):
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif isinstance(value, bool):
        if protocol == 3:
            out.append(b"#t\r\n" if value else b"#f\r\n")
        else:
            out.append(b":1\r\n" if value else b":0\r\n")
    elif isinstance(value, int):
        out.append(b":%d\r\n" % value)
    elif isinstance(value, float):
        text = repr(value).encode() if math.isfinite(value) else (
            b"nan" if math.isnan(value) else (b"inf" if value > 0 else b"-inf"))
        out.append(b"," + text + b"\r\n" if protocol == 3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif value is None:
        out.append(b"_\r\n" if protocol == 3 else b"$-1\r\n")
    elif isinstance(value, NullArray):
        out.append(b"_\r\n" if protocol == 3 else b"*-1\r\n")
    elif isinstance(value, WireError):
        out.append(encode_error(value))
    elif isinstance(value, dict):
        out.append((b"%%%d\r\n" if protocol == 3 else b"*%d\r\n") % (len(value) * (1 if protocol == 3 else 2)))
        for key, item in value.items():
            _encode(key, protocol, out)
            _encode(item, protocol, out)
    elif isinstance(value, (set, frozenset)):
        out.append((b"~%d\r\n" if protocol == 3 else b"*%d\r\n") % len(value))
        for item in sorted(value):
            _encode(item, protocol, out)
    elif isinstance(value, Push):
        out.append((b">%d\r\n" if protocol == 3 else b"*%d\r\n") % len(value))
        for item in value:
            _encode(item, protocol, out)
    elif isinstance(value, (list, tuple)):
        out.append(b"*%d\r\n" % len(value))
        for item in value:
            _encode(item, protocol, out)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as RESP")


class RequestReader:
    """Commands from a client stream, one list of byte strings each."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.reader = hiredis.Reader()
        self.pending = b""  # bytes not yet given to hiredis (inline commands are parsed here)
        self.unfinished = 0  # bytes fed to hiredis since its last complete command

    def __iter__(self) -> Iterator[list[bytes]]:
        while True:
            command = self.next_command()
            if command is None:
                return
            if command:
                yield command

    def next_command(self) -> list[bytes] | None:
        """The next command ([] for an empty inline line), or None at the end of the stream."""
        while True:
            try:
                frame = self.reader.gets()
            except hiredis.ProtocolError as exc:
                raise ProtocolError(f"Protocol error: {exc}") from None
            if frame is not False:
                self.unfinished = 0
                return self._validate(frame)
            if self.unfinished > MAX_REQUEST:
                raise ProtocolError(f"Protocol error: a command over {MAX_REQUEST} bytes")
            if self.pending:
                if self.pending[:1] != b"*":
                    line, sep, rest = self.pending.partition(b"\n")
                    if sep:
                        self.pending = rest
                        return line.strip(b"\r").split()
                    if len(self.pending) > MAX_INLINE:
                        raise ProtocolError("Protocol error: too big inline request")
                else:
                    self.reader.feed(self.pending)
                    self.unfinished += len(self.pending)
                    self.pending = b""
                    continue
            data = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not data:
                return None
            if self.pending or (self._idle() and data[:1] != b"*"):
                self.pending += data
            else:
                self.reader.feed(data)
                self.unfinished += len(data)

    def _idle(self) -> bool:
        """True when hiredis holds no partial frame (so new bytes start a new command)."""
        return not self.reader.has_data() if hasattr(self.reader, "has_data") else True

    @staticmethod
    def _validate(frame: Any) -> list[bytes]:
        if not isinstance(frame, list) or not all(isinstance(part, bytes) for part in frame):
            raise ProtocolError("Protocol error: expected an array of bulk strings")
        return frame


__all__ = [
    "NULL_ARRAY",
    "OK",
    "PONG",
    "NullArray",
    "ProtocolError",
    "Push",
    "RedisError",
    "RequestReader",
    "SimpleString",
    "encode",
    "encode_error",
    "wrong_type",
]
