"""The Lucene syntax luqum gives the Teraslice list endpoints beyond the old hand-written subset."""
from __future__ import annotations

import threading

import pytest

from mocktools.teraslice.query import QueryError, parse_query

RECS = [
    {"name": "a-job", "_status": "running", "workers": 5, "_created": "2024-03-01T00:00:00.000Z", "tags": ["x"]},
    {"name": "b-job", "_status": "failed", "workers": 1, "_created": "2025-06-01T00:00:00.000Z"},
    {"name": "c job", "_status": "stopped", "workers": 12, "_created": "2023-01-01T00:00:00.000Z"},
]


def names(query: str) -> list[str]:
    pred = parse_query(query)
    return [r["name"] for r in RECS if pred(r)]


@pytest.mark.parametrize("query,expected", [
    ("_created:[2024-01-01 TO 2025-01-01]", ["a-job"]),           # was three ORed terms
    ("workers:[1 TO 5]", ["a-job", "b-job"]),
    ("workers:{1 TO 5]", ["a-job"]),
    ("workers:[5 TO *]", ["a-job", "c job"]),
    ("_status:(running OR failed)", ["a-job", "b-job"]),
    ("_status:running || _status:failed", ["a-job", "b-job"]),
    ("_status:* && !_status:failed", ["a-job", "c job"]),
    ("+_status:running workers:99", ["a-job"]),                     # MUST beats SHOULD
    ("-_status:running -_status:failed", ["c job"]),                # purely negative
    ("name:/[ab]-job/", ["a-job", "b-job"]),
    ("name:b-jbo~1", ["b-job"]),                                    # a transposition is one edit
    ("name:a-job^3", ["a-job"]),
    ('name:"c job"~2', ["c job"]),
    ("tags:x", ["a-job"]),
])
def test_lucene_syntax(query: str, expected: list[str]) -> None:
    assert names(query) == expected


@pytest.mark.parametrize("bad", ["name:/[/", "_status:(running", "workers:[1 TO", "a:b OR"])
def test_refused_with_a_clear_error(bad: str) -> None:
    with pytest.raises(QueryError, match=r"Failed to parse query \["):
        parse_query(bad)


def test_parsing_from_many_threads_is_safe() -> None:
    queries = [f"workers:[{i} TO {i + 5}] AND _status:(running OR stopped OR x{i})" for i in range(40)]
    errors: list[BaseException] = []

    def work(q: str) -> None:
        try:
            pred = parse_query(q)
            pred(RECS[0])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(q,)) for q in queries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
