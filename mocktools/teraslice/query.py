"""Search options of the real list endpoints: a Lucene query subset, ES-style sort and paging.

The real master hands `q=`/`sort=`/`from`/`size` to Elasticsearch; the mock evaluates the same
strings against the records it renders. Queries are Lucene syntax parsed by luqum (see
`lucene.py` for why a library and what it costs): `field:value`, `field:"quoted value"`,
wildcards, `field:*` (exists), `field:>N` comparisons, `[a TO b]` / `{a TO b}` ranges, field groups
`field:(a OR b)`, regex, fuzzy, boosts, AND / OR / NOT / `&&` / `||` / `!` / `+` / `-` and
parentheses; juxtaposed clauses follow Lucene's SHOULD / MUST / MUST_NOT rules.
"""
from __future__ import annotations

import fnmatch
import re
from typing import Any, Callable, Iterable, TypeVar

from mocktools.errors import WireError

from .lucene import LuceneError, compile_query

T = TypeVar("T")
Predicate = Callable[[dict[str, Any]], bool]
MAX_RESULT_WINDOW = 10_000


class QueryError(WireError, ValueError):
    """A query, sort or paging option Elasticsearch would refuse (HTTP 400)."""


def _value_matches(actual: Any, expected: str) -> bool:
    if isinstance(actual, bool):
        actual = "true" if actual else "false"
    if isinstance(actual, list):
        return any(_value_matches(item, expected) for item in actual)
    if isinstance(actual, (int, float)):
        for op in (">=", "<=", ">", "<"):
            if expected.startswith(op):
                try:
                    bound = float(expected[len(op):])
                except ValueError:
                    return False
                return {">=": actual >= bound, "<=": actual <= bound,
                        ">": actual > bound, "<": actual < bound}[op]
        try:
            return float(expected) == float(actual)
        except ValueError:
            return False
    text = str(actual)
    for op in (">=", "<=", ">", "<"):
        if expected.startswith(op):
            text_bound = expected[len(op):]
            return {">=": text >= text_bound, "<=": text <= text_bound,
                    ">": text > text_bound, "<": text < text_bound}[op]
    if "*" in expected or "?" in expected:
        return fnmatch.fnmatchcase(text, expected)
    return text == expected


def parse_query(text: str) -> Predicate:
    """Compile a Lucene query string into a predicate over records (QueryError if invalid)."""
    try:
        return compile_query(text, _value_matches)
    except LuceneError as exc:
        raise QueryError(str(exc)) from None


def parse_sort(sort: str, allowed: Iterable[str]) -> list[tuple[str, bool]]:
    """`field:desc,other:asc` -> [(field, descending)]; unknown fields raise QueryError."""
    allowed = set(allowed)
    keys: list[tuple[str, bool]] = []
    for part in sort.split(","):
        part = part.strip()
        if not part:
            continue
        field, _, order = part.partition(":")
        order = order.strip().lower() or "asc"
        if order not in ("asc", "desc"):
            raise QueryError(f"Unknown sort order [{order}] for field [{field}]")
        if field not in allowed:
            raise QueryError(f"No mapping found for [{field}] in order to sort on")
        keys.append((field, order == "desc"))
    return keys


def _rank(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def sort_records(items: list[T], record: Callable[[T], dict[str, Any]],
                 keys: list[tuple[str, bool]]) -> list[T]:
    """Stable multi-key sort; records missing a field go last either way (ES `_last`)."""
    out = list(items)
    for field, desc in reversed(keys):
        present = [it for it in out if record(it).get(field) is not None]
        missing = [it for it in out if record(it).get(field) is None]
        present.sort(key=lambda it: _rank(record(it)[field]), reverse=desc)
        out = present + missing
    return out


def sort_fast(items: list[T], keys: list[tuple[str, bool]],
              attrs: dict[str, Callable[[T], Any]],
              record: Callable[[T], dict[str, Any]]) -> list[T]:
    """`sort_records`, but fields always present on the objects are read straight from them
    (one C-level sort per key instead of record lookups): 10,000 executions sort in ~3 ms."""
    out = list(items)
    for field, desc in reversed(keys):
        getter = attrs.get(field)
        if getter is None:
            out = sort_records(out, record, [(field, desc)])
        else:
            out.sort(key=getter, reverse=desc)
    return out


def parse_int(raw: str | None, name: str, default: int) -> int:
    """Teraslice's parseQueryInt: '' or absent -> default; non-integers -> ValueError (500 there)."""
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"{name} parameter must be a integer, got {raw}")
    return int(text)


def check_window(size: int, start: int) -> None:
    """Elasticsearch's limits on from/size."""
    if size < 0:
        raise QueryError(f"[size] parameter cannot be negative, found [{size}]")
    if start < 0:
        raise QueryError(f"[from] parameter cannot be negative, found [{start}]")
    if size + start > MAX_RESULT_WINDOW:
        raise QueryError(
            f"Result window is too large, from + size must be less than or equal to: "
            f"[{MAX_RESULT_WINDOW}] but was [{size + start}]. See the scroll api for a more "
            f"efficient way to request large data sets. This limit can be set by changing the "
            f"[index.max_result_window] index level setting.")
