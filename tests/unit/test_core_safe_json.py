"""mocktools.safe_json: the one boundary where client JSON is made safe to store, copy and echo."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocktools import safe_json


def test_lone_surrogates_are_replaced_in_values_keys_and_raw_bytes() -> None:
    assert safe_json.loads(b'{"a": "x\\ud800", "\\udfff": ["\\udbff"]}') == {"a": "x\ufffd", "\ufffd": ["\ufffd"]}
    assert safe_json.loads(b'{"raw": "\xed\xa0\x80"}') == {"raw": "\ufffd"}
    assert safe_json.loads('"\\ud800"') == "\ufffd"
    assert safe_json.loads(b'"\\ud83d\\ude00"') == "\U0001f600"  # a real pair is a real character
    cleaned = safe_json.loads(b'{"k": "\\ud800"}')
    assert json.dumps(cleaned, ensure_ascii=False).encode()  # encodable as UTF-8 now


def test_nesting_is_bounded_without_recursion_errors() -> None:
    assert safe_json.depth(safe_json.loads("[" * 256 + "]" * 256)) == 256
    for depth in (257, 990, 100_000):
        with pytest.raises(safe_json.JSONDepthError, match="nesting deeper than 256"):
            safe_json.loads("[" * depth + "]" * depth)
    assert isinstance(safe_json.JSONDepthError(1, 1), ValueError)  # callers answering ValueError with 400 keep doing so
    with pytest.raises(ValueError):
        safe_json.loads(b"\xff{}")


def test_copy_is_deep_iterative_and_optionally_cleans() -> None:
    value: list = []
    node = value
    for _ in range(5000):  # far deeper than copy.deepcopy survives
        node.append([])
        node = node[0]
    copied = safe_json.copy(value)
    assert copied is not value and safe_json.depth(copied) == 5001
    doc = {"a": ["x\ud800", {"\udc00k": [1, {"b": "ok"}]}]}
    assert safe_json.copy(doc) == doc
    assert safe_json.copy(doc, clean=True) == {"a": ["x\ufffd", {"\ufffdk": [1, {"b": "ok"}]}]}
    assert safe_json.copy("\ud800", clean=True) == "\ufffd"


JSON_VALUES = st.recursive(st.one_of(st.none(), st.integers(), st.text(alphabet='[]{}"\\a', max_size=6)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner,
                                                                   max_size=3)), max_leaves=30)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=JSON_VALUES)
def test_the_fast_depth_check_agrees_with_a_walk(value: object) -> None:
    raw = json.dumps(value).encode()
    assert safe_json._depth_of_valid_json(raw, 256) == safe_json.depth(value)
