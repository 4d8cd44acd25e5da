"""How each API frames its stream, ends it, and reports a mid-stream failure.

The engine's timing, admission and fault loop is one (Engine.stream); these codecs are the only
per-format part, so an injected error, a missing terminator or a truncation looks to each
client as it would from that real server:

* OpenAI chat/completions: ``data: <json>``, ``data: [DONE]``; errors ``data: {"error": …}`` + [DONE].
* Responses: ``event: <type>`` + ``data: <json>`` with ``sequence_number``; no [DONE]; the terminal
  event is ``response.completed`` / ``response.incomplete``; an error is an ``error`` event.
* Anthropic Messages: ``event: <type>`` + ``data: <json>``; the terminal event is ``message_stop``;
  an error stops the open content block, then ``event: error``.
"""
from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

from ..errors import ApiError


def compact_encoder(*, ensure_ascii: bool, default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """``json.dumps(obj, separators=(",", ":"), ensure_ascii=…, default=…)``, same text, built once:
    json's C encoder made one time instead of per call (a third of an event's encoding). Our
    documents are never circular, so the circularity check is left out."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii, default=default)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return encoder.encode
    quote = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    iterencode = make(None, encoder.default, quote, None, ":", ",", False, False, True)

    def dumps(obj: Any) -> str:
        if isinstance(obj, str):
            return encoder.encode(obj)
        return "".join(iterencode(obj, 0))
    return dumps


#: one encoder for every event
_dumps = compact_encoder(ensure_ascii=False)
#: the quote `_dumps` applies to a str (ensure_ascii=False)
_quote: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


class EventTemplate:
    """``OpenAICodec().encode(make(piece))`` for any str ``piece``, from two byte strings made once:
    the event of ``make(SENTINEL)`` split around the sentinel's JSON string. A paced stream's
    common chunk (one choice's text, no logprobs, not its last) then costs a quote and two joins
    instead of a dict built and walked by the encoder (1,000 streams at 50 tokens/s each are
    50,000 events a second on one loop thread; profiled: 8 of a token's 36 µs went to the dict
    and its encoding). Byte-identical by construction: the rest of the event is the encoder's
    own text, and the piece goes through the quote function the encoder uses."""

    __slots__ = ("head", "tail")
    #: stands for the piece; never in a request's text (a NUL-framed name), and checked: an event
    #: that contains it anywhere else gets no template
    SENTINEL = "\x00mocktools-piece\x00"

    def __init__(self, head: bytes, tail: bytes) -> None:
        self.head, self.tail = head, tail

    @classmethod
    def of(cls, chunk: dict[str, Any]) -> EventTemplate | None:
        """The template of ``chunk`` (whose piece is `SENTINEL`), or None if it cannot be split."""
        parts = OpenAICodec().encode(chunk).split(_QUOTED_SENTINEL)
        return cls(parts[0], parts[1]) if len(parts) == 2 else None

    def __call__(self, piece: str) -> bytes:
        return self.head + _quote(piece).encode() + self.tail


class EventTemplates:
    """`EventTemplate`s of one stream's text chunks, one per choice index, made when first used:
    ``event(i, piece)`` is ``OpenAICodec().encode(make(i, piece))``, as bytes (or the chunk
    itself where no template could be made)."""

    __slots__ = ("make", "made")

    def __init__(self, make: Callable[[int, str], dict[str, Any]]) -> None:
        self.make = make
        self.made: dict[int, EventTemplate | None] = {}

    def event(self, index: int, piece: str) -> dict[str, Any] | bytes:
        made = self.made
        template = made[index] if index in made else made.setdefault(
            index, EventTemplate.of(self.make(index, EventTemplate.SENTINEL)))
        return template(piece) if template is not None else self.make(index, piece)


def sse(obj: Any) -> bytes:
    data = obj if isinstance(obj, str) else _dumps(obj)
    return f"data: {data}\n\n".encode()


class OpenAICodec:
    """vLLM's chat/completions SSE."""

    def encode(self, chunk: dict[str, Any]) -> bytes:
        return f"data: {_dumps(chunk)}\n\n".encode()

    def is_terminal(self, chunk: dict[str, Any]) -> bool:
        return False

    def done(self) -> bytes | None:
        return sse("[DONE]")

    def error(self, message: str, etype: str, status: int) -> list[bytes]:
        return [sse({"error": {"message": message, "type": etype, "param": None, "code": status}}), sse("[DONE]")]

    def deferred(self, exc: ApiError) -> list[bytes]:
        return [sse({"error": {"message": exc.message, "type": exc.type or "BadRequestError",
                               "param": exc.extra.get("param"), "code": exc.status}}), sse("[DONE]")]


class ResponsesCodec(OpenAICodec):
    """Responses API events; numbers every event it sends, error events included."""

    def __init__(self) -> None:
        self.seq = 0

    def encode(self, chunk: dict[str, Any]) -> bytes:
        event = {"type": chunk["type"], **{k: v for k, v in chunk.items() if k != "type"},
                 "sequence_number": self.seq}
        self.seq += 1
        return f"event: {chunk['type']}\ndata: {_dumps(event)}\n\n".encode()

    def is_terminal(self, chunk: dict[str, Any]) -> bool:
        return chunk.get("type") in ("response.completed", "response.incomplete")

    def done(self) -> bytes | None:
        return None

    def error(self, message: str, etype: str, status: int) -> list[bytes]:
        return [self.encode({"type": "error", "code": etype, "message": message, "param": None})]


class AnthropicCodec(OpenAICodec):
    """Anthropic Messages events; remembers the open content block so an error can close it."""

    def __init__(self) -> None:
        self.open_block: int | None = None

    def encode(self, chunk: dict[str, Any]) -> bytes:
        kind = chunk["type"]
        if kind == "content_block_start":
            self.open_block = chunk["index"]
        elif kind == "content_block_stop":
            self.open_block = None
        return f"event: {kind}\ndata: {_dumps(chunk)}\n\n".encode()

    def is_terminal(self, chunk: dict[str, Any]) -> bool:
        return chunk.get("type") == "message_stop"

    def done(self) -> bytes | None:
        return None

    def error(self, message: str, etype: str, status: int) -> list[bytes]:
        from .anthropic_api import error_type
        out = []
        if self.open_block is not None:
            out.append(self.encode({"type": "content_block_stop", "index": self.open_block}))
        out.append(self.encode({"type": "error", "error": {"type": error_type(status), "message": message}}))
        return out


_QUOTED_SENTINEL = _quote(EventTemplate.SENTINEL).encode()
