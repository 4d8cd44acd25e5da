"""Matchers, the stub index, scenarios, near misses and journal queries, without a socket."""
from __future__ import annotations

import re

import pytest

from mocktools.doubles import (
    JSONSubset,
    RequestHandler,
    RequestMatcher,
    Scenarios,
    URIPattern,
)
from mocktools.doubles.nearmiss import near_misses, summary
from mocktools.doubles.stubs import StubSet
from mocktools.journal import (
    CallQuery,
    CallRecord,
    HeaderMap,
    Journal,
    json_contains,
    query_matches,
)


def record(method: str = "GET", path: str = "/", query: str = "", headers: dict | None = None,
           body: bytes = b"", status: int = 200) -> CallRecord:
    return CallRecord(method=method, path=path, query=query, headers=headers or {}, body=body, status=status)


def test_header_map_is_case_insensitive_and_keeps_names() -> None:
    headers = HeaderMap({"Content-Type": "application/json", "X-Trace": "t1"})
    assert headers["content-type"] == "application/json" and headers.get("x-TRACE") == "t1"
    assert "CONTENT-TYPE" in headers and "nope" not in headers and list(headers) == ["Content-Type", "X-Trace"]
    assert headers == {"content-type": "application/json", "x-trace": "t1"} and len(headers) == 2
    assert record(headers={"Authorization": "Bearer x"}).headers["authorization"] == "Bearer x"
    assert record(headers={"A": "1"}).to_dict()["headers"] == {"A": "1"}


def test_json_subset_semantics() -> None:
    actual = {"a": 1, "b": {"c": [1, {"d": 2, "e": 3}], "f": True}, "g": "x"}
    assert json_contains(actual, {"b": {"c": [1, {"d": 2}]}})
    assert not json_contains(actual, {"b": {"c": [1]}})          # lists keep their length
    assert not json_contains(actual, {"b": {"f": 1}})            # True is not 1
    assert json_contains(actual, {"g": re.compile("x|y")}) and not json_contains(None, {"a": 1})


def test_query_matching_subset_and_exact() -> None:
    assert query_matches("a=1&b=2&b=3", {"a": "1"}) and query_matches("a=1&b=2&b=3", {"b": ["2", "3"]})
    assert not query_matches("a=1&b=2", {"a": "1"}, exact=True) and query_matches("a=1", {"a": 1}, exact=True)
    assert query_matches("a=1&b=2", "a=1&b=2") and query_matches("x=abc", {"x": re.compile("a.c")})


def test_journal_find_by_every_field() -> None:
    journal = Journal()
    journal.record(record("POST", "/orders", "page=2", {"X-Tenant": "t1"}, b'{"id": 7, "items": [1]}', 201))
    journal.record(record("GET", "/orders/7", "", {"x-tenant": "t2"}, b"", 200))
    assert [r.path for r in journal.find(method="post")] == ["/orders"]
    assert journal.count_matching(path="/orders*") == 2 and journal.count_matching(path=re.compile(r"/orders/\d+")) == 1
    assert journal.count_matching(query={"page": "2"}) == 1 and journal.count_matching(headers={"X-TENANT": "t2"}) == 1
    assert journal.count_matching(json={"id": 7}) == 1 and journal.count_matching(json={"id": 8}) == 0
    assert journal.count_matching(status=201, where=lambda r: r.body.startswith(b"{")) == 1
    assert journal.find(CallQuery(headers={"x-tenant": re.compile("t[12]")})) == journal.calls()
    assert "method='POST'" in CallQuery(method="post").describe() and CallQuery().describe() == "any call"


def test_matcher_fields_and_differences() -> None:
    m = RequestMatcher("/api/items", "post", {"v": "1"}, {"Accept": "application/json"}, json=JSONSubset({"n": 1}))
    ok = record("POST", "/api/items", "v=1", {"accept": "application/json"}, b'{"n": 1, "extra": true}')
    assert m.match(ok) and m.index_key == ("POST", "/api/items")
    bad = record("GET", "/api/item", "v=2", {}, b'{"n": 2}')
    fields = [d[0] for d in m.differences(bad)]
    assert fields == ["method", "path", "query", "headers", "json"]
    assert RequestMatcher(re.compile(r"/u/\d+")).match(record(path="/u/12")) and RequestMatcher().index_key is None
    assert RequestMatcher(data="raw").match(record(body=b"raw"))
    assert RequestMatcher(predicate=lambda r: r.path.endswith("x")).match(record(path="/x"))

    class Prefix(URIPattern):
        def match(self, uri: str) -> bool:
            return uri.startswith("/p/")

    assert RequestMatcher(Prefix()).match(record(path="/p/1")) and not RequestMatcher(Prefix()).match(record(path="/q"))


def test_stub_index_prefers_first_registered_across_exact_and_patterns() -> None:
    stubs, scenarios = StubSet(), Scenarios()
    pattern = RequestHandler(RequestMatcher(re.compile("/a.*")), seq=1)
    exact = RequestHandler(RequestMatcher("/a", "GET"), seq=2)
    any_method = RequestHandler(RequestMatcher("/b"), seq=3)
    for stub in (exact, pattern, any_method):
        stubs.add(stub)
    assert stubs.find(record("GET", "/a"), scenarios) is pattern
    stubs.remove(pattern)
    assert stubs.find(record("GET", "/a"), scenarios) is exact and stubs.find(record("PUT", "/b"), scenarios) is any_method
    assert stubs.find(record("GET", "/c"), scenarios) is None and len(stubs) == 2 and list(stubs) == [exact, any_method]


def test_sequences_scenarios_and_validation() -> None:
    stub = RequestHandler(RequestMatcher("/s")).respond_with_sequence(["a", "b"])
    assert [stub.take_responder()(None).get_data() for _ in range(3)] == [b"a", b"b", b"b"]  # type: ignore
    cyc = RequestHandler(RequestMatcher("/s")).respond_with_sequence(["a", {"k": 1}], cycle=True)
    assert [cyc.take_responder()(None).get_data() for _ in range(3)] == [b"a", b'{"k": 1}', b"a"]  # type: ignore
    with pytest.raises(ValueError):
        stub.respond_with_sequence([])
    with pytest.raises(ValueError):
        stub.with_fault("explode")
    with pytest.raises(ValueError):
        stub.with_latency(-1)
    scenarios = Scenarios()
    gated = RequestHandler(RequestMatcher("/pay")).in_scenario("checkout", "started-paying", "paid")
    assert not gated.matches(record(path="/pay"), scenarios)
    scenarios.set("checkout", "started-paying")
    assert gated.matches(record(path="/pay"), scenarios)
    assert scenarios.move("checkout", "started-paying", "paid") and not scenarios.move("checkout", "x", "y")
    assert scenarios.all() == {"checkout": "paid"}
    scenarios.reset("checkout")
    assert scenarios.get("checkout") == "Started"
    with pytest.raises(ValueError):
        scenarios.set("checkout", "")


def test_near_misses_rank_by_weighted_distance() -> None:
    req = record("GET", "/orders/42")
    candidates = [("orders POST", RequestMatcher("/orders/42", "POST"), []),
                  ("users", RequestMatcher("/users", "GET"), []),
                  ("exact", RequestMatcher("/orders/42", "GET"), [])]
    misses = near_misses(req, candidates)
    assert [m.label for m in misses] == ["orders POST", "users"]  # the exact match is not a miss
    assert misses[0].differences[0][:3] == ("method", "POST", "GET")
    assert "closest: orders POST; differs in method" in summary(misses[0]) and "nothing" in summary(None)
    assert misses[0].to_dict()["differences"][0]["field"] == "method" and "<<<<<" in misses[0].format()


def test_the_package_exports_mockhttpserver_lazily() -> None:
    import mocktools
    from mocktools import doubles

    assert doubles.MockHTTPServer is mocktools.MockHTTPServer
    with pytest.raises(AttributeError):
        doubles.NoSuchThing  # noqa: B018


def test_a_miss_among_many_stubs_still_names_the_nearest() -> None:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from mocktools import MockHTTPServer

    mock = MockHTTPServer()
    for i in range(1000):
        mock.expect_request(f"/items/{i}", method="GET").respond_with_json({})
    mock.expect_request(re.compile(r"/files/.+"), method="PUT").respond_with_data("")
    for path, method, closest in (("/itemz/77", "GET", "GET /items/77"), ("/items/512", "POST", "GET /items/512"),
                                  ("/files/", "PUT", "PUT regex")):
        environ = EnvironBuilder(path=path, method=method).get_environ()
        message = mock.dispatch_doubles(Request(environ), environ).get_json()["error"]["message"]  # type: ignore
        assert "closest: permanent stub-" in message and closest in message.split(";")[1], message
    assert len(mock.unanswered) == 3
