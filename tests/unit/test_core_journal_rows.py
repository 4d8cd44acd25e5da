"""Journal.note keeps calls as compact rows (issue 15): read back, they are the records
`record(CallRecord(...))` keeps, and the garbage collector does not track them."""
from __future__ import annotations

import gc

from mocktools.journal import CallRecord, Journal


def _note(journal: Journal, path: str = "/a", body: bytes = b'{"x": 1}', status: int | None = 200) -> None:
    journal.note(12.5, "POST", path, "q=1", ("Host", "h", "Content-Type", "application/json"), body,
                 status, 0.002, None, None)


def test_a_noted_call_reads_back_as_the_recorded_one() -> None:
    noted, recorded = Journal(), Journal()
    _note(noted)
    recorded.record(CallRecord(time=12.5, method="POST", path="/a", query="q=1",
                               headers={"Host": "h", "Content-Type": "application/json"}, body=b'{"x": 1}',
                               status=200, duration=0.002))
    a, b = noted.calls()[0], recorded.calls()[0]
    assert a.to_dict() == b.to_dict()
    assert a.headers["content-type"] == "application/json" and a.json == {"x": 1}
    assert noted.limits() == recorded.limits()
    assert noted.last("/a").seq == 1 and noted.find(json={"x": 1})[0].query == "q=1"  # type: ignore[union-attr]


def test_rows_and_records_mix_and_keep_the_bounds() -> None:
    journal = Journal(limit=3, max_body_bytes=4)
    _note(journal, "/a", b"0123456789")
    journal.add(path="/b")
    _note(journal, "/c", status=None)
    _note(journal, "/d")
    calls = journal.calls()
    assert [c.path for c in calls] == ["/b", "/c", "/d"] and [c.seq for c in calls] == [2, 3, 4]
    assert journal.count() == 4 and journal.count("/a") == 1 and journal.limits()["dropped"] == 1
    assert journal.status_counts() == {200: 2, None: 2}
    assert journal.calls(method="post")[0].path == "/c"
    first = Journal(max_body_bytes=4)
    _note(first, "/a", b"0123456789")
    record = first.calls()[0]
    assert record.body == b"0123" and record.size == 10 and record.truncated and record.json is None


def test_rows_are_not_tracked_by_the_garbage_collector() -> None:
    journal = Journal()
    for i in range(100):
        _note(journal, f"/p/{i}")
    gc.collect()
    assert not any(gc.is_tracked(row) for row in journal._records)
