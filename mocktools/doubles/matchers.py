"""Request matchers: what a stub, a verification or a replayed cassette asks of a request.

The verbs and arguments follow pytest-httpserver (`uri`, `method`, `query_string`, `headers`,
`data`, `json`), so its users need nothing new. A matcher also says *how far* a request is from
it, field by field, which is what the near-miss report prints (as WireMock's does).
"""
from __future__ import annotations

import json as _json
import re
from collections.abc import Callable, Mapping
from difflib import SequenceMatcher
from typing import Any

from werkzeug.wrappers import Request

from ..journal import (
    HeaderMap,
    headers_match,
    json_contains,
    query_matches,
    value_matches,
)

UNDEFINED: Any = type("Undefined", (), {"__repr__": lambda self: "UNDEFINED"})()
_UNPARSED = object()

#: how much each field weighs in a near-miss distance: WireMock's weights (URL 10, method 3, every
#: other part 1; the headers together count as one part)
WEIGHTS = {"path": 10.0, "method": 3.0, "query": 1.0, "headers": 1.0, "body": 1.0, "json": 1.0,
           "predicate": 1.0, "scenario": 1.0}


class RequestView:
    """The parts of a live request a matcher reads; the same shape as a journal CallRecord."""

    __slots__ = ("_body", "_json", "_request", "headers", "method", "path", "query")

    def __init__(self, request: Request) -> None:
        environ = request.environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        self.path: str = request.path
        self.query: str = environ.get("QUERY_STRING", "")
        self.headers = request.headers
        self._request = request
        self._body: bytes | None = None
        self._json: Any = _UNPARSED

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = self._request.get_data(cache=True)
        return self._body

    @property
    def json(self) -> Any:
        if self._json is _UNPARSED:
            try:
                self._json = _json.loads(self.body) if self.body else None
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    def snapshot(self) -> RequestSnapshot:
        return RequestSnapshot(self.method, self.path, self.query, dict(self.headers.items()), self.body)


class RequestSnapshot:
    """A request kept after it was answered (for near-miss reports): plain data only."""

    __slots__ = ("_json", "body", "headers", "method", "path", "query")

    def __init__(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> None:
        self.method, self.path, self.query, self.body = method, path, query, body
        self.headers = HeaderMap(dict(headers))
        self._json: Any = _UNPARSED

    @property
    def json(self) -> Any:
        if self._json is _UNPARSED:
            try:
                self._json = _json.loads(self.body) if self.body else None
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    def describe(self) -> str:
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''}"


class JSONSubset:
    """`json=JSONSubset({...})`: the body is JSON and contains these keys (extra keys allowed)."""

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def __call__(self, actual: Any) -> bool:
        return json_contains(actual, self.expected)

    def __repr__(self) -> str:
        return f"JSONSubset({self.expected!r})"


class URIPattern:
    """Base of custom URI matchers (pytest-httpserver's name): override `match(uri)`."""

    def match(self, uri: str) -> bool:
        raise NotImplementedError


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio() if a or b else 1.0


def _show(value: Any) -> str:
    if isinstance(value, re.Pattern):
        return f"regex {value.pattern!r}"
    if isinstance(value, bytes):
        return repr(value[:200])
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


class RequestMatcher:
    """Every criterion given must hold; `differences()` lists the fields that do not."""

    def __init__(self, uri: str | re.Pattern[str] | URIPattern | None = None, method: str | None = None,
                 query_string: Any = None, headers: Mapping[str, Any] | None = None,
                 data: str | bytes | None = None, data_encoding: str = "utf-8", json: Any = UNDEFINED,
                 predicate: Callable[[Any], bool] | None = None) -> None:
        self.uri = uri
        self.method = method.upper() if method and method != "__ALL" else None
        self.query_string = query_string
        self.headers = dict(headers) if headers else None
        self.data = data.encode(data_encoding) if isinstance(data, str) else data
        self.json = json
        self.predicate = predicate

    @property
    def index_key(self) -> tuple[str | None, str] | None:
        """(method, path) when the URI is an exact path, so a stub can be found by dict lookup."""
        return (self.method, self.uri) if isinstance(self.uri, str) else None

    def _uri_ok(self, path: str) -> bool:
        uri = self.uri
        if uri is None or (isinstance(uri, str) and uri == path):
            return True
        if isinstance(uri, str):
            return False
        if isinstance(uri, re.Pattern):
            return uri.fullmatch(path) is not None
        return bool(uri.match(path))

    def _json_ok(self, actual: Any) -> bool:
        if self.json is UNDEFINED:
            return True
        if callable(self.json):
            return bool(self.json(actual))
        return bool(actual == self.json)

    def match(self, req: Any) -> bool:
        if self.method is not None and req.method != self.method:
            return False
        if not self._uri_ok(req.path):
            return False
        if self.query_string is not None and not query_matches(req.query, self.query_string, exact=True):
            return False
        if self.headers is not None and not headers_match(req.headers, self.headers):
            return False
        if self.data is not None and req.body != self.data:
            return False
        if self.json is not UNDEFINED and not self._json_ok(req.json):
            return False
        return self.predicate is None or bool(self.predicate(req))

    def differences(self, req: Any) -> list[tuple[str, str, str, float]]:
        """(field, expected, actual, distance 0..1) for every criterion the request misses."""
        out: list[tuple[str, str, str, float]] = []
        if self.method is not None and req.method != self.method:
            out.append(("method", self.method, req.method, 1.0))
        if not self._uri_ok(req.path):
            target = self.uri if isinstance(self.uri, str) else getattr(self.uri, "pattern", repr(self.uri))
            out.append(("path", _show(self.uri), repr(req.path), 1.0 - _ratio(str(target), req.path)))
        if self.query_string is not None and not query_matches(req.query, self.query_string, exact=True):
            out.append(("query", _show(self.query_string), repr(req.query), 1.0))
        if self.headers is not None:
            for name, want in self.headers.items():
                actual = req.headers.get(name)
                if actual is None or not value_matches(actual, want):
                    out.append(("headers", f"{name}: {_show(want)}",
                                "absent" if actual is None else f"{name}: {actual!r}", 1.0 / len(self.headers)))
        if self.data is not None and req.body != self.data:
            out.append(("body", _show(self.data), _show(req.body), 1.0 - _ratio(
                self.data.decode("utf-8", "replace"), req.body.decode("utf-8", "replace"))))
        if self.json is not UNDEFINED and not self._json_ok(req.json):
            out.append(("json", _show(self.json), _show(req.json), 1.0))
        if self.predicate is not None and not self.predicate(req):
            out.append(("predicate", getattr(self.predicate, "__name__", "predicate"), "returned False", 1.0))
        return out

    def fields(self) -> list[str]:
        names = [n for n, v in (("method", self.method), ("path", self.uri), ("query", self.query_string),
                                ("headers", self.headers), ("body", self.data), ("predicate", self.predicate))
                 if v is not None]
        return names + (["json"] if self.json is not UNDEFINED else [])

    def describe(self) -> str:
        parts = [self.method or "ANY", _show(self.uri) if not isinstance(self.uri, str) else self.uri or "*"]
        if self.query_string is not None:
            parts.append(f"query={_show(self.query_string)}")
        if self.headers:
            parts.append(f"headers={self.headers!r}")
        if self.data is not None:
            parts.append(f"data={_show(self.data)}")
        if self.json is not UNDEFINED:
            parts.append(f"json={_show(self.json)}")
        if self.predicate is not None:
            parts.append(f"predicate={getattr(self.predicate, '__name__', 'predicate')}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"<RequestMatcher {self.describe()}>"


def distance(differences: list[tuple[str, str, str, float]], fields: list[str]) -> float:
    """A weighted distance in 0..1 from `differences()`: 0 is a match, 1 differs in everything."""
    total = sum(WEIGHTS.get(f, 1.0) for f in set(fields) | {"path", "method"})
    return min(1.0, sum(WEIGHTS.get(field, 1.0) * d for field, _, _, d in differences) / total)  # as WireMock


__all__ = [
    "UNDEFINED",
    "WEIGHTS",
    "JSONSubset",
    "RequestMatcher",
    "RequestSnapshot",
    "RequestView",
    "URIPattern",
    "distance",
]
