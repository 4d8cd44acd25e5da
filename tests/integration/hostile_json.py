"""Hypothesis strategies for hostile JSON bodies (shared by the hostile-input suite).

Values a careless or hostile client sends: lone surrogates, control and bidi characters, huge
and non-finite numbers, wrong types in known fields, deep nesting, broken encodings.
"""
from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: seeded (derandomized), bounded, no deadline: the machine is shared and loaded
HOSTILE = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SURROGATES = st.sampled_from(["\ud800", "\udfff", "x\udbff", "\ud83d", "\udc00\ud800", "\ud83d\ude00"])
ODD_TEXT = st.sampled_from(["", " ", "\x00", "\u202e\u2066", "💥", "a" * 5000, "../../etc/passwd", "%00", "null",
                            "<script>", "\r\n", "\ufeff"])
TEXT = st.one_of(st.text(max_size=12), SURROGATES, ODD_TEXT)
NUMBERS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 1, 2, 2**31, 2**63, 10**30, -(10**30)]),
                    st.floats(allow_nan=True, allow_infinity=True))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(TEXT, inner, max_size=4)), max_leaves=10)


def shaped(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with a route's known fields (each sane or hostile) plus stray keys."""
    optional = {name: st.one_of(good, VALUES) for name, good in fields.items()}
    return st.builds(lambda known, extra: {**extra, **known},
                     st.fixed_dictionaries({}, optional=optional), st.dictionaries(TEXT, VALUES, max_size=2))


def _deep(depth: int) -> bytes:
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


RAW = st.one_of(
    st.integers(1, 1500).map(_deep),
    st.sampled_from([b"", b"{", b'{"a":', b"\xff\xfe{}", b'{"x": "\xed\xa0\x80"}', b"[]", b"null", b"1e999",
                     b'"\\ud800"', b"{" * 100_000, b'{"a": NaN, "b": -Infinity}', b'{"a": 1, "a": 2}']),
    st.binary(max_size=64),
)


def encode(body: Any) -> bytes:
    """JSON bytes of a drawn body (bytes are sent as they are)."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as \\udxxx escapes


def bodies(fields: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(shaped(fields), VALUES, RAW)


def send(http: requests.Session, method: str, url: str, body: Any,
         content_type: str = "application/json", **kwargs: Any) -> requests.Response:
    """Send one hostile body; the answer must be an answer (never a dropped connection or a 5xx)."""
    answer = http.request(method, url, data=encode(body), headers={"Content-Type": content_type, **kwargs},
                          timeout=30)
    assert answer.status_code < 500, f"{method} {url} -> {answer.status_code}: {answer.text[:300]}"
    return answer
