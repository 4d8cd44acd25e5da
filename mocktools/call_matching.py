"""How a recorded call is matched: case-insensitive headers, JSON subsets, query strings, paths.

Split from journal.py (the journal keeps records; this is the query language over them), shared by
journal queries, stubs and verification.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from .journal import CallRecord

_MISSING = object()


class HeaderMap(Mapping[str, str]):
    """Headers as received (names keep their case), looked up case-insensitively.

    Wrapping costs nothing per request: the lower-cased index is built on the first lookup that
    misses the exact name."""

    __slots__ = ("_data", "_lower")

    def __init__(self, data: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._data: dict[str, str] = data if isinstance(data, dict) else dict(data or {})
        self._lower: dict[str, str] | None = None

    def _index(self) -> dict[str, str]:
        lower = self._lower
        if lower is None:
            lower = self._lower = {k.lower(): v for k, v in self._data.items()}
        return lower

    def __getitem__(self, key: str) -> str:
        try:
            return self._data[key]
        except KeyError:
            return self._index()[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self._data or key.lower() in self._index())

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self._index() == {str(k).lower(): v for k, v in other.items()}

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HeaderMap({self._data!r})"


def json_contains(actual: Any, expected: Any) -> bool:
    """True when `expected` is a subset of `actual`: objects may have extra keys (recursively);
    lists match element by element with the same length; other values are equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and json_contains(actual[key], value) for key, value in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(json_contains(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, re.Pattern):
        return isinstance(actual, str) and expected.fullmatch(actual) is not None
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return bool(actual == expected)


def value_matches(actual: Any, expected: Any) -> bool:
    """One value against an expectation: equal, a compiled regex (full match) or a predicate."""
    if isinstance(expected, re.Pattern):
        return actual is not None and expected.fullmatch(str(actual)) is not None
    if callable(expected):
        return bool(expected(actual))
    return bool(actual == expected)


def parse_query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)


def query_matches(query: str, expected: Any, *, exact: bool = False) -> bool:
    """A raw query string against a string (equal), a predicate, or a mapping of names to a value,
    a list of values, a regex or a predicate (a subset, or all names with `exact`)."""
    if isinstance(expected, bytes):
        expected = expected.decode()
    if isinstance(expected, str):
        return query == expected.lstrip("?")
    if callable(expected) and not isinstance(expected, Mapping):
        return bool(expected(query))
    args = parse_query(query)
    if exact and set(args) != set(expected):
        return False
    for name, want in expected.items():
        values = args.get(name)
        if values is None:
            return False
        if isinstance(want, (list, tuple)):
            if [str(w) for w in want] != values:
                return False
        elif exact and len(values) != 1 or not any(value_matches(v, _str(want)) for v in values):
            return False
    return True


def _str(value: Any) -> Any:
    return value if isinstance(value, (str, re.Pattern)) or callable(value) else str(value)


def headers_match(headers: Mapping[str, str], expected: Mapping[str, Any]) -> bool:
    """Every expected header is present (name case-insensitive) with a matching value."""
    for name, want in expected.items():
        actual = headers.get(name, _MISSING)
        if actual is _MISSING:
            if isinstance(headers, HeaderMap):
                return False
            actual = next((v for k, v in headers.items() if k.lower() == name.lower()), _MISSING)
            if actual is _MISSING:
                return False
        if not value_matches(actual, want):
            return False
    return True


def path_matches(path: str, expected: Any) -> bool:
    """A path against a string (exact, or an fnmatch pattern), a compiled regex or a predicate."""
    if isinstance(expected, str):
        return path == expected or (any(ch in expected for ch in "*?[") and fnmatchcase(path, expected))
    return value_matches(path, expected)


class CallQuery:
    """A query over recorded calls; every criterion given must hold (see `Journal.find`)."""

    __slots__ = ("body", "headers", "json", "method", "path", "query", "status", "where")

    def __init__(self, *, method: str | None = None, path: Any = None, query: Any = None,
                 headers: Mapping[str, Any] | None = None, json: Any = _MISSING, body: Any = None,
                 status: Any = None, where: Any = None) -> None:
        self.method = method.upper() if isinstance(method, str) else method
        self.path, self.query, self.headers, self.json = path, query, headers, json
        self.body = body.encode() if isinstance(body, str) else body
        self.status, self.where = status, where

    def matches(self, record: CallRecord) -> bool:
        if self.method is not None and not value_matches(record.method, self.method):
            return False
        if self.path is not None and not path_matches(record.path, self.path):
            return False
        if self.query is not None and not query_matches(record.query, self.query):
            return False
        if self.headers is not None and not headers_match(record.headers, self.headers):
            return False
        if self.json is not _MISSING and not json_contains(record.json, self.json):
            return False
        if self.body is not None and not value_matches(record.body, self.body):
            return False
        if self.status is not None and not value_matches(record.status, self.status):
            return False
        return self.where is None or bool(self.where(record))

    def describe(self) -> str:
        parts = [f"{name}={getattr(self, name)!r}" for name in self.__slots__
                 if getattr(self, name) is not None and getattr(self, name) is not _MISSING]
        return ", ".join(parts) or "any call"


__all__ = ["HeaderMap", "json_contains", "value_matches", "parse_query", "query_matches", "headers_match", "path_matches", "CallQuery"]
