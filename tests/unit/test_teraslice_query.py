"""Lucene subset, sorting, paging limits and the easy-table layout of /txt/*."""
from __future__ import annotations

import pytest

from mocktools.teraslice.query import (QueryError, check_window, parse_int, parse_query,
                                       parse_sort, sort_records)
from mocktools.teraslice.txt import make_table, parse_fields

RECS = [
    {"name": "a-job", "_status": "running", "workers": 5, "active": True, "assets": ["x", "y"]},
    {"name": "b-job", "_status": "failed", "workers": 1, "active": False},
    {"name": "c job", "_status": "stopped", "workers": 12},
]


def names(query: str) -> list[str]:
    pred = parse_query(query)
    return [r["name"] for r in RECS if pred(r)]


@pytest.mark.parametrize("query,expected", [
    ("_status:running", ["a-job"]),
    ('_status:"failed"', ["b-job"]),
    ("_status:running OR _status:failed", ["a-job", "b-job"]),
    ("_status:running _status:failed", ["a-job", "b-job"]),
    ("workers:>4 AND NOT _status:stopped", ["a-job"]),
    ("workers:>=12", ["c job"]),
    ("workers:<2", ["b-job"]),
    ("workers:<=5", ["a-job", "b-job"]),
    ("workers:5", ["a-job"]),
    ("workers:abc", []),
    ("workers:>x", []),
    ("name:*-job", ["a-job", "b-job"]),
    ('name:"c job"', ["c job"]),
    ("active:*", ["a-job", "b-job"]),
    ("active:false", ["b-job"]),
    ('active:"true"', ["a-job"]),
    ("!active:true", ["b-job", "c job"]),
    ("-_status:running", ["b-job", "c job"]),
    ("(_status:running OR _status:stopped) AND workers:>10", ["c job"]),
    ("_status:* NOT _status:failed", ["a-job", "c job"]),
    ("assets:y", ["a-job"]),
    ("failed", ["b-job"]),
    ("name:>b", ["b-job", "c job"]),
    ("name:<=b-job", ["a-job", "b-job"]),
])
def test_query_subset(query: str, expected: list[str]) -> None:
    assert names(query) == expected


@pytest.mark.parametrize("bad", ["(_status:running", "AND", "_status:", ")", '"unterminated',
                                 "a AND", "NOT"])
def test_bad_queries_raise(bad: str) -> None:
    with pytest.raises(QueryError):
        parse_query(bad)


def test_sort_multi_key_missing_last_both_ways() -> None:
    keys = parse_sort("active:desc,workers:asc", {"active", "workers"})
    assert keys == [("active", True), ("workers", False)]
    out = sort_records(RECS, lambda r: r, keys)
    assert [r["name"] for r in out] == ["a-job", "b-job", "c job"]
    out = sort_records(RECS, lambda r: r, parse_sort("active", {"active"}))
    assert [r["name"] for r in out] == ["b-job", "a-job", "c job"]
    out = sort_records(RECS, lambda r: r, parse_sort("name:desc", {"name"}))
    assert [r["name"] for r in out] == ["c job", "b-job", "a-job"]
    with pytest.raises(QueryError):
        parse_sort("nope:desc", {"name"})
    with pytest.raises(QueryError):
        parse_sort("name:sideways", {"name"})
    assert parse_sort(" , ", {"name"}) == []


def test_paging_options() -> None:
    assert parse_int(None, "size", 100) == 100
    assert parse_int("", "size", 100) == 100
    assert parse_int(" 7 ", "size", 100) == 7
    with pytest.raises(ValueError, match="size parameter must be a integer, got 1.5"):
        parse_int("1.5", "size", 100)
    check_window(10000, 0)
    for size, start in [(-1, 0), (0, -1), (9000, 1001)]:
        with pytest.raises(QueryError):
            check_window(size, start)


def test_easy_table_layout() -> None:
    text = make_table([{"a": "x", "b": 10, "c": None}, {"a": "longer", "b": True}],
                      ["a", "b", "c"])
    assert text == ("a       b     c   \n"
                    "------  ----  ----\n"
                    "x       10    null\n"
                    "longer  true  N/A \n")
    assert make_table([], ["job_id", "name"]) == ("job_id  name\n------  ----\n" "        " "    \n")
    assert make_table([{"a": "x"}], ["a"], headers=False) == "x\n"
    nested = make_table([{"s": {"k": [1, 2]}, "l": [3, None], "f": 2.0, "o": {"x": 1}}],
                        ["s.k", "s.k.1", "s.z", "l", "f", "o"], headers=False)
    assert nested == "1,2  2  N/A  3,  2  [object Object]\n"
    assert parse_fields("a, b c", ["d"]) == ["a", "b", "c"]
    assert parse_fields("", ["d"]) == ["d"]
    assert parse_fields(" , ", ["d"]) == ["d"]


def test_hostile_queries_are_refused_not_crashed() -> None:
    for bad in ["NOT " * 100 + "a:b", "(" * 70 + "a:b" + ")" * 70, "a:b " * 1100, "x" * 20001]:
        with pytest.raises(QueryError):
            parse_query(bad)
    assert parse_query("NOT " * 10 + "name:a-job")(RECS[0]) is True
