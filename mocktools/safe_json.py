"""JSON from untrusted clients, made safe to store, copy and echo.

Two things a client can send that Python's own `json` module accepts but that break a mock
later: nesting deep enough that any recursive walk (a deep copy, `json.dumps`, a renderer)
raises RecursionError, and lone UTF-16 surrogates (`"\\ud800"`) that raise UnicodeEncodeError
the moment a string is encoded to UTF-8. `loads()` settles both at the boundary, once:

* nesting deeper than `MAX_DEPTH` levels is refused with `JSONDepthError` (a ValueError, so
  callers that answer ValueError with 400 keep doing so);
* every lone surrogate, in a value or a key, is replaced with U+FFFD (the replacement
  character), so what is stored and echoed is the same valid Unicode a UTF-8 transcoder would
  give. Paired surrogates (`"\\ud83d\\ude00"`) are a real character and are kept.

`copy()` is an iterative deep copy of a JSON value, for code that must not share a client's
document and must not recurse.
"""
from __future__ import annotations

import itertools
import json
import operator
import re
from typing import Any

#: deepest nesting accepted from a client (arrays and objects); deeper bodies get a 400
MAX_DEPTH = 256
REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")
# a lone surrogate can only arrive as a \\uD8xx-\\uDFxx escape or as raw (invalid) UTF-8 bytes
# ED A0..BF xx, which json.loads(bytes) decodes with "surrogatepass"
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


class JSONDepthError(ValueError):
    """The document nests deeper than the mock accepts."""

    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(f"JSON nesting deeper than {limit} levels (at least {depth})")
        self.depth = depth
        self.limit = limit


def clean_str(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (valid, encodable Unicode)."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def loads(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """Parse JSON, refusing nesting past `max_depth` and replacing lone surrogates.

    Raises ValueError (json.JSONDecodeError, UnicodeDecodeError or JSONDepthError) for a body
    that is not acceptable JSON; never RecursionError.
    """
    limit = MAX_DEPTH if max_depth is None else max_depth
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JSONDepthError(limit + 1, limit) from None
    if raw.count(b"[") + raw.count(b"{") > limit:
        deepest = _depth_of_valid_json(raw, limit)
        if deepest > limit:
            raise JSONDepthError(deepest, limit)
    if (b"\\u" in raw or b"\xed" in raw) and _MAYBE_SURROGATE.search(raw) is not None:
        value = _walk(value, limit, True)
    return value


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_TO_SQUARE = bytes.maketrans(b"{}", b"[]")
_RUNS = re.compile(rb"\[+|\]+")


def _depth_of_valid_json(raw: bytes, limit: int) -> int:
    """How deep `raw` (already parsed, so well-formed) nests, at C speed.

    Strings are dropped and everything but brackets (objects count as arrays); a few passes
    peel the innermost empty pairs (each lowers the depth by exactly one and removes the
    alternations that would make many runs); the rest is a max prefix sum over the alternating
    runs of opening and closing brackets. Costs about what `json.loads` of the same body does."""
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # escapes come in pairs, left to right
    outside = b"".join(unescaped.split(b'"')[0::2])  # what lies outside strings
    brackets = outside.translate(_TO_SQUARE, _NOT_BRACKETS)
    peeled = 0
    while brackets and peeled < 4:
        brackets = brackets.replace(b"[]", b"")
        peeled += 1
    if not brackets:
        return peeled
    runs = list(map(len, _RUNS.findall(brackets)))  # opens, closes, opens, ... (well-formed: starts with "[")
    opens = itertools.accumulate(runs[0::2])
    closed_before = itertools.accumulate(runs[1::2], initial=0)
    return peeled + max(map(operator.sub, opens, closed_before))


def _walk(value: Any, limit: int, fix: bool) -> Any:
    """Check depth and (when `fix`) replace lone surrogates, iteratively, in place."""
    if isinstance(value, str):
        return clean_str(value) if fix else value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > limit:
                raise JSONDepthError(depth, limit)
            if fix and any(_SURROGATE.search(k) for k in node):
                items = list(node.items())
                node.clear()
                for key, item in items:
                    node[clean_str(key)] = item  # two keys may merge into one: last wins, as in JSON
            for key, item in node.items():
                if isinstance(item, str):
                    if fix:
                        node[key] = clean_str(item)
                elif isinstance(item, (dict, list)):
                    stack.append((item, depth + 1))
        elif isinstance(node, list):
            if depth > limit:
                raise JSONDepthError(depth, limit)
            for i, item in enumerate(node):
                if isinstance(item, str):
                    if fix:
                        node[i] = clean_str(item)
                elif isinstance(item, (dict, list)):
                    stack.append((item, depth + 1))
    return value


def depth(value: Any) -> int:
    """How deeply a JSON value nests (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
            deepest = max(deepest, level + 1)
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
            deepest = max(deepest, level + 1)
    return deepest


def copy(value: Any, *, clean: bool = False) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars), without recursion.

    With `clean`, strings and keys have their lone surrogates replaced (see `clean_str`), so a
    value handed over from Python is as safe to store and echo as one parsed by `loads`.
    """
    if isinstance(value, str):
        return clean_str(value) if clean else value
    if not isinstance(value, (dict, list)):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items: Any = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, (dict, list)):
                child: Any = {} if isinstance(item, dict) else []
                stack.append((item, child))
            else:
                child = clean_str(item) if clean and isinstance(item, str) else item
            if isinstance(target, dict):
                target[clean_str(key) if clean and isinstance(key, str) else key] = child
            else:
                target.append(child)
    return root


__all__ = ["MAX_DEPTH", "REPLACEMENT", "JSONDepthError", "clean_str", "copy", "depth", "loads"]
