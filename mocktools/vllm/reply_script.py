"""Scripted replies of the vLLM mock: a queue, a table, a function, a fixed reply (in that order).

Anything that yields ``None`` falls through to the next source and finally to the deterministic
generator (generation.py).
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .generation import GenerationRequest

Reply = Callable[["GenerationRequest"], Any]


class ReplyScript:
    """Scripted replies, checked in this order: queue, table, function, fixed reply.

    Anything that yields ``None`` falls through to the next source and finally to the
    deterministic generator. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Any] = deque()
        self._table: dict[str, str] = {}
        self._function: Reply | None = None
        self._fixed: str | None = None

    def set_reply(self, text: str | None) -> None:
        with self._lock:
            self._fixed = text

    def enqueue_replies(self, texts: Sequence[Any]) -> None:
        """Queue replies, one per request: strings, Turns, ToolCalls, lists of ToolCalls or functions."""
        from .turns import UnservableReply, to_turn
        if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
            raise UnservableReply(f"replies must be a list (one item per request), got {type(texts).__name__}")
        items = list(texts)
        for t in items:
            if not callable(t):
                to_turn(t, "queued reply")  # refuse what cannot be served now, not at request time
        with self._lock:
            self._queue.extend(items)

    def set_reply_table(self, table: Mapping[str, str] | None) -> None:
        with self._lock:
            self._table = dict(table or {})

    def set_reply_function(self, fn: Reply | None) -> None:
        with self._lock:
            self._function = fn

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._table.clear()
            self._function = None
            self._fixed = None

    def calls_user_code(self) -> bool:
        """Whether the next reply may come from a function (which may block)."""
        with self._lock:
            return self._function is not None or bool(self._queue) and any(callable(item) for item in self._queue)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"queued": len(self._queue), "table_keys": sorted(self._table),
                    "function": self._function is not None, "fixed": self._fixed}

    def next_reply(self, req: GenerationRequest) -> Any:
        """The scripted reply for one request (shared by all its choices): a string, a Turn, or None.

        A reply function's result must be servable (see turns.to_turn): anything else raises
        UnservableReply instead of being sent as its repr.
        """
        from .turns import to_turn
        with self._lock:
            item: Any = self._queue.popleft() if self._queue else None
            if item is None and self._table:
                for key in (req.prompt, req.last_user_message, _raw_prompt(req)):
                    if key is not None and key in self._table:
                        item = self._table[key]
                        break
            fn, fixed = self._function, self._fixed
        if item is not None:
            if callable(item):
                item = item(req)
                to_turn(item, "queued reply function")
            return item
        if fn is not None:
            out = fn(req)
            to_turn(out, "reply function")
            if out is not None:
                return out
        return fixed


def _raw_prompt(req: GenerationRequest) -> str | None:
    raw = req.body.get("prompt")
    return raw if isinstance(raw, str) else None


