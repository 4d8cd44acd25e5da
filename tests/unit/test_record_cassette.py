"""Cassette format details without a socket: vcrpy shapes, binary bodies, redaction, matching."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mocktools.journal import (
    CallQuery,
    CallRecord,
    HeaderMap,
    Journal,
    headers_match,
    query_matches,
    value_matches,
)
from mocktools.record import REDACTED, Cassette, Interaction, Redactor


def test_round_trip_keeps_binary_bodies_chunks_and_vcrpy_shapes(tmp_path: Path) -> None:
    interaction = Interaction("POST", "http://h:1/p?a=1", {"Content-Type": ["application/octet-stream"]}, b"\xff\x00",
                              201, "Created", {"X": ["1", "2"]}, b"ok", chunks=[(0.5, b"o"), (0.25, b"\xfek")])
    path = Cassette(tmp_path / "sub" / "c.yaml", [interaction]).save()
    data = yaml.safe_load(Path(path).read_text())
    assert data["version"] == 1 and data["interactions"][0]["response"]["status"] == {"code": 201, "message": "Created"}
    assert data["interactions"][0]["request"]["body"] == b"\xff\x00"  # YAML !!binary, as vcrpy writes it
    back = Cassette.load(path).interactions[0]
    assert back == interaction and back.path == "/p" and back.query == "a=1"
    assert back.describe() == "POST /p?a=1 -> 201"


def test_older_vcrpy_tags_and_bad_files(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("interactions:\n- request: {method: get, uri: !!python/unicode 'http://x/y', body: null,"
                   " headers: {Accept: !!python/tuple ['*/*']}}\n  response: {status: 204, headers: {}, body: {string: ''}}\n")
    [i] = Cassette.load(old).interactions
    assert (i.method, i.path, i.status, i.reason, i.request_headers) == ("GET", "/y", 204, "No Content", {"Accept": ["*/*"]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(ValueError, match="not a VCR cassette"):
        Cassette.load(bad)
    with pytest.raises(ValueError, match="no path"):
        Cassette().save()


def test_redactor_and_matchers_on_every_field() -> None:
    redactor = Redactor(["x-secret"], ["sig"])
    assert redactor.header_lists([("X-Secret", "a"), ("X-Other", "b"), ("X-Other", "c")]) == {
        "X-Secret": [REDACTED], "X-Other": ["b", "c"]}
    assert redactor.uri("http://h/p?sig=1&a=2") == f"http://h/p?sig={REDACTED}&a=2"
    assert redactor.uri("http://h/p") == "http://h/p" and Redactor([], []).uri("http://h/p?sig=1") == "http://h/p?sig=1"
    recorded = Interaction("POST", "http://h/p?sig=REDACTED&a=2", {"X-Tenant": ["t"], "Authorization": [REDACTED]},
                           b'{"k": 1}')
    matcher = recorded.matcher(("method", "path", "query", "body", "headers"))
    live = CallRecord(method="POST", path="/p", query="a=2&sig=zzz", headers={"x-tenant": "t", "authorization": "Bearer"},
                      body=b'{ "k" : 1 }')
    assert matcher.match(live)
    assert [d[0] for d in matcher.differences(CallRecord(method="POST", path="/p", query="a=3", body=b"{}"))] == [
        "query", "headers", "json"]
    raw = Interaction("PUT", "http://h/r", request_body=b"raw").matcher(("body",))
    assert raw.match(CallRecord(body=b"raw")) and not raw.match(CallRecord(body=b"other"))


def test_journal_helpers_edge_cases() -> None:
    headers = HeaderMap([("A", "1")])
    assert headers["a"] == "1" and (headers == 3) is False and repr(headers) == "HeaderMap({'A': '1'})"
    assert query_matches("a=1", b"a=1") and query_matches("a=1", lambda q: q.startswith("a"))
    assert not query_matches("a=1&a=2", {"a": "1"}, exact=True) and not query_matches("a=1", {"a": ["1", "2"]})
    assert not query_matches("", {"a": "1"})
    assert headers_match({"Content-Type": "x"}, {"content-type": "x"}) and not headers_match({}, {"a": "1"})
    assert value_matches("abc", re.compile("a.c")) and value_matches(5, lambda v: v > 3) and not value_matches(None, re.compile("x"))
    journal = Journal()
    journal.record(CallRecord(path="/a", body=b"xyz", status=500))
    assert [r.path for r in journal] == ["/a"] and journal.count_matching(body="xyz", status=500) == 1
    assert journal.find(CallQuery(method=re.compile("G.T"))) == []
    assert CallRecord(body=b"\xff").json is None
