"""Stubs, verification and check() over real sockets with requests, httpx and urllib3."""
from __future__ import annotations

import re

import httpx
import pytest
import requests
import urllib3
from werkzeug.wrappers import Response

from mocktools import FakeClock, MockHTTPServer, MockOFDServer
from mocktools.doubles import ExpectationError, JSONSubset


@pytest.fixture
def mock():
    with MockHTTPServer() as server:
        yield server
        server.reset()


def test_pytest_httpserver_verbs_with_three_clients(mock: MockHTTPServer) -> None:
    mock.expect_request("/items", method="POST", json={"name": "a"}).respond_with_json({"id": 1}, status=201)
    mock.expect_request("/items", method="GET", query_string={"page": "2"}).respond_with_data("page two")
    mock.expect_request(re.compile(r"/items/\d+"), headers={"x-tenant": "t1"}).respond_with_json({"found": True})
    mock.expect_request("/raw", data=b"ping").respond_with_response(Response("pong", 202))
    mock.expect_request("/echo").respond_with_handler(lambda request: {"echo": request.args.get("v")})

    assert requests.post(f"{mock.url}/items", json={"name": "a"}, timeout=5).json() == {"id": 1}
    assert httpx.get(f"{mock.url}/items", params={"page": "2"}, timeout=5).text == "page two"
    pool = urllib3.PoolManager()
    got = pool.request("GET", f"{mock.url}/items/42", headers={"X-Tenant": "t1"})
    assert got.status == 200 and got.json() == {"found": True}
    assert pool.request("POST", f"{mock.url}/raw", body=b"ping").status == 202
    assert httpx.get(f"{mock.url}/echo?v=3", timeout=5).json() == {"echo": "3"}
    mock.check()
    mock.assert_request_made(uri="/items", method="POST", count=1)
    mock.assert_request_made(uri=re.compile("/items.*"), count=3)
    mock.assert_no_request_made(uri="/nothing")
    assert mock.get_matching_requests_count(headers={"X-TENANT": "t1"}) == 1
    assert [c.path for c in mock.find_calls(json={"name": "a"})] == ["/items"]


def test_json_subset_headers_and_predicates(mock: MockHTTPServer) -> None:
    mock.expect_request("/orders", json=JSONSubset({"customer": {"id": 7}})).respond_with_json({"ok": True})
    mock.expect_request("/admin", headers={"Authorization": re.compile("Bearer .+")}).respond_with_data("in")
    mock.expect_request("/big", predicate=lambda r: len(r.body) > 10).respond_with_data("big")
    body = {"customer": {"id": 7, "name": "x"}, "lines": [1, 2]}
    assert requests.post(f"{mock.url}/orders", json=body, timeout=5).json() == {"ok": True}
    assert requests.get(f"{mock.url}/admin", headers={"authorization": "Bearer t"}, timeout=5).text == "in"
    assert requests.post(f"{mock.url}/big", data=b"0123456789abc", timeout=5).text == "big"
    mock.check()


def test_oneshot_ordered_and_sequences(mock: MockHTTPServer) -> None:
    mock.expect_oneshot_request("/token").respond_with_json({"token": "first"})
    mock.expect_request("/token").respond_with_json({"token": "later"})
    mock.expect_request("/flaky").respond_with_sequence([("down", 503), ("down", 503), {"up": True}])
    assert [requests.get(f"{mock.url}/token", timeout=5).json()["token"] for _ in range(2)] == ["first", "later"]
    assert [requests.get(f"{mock.url}/flaky", timeout=5).status_code for _ in range(4)] == [503, 503, 200, 200]
    mock.expect_ordered_request("/step1").respond_with_data("1")
    mock.expect_ordered_request("/step2").respond_with_data("2")
    second_first = requests.get(f"{mock.url}/step2", timeout=5)
    assert second_first.status_code == 500 and "expected first" in second_first.json()["error"]["message"]
    assert requests.get(f"{mock.url}/step1", timeout=5).text == "1"
    assert requests.get(f"{mock.url}/step2", timeout=5).text == "2"
    with pytest.raises(ExpectationError, match="out of the declared order"):
        mock.check()
    mock.check()  # reported once


def test_unmet_expectations_and_unanswered_requests_fail_check(mock: MockHTTPServer) -> None:
    mock.expect_oneshot_request("/never", method="DELETE").respond_with_data("")
    mock.expect_request("/orders/1", method="POST").respond_with_json({})
    r = requests.get(f"{mock.url}/orders/1", timeout=5)
    assert r.status_code == 404 and r.json()["error"]["type"] == "no_stub_matched"
    assert "closest: permanent stub-2: POST /orders/1; differs in method (expected POST, got GET)" in r.json()["error"]["message"]
    with pytest.raises(ExpectationError) as failed:
        mock.check()
    text = str(failed.value)
    assert "1 expected request(s) never came" in text and "oneshot stub-1: DELETE /never" in text
    assert "GET /orders/1: no stub or route matched" in text and "method    expected POST, got GET" in text
    assert isinstance(failed.value, AssertionError)


def test_assert_request_made_shows_what_was_received(mock: MockHTTPServer) -> None:
    mock.expect_request("/a").respond_with_data("a")
    requests.get(f"{mock.url}/a?x=1", timeout=5)
    with pytest.raises(AssertionError) as failed:
        mock.assert_request_made(uri="/a", query_string={"x": "2"}, count=1)
    message = str(failed.value)
    assert "expected 1 request matching ANY /a query={'x': '2'}, got 0" in message
    assert "#1 GET /a?x=1 -> 200" in message and "query" in message.split("Closest received:")[1]
    with pytest.raises(AssertionError, match="got 1"):
        mock.assert_request_made(uri="/a", count=2)
    with pytest.raises(TypeError):
        mock.assert_request_made(url="/a")


def test_per_stub_latency_on_the_mock_clock_and_faults() -> None:
    clock = FakeClock()
    with MockHTTPServer(clock=clock) as mock:
        mock.expect_request("/slow").with_latency(2.5).respond_with_data("late")
        mock.expect_request("/drop").with_fault("reset")
        before = clock.monotonic()
        assert requests.get(f"{mock.url}/slow", timeout=5).text == "late"
        assert clock.monotonic() - before == 2.5
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{mock.url}/drop", timeout=5)
        assert [(c.path, c.fault) for c in mock.calls] == [("/slow", None), ("/drop", "connection:reset")]
        assert requests.get(f"{mock.url}/slow", timeout=5).status_code == 200  # still serving


def test_stub_handler_error_fails_check_and_mock_faults_apply_to_stubs(mock: MockHTTPServer) -> None:
    mock.expect_request("/bug").respond_with_handler(lambda request: 1 / 0)
    mock.expect_request("/ok").respond_with_data("ok")
    mock.expect_request("/empty")
    assert requests.get(f"{mock.url}/bug", timeout=5).status_code == 500
    assert requests.get(f"{mock.url}/empty", timeout=5).json()["error"]["type"] == "stub_without_response"
    mock.set_failure_count(1)
    assert [requests.get(f"{mock.url}/ok", timeout=5).status_code for _ in range(2)] == [503, 200]
    with pytest.raises(Exception, match="ZeroDivisionError"):
        mock.check()


def test_stubs_override_a_builtin_mock_and_unknown_routes_become_strict() -> None:
    with MockOFDServer() as ofd:
        assert requests.get(f"{ofd.url}/nope", timeout=5).status_code == 404
        ofd.check()  # a built-in 404 with no stubs declared is a normal answer
        ofd.expect_request("/ofd/v1/receipt", method="POST").respond_with_json({"status": "rejected"}, status=422)
        r = requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "1"}, timeout=5)
        assert r.status_code == 422 and ofd.get_received_receipts() == []
        assert requests.get(f"{ofd.url}/ofd/v1/health", timeout=5).json()["status"] == "ok"  # own route
        assert requests.get(f"{ofd.url}/nope", timeout=5).status_code == 404
        with pytest.raises(ExpectationError, match="GET /nope"):
            ofd.check()
        ofd.reset()
        assert requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "1"}, timeout=5).status_code == 200


def test_stubs_and_scenarios_over_the_control_api(mock: MockHTTPServer) -> None:
    api = f"{mock.url}/_mock"
    stub = {"request": {"method": "POST", "path": "/pay"}, "response": {"status": 200, "json": {"paid": True}},
            "scenario": {"name": "checkout", "state": "Started", "new_state": "paid"}}
    assert requests.post(f"{api}/stubs", json=stub, timeout=5).status_code == 201
    again = {"request": {"method": "POST", "path": "/pay"}, "response": {"status": 409, "json": {"paid": "already"}},
             "scenario": {"name": "checkout", "state": "paid"}}
    requests.post(f"{api}/stubs", json=again, timeout=5)
    regex = {"request": {"path_regex": "/r/.*", "json_subset": {"a": 1}}, "responses": [{"body": "x"}, {"status": 204}]}
    requests.post(f"{api}/stubs", json=regex, timeout=5)
    assert requests.post(f"{mock.url}/pay", timeout=5).json() == {"paid": True}
    assert requests.get(f"{api}/scenarios", timeout=5).json() == {"scenarios": {"checkout": "paid"}}
    assert requests.post(f"{mock.url}/pay", timeout=5).status_code == 409
    assert requests.put(f"{api}/scenarios/checkout", json={"state": "Started"}, timeout=5).json()["state"] == "Started"
    assert mock.scenarios.get("checkout") == "Started"
    assert requests.post(f"{mock.url}/pay", timeout=5).status_code == 200
    assert [requests.post(f"{mock.url}/r/1", json={"a": 1, "b": 2}, timeout=5).status_code for _ in range(2)] == [200, 204]
    listed = requests.get(f"{api}/stubs", timeout=5).json()["stubs"]
    assert [s["calls"] for s in listed] == [2, 1, 2]
    found = requests.post(f"{api}/calls/find", json={"path_regex": "/r/.*", "json": {"b": 2}}, timeout=5).json()
    assert found["count"] == 2
    bad = requests.post(f"{api}/stubs", json={"request": {"path": "/x", "colour": 1}}, timeout=5)
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["message"]
    assert requests.post(f"{api}/stubs", json={"request": {"path_regex": "("}}, timeout=5).status_code == 400
    assert requests.put(f"{api}/scenarios/checkout", json={"state": ""}, timeout=5).status_code == 422
    requests.get(f"{mock.url}/missing", timeout=5)
    unmatched = requests.get(f"{api}/unmatched", timeout=5).json()["unanswered"]
    assert unmatched[0]["request"] == "GET /missing" and unmatched[0]["near_misses"]
    assert requests.post(f"{api}/scenarios/reset", timeout=5).json() == {"scenarios": {"checkout": "Started"}}
    assert requests.delete(f"{api}/stubs", timeout=5).json() == {"ok": True} and mock.stubs() == []
    mock.reset()


def test_pytest_httpserver_conveniences(mock: MockHTTPServer) -> None:
    from pytest_httpserver.httpserver import HandlerType

    mock.expect_request("/items?page=2").respond_with_data("two")
    mock.expect_request("/once", handler_type=HandlerType.ONESHOT).respond_with_data("once")
    assert requests.get(mock.url_for("/items?page=2"), timeout=5).text == "two"
    assert requests.get(mock.url_for("items?page=3"), timeout=5).status_code == 404
    assert requests.get(mock.url_for("/once"), timeout=5).text == "once"
    assert mock.stubs()[0].kind == "permanent" and len(mock.stubs()) == 1
    mock.check_handler_errors()
    mock.clear()
    assert mock.stubs() == [] and mock.calls == [] and mock.unanswered == []


def test_near_miss_names_a_scenario_in_the_wrong_state(mock: MockHTTPServer) -> None:
    mock.expect_request("/refund", method="POST").in_scenario("order", "paid", "refunded").respond_with_data("ok")
    r = requests.post(f"{mock.url}/refund", timeout=5)
    assert r.status_code == 404
    assert "scenario (expected 'order' in 'paid', got 'Started')" in r.json()["error"]["message"]
    mock.scenarios.set("order", "paid")
    assert requests.post(f"{mock.url}/refund", timeout=5).text == "ok" and mock.scenarios.get("order") == "refunded"
    with pytest.raises(ExpectationError, match="scenario"):
        mock.check()


def test_bad_control_bodies_get_a_4xx_naming_the_field(mock: MockHTTPServer) -> None:
    api = f"{mock.url}/_mock"
    cases = [({"request": {"path": 5}}, "request.path"), ({"request": {"headers": ["x"]}}, "request.headers"),
             ({"request": {"query": {"a": {"b": 1}}}}, "request.query"), ({"request": {"path": "/x"}, "kind": "often"}, None),
             ({"request": {}, "response": {"status": 99}}, "response.status"), ({"request": {}, "responses": []}, "responses"),
             ({"request": {}, "latency": "slow"}, None), ({"request": {}, "scenario": "x"}, None), ({"request": []}, "request")]
    for body, field in cases:
        r = requests.post(f"{api}/stubs", json=body, timeout=5)
        assert 400 <= r.status_code < 500, body
        if field:
            assert field in r.json()["error"]["message"], (body, r.json())
    assert "limit" in requests.post(f"{api}/calls/find", json={"limit": "all"}, timeout=5).json()["error"]["message"]
    assert requests.post(f"{api}/calls/find", json={"colour": 1}, timeout=5).status_code == 400
    assert requests.post(f"{api}/calls/find", json={"limit": 0}, timeout=5).json() == {"count": 0, "calls": []}
    mock.check()  # none of it was a mock bug


def test_a_streamed_stub_on_the_mock_clock() -> None:
    clock = FakeClock()
    with MockHTTPServer(clock=clock) as mock:
        events = [f"data: {{\"n\": {i}}}\n\n" for i in range(3)] + ["data: [DONE]\n\n"]
        mock.expect_request("/v1/stream", method="POST").respond_with_stream(events, interval=0.5)
        before = clock.monotonic()
        with httpx.stream("POST", f"{mock.url}/v1/stream", timeout=5) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in response.iter_lines() if line]
        assert lines == ['data: {"n": 0}', 'data: {"n": 1}', 'data: {"n": 2}', "data: [DONE]"]
        assert clock.monotonic() - before == 2.0
        with pytest.raises(ValueError):
            mock.expect_request("/x").respond_with_stream([], interval=-1)
