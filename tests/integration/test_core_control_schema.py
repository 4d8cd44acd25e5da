"""The declared control API (issues 13 and 17): one schema per route, field-level 400s, a
self-describing API (listing, OpenAPI 3.1, offline docs page), a root page, and controls that
can never break a later public request. Parametrized over every HTTP mock of the catalog."""
from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate

from mocktools import FakeClock, HTTPMockServer
from mocktools.catalog import CATALOG, get_mock_class
from mocktools.faults import ControlTypeError, ControlValueError
from mocktools.lifecycle import MockServerBase
from mocktools.ofd import MockOFDServer

HTTP_MOCKS = [name for name in CATALOG if issubclass(get_mock_class(name), HTTPMockServer)]
PROBE = "/mocktools-probe"  # a path no mock routes: faults apply to it, and it always gets an answer


def _start(name: str, **kwargs: Any) -> MockServerBase:
    cls = get_mock_class(name)
    if not issubclass(cls, HTTPMockServer):
        kwargs.setdefault("admin_port", 0)
    return cls(clock=FakeClock(), seed=1, **kwargs).start()


@pytest.fixture(params=HTTP_MOCKS)
def http_mock(request: pytest.FixtureRequest) -> Iterator[MockServerBase]:
    mock = _start(request.param)
    if getattr(mock, "strict_unanswered", False):  # MockHTTPServer: an unanswered request fails check()
        mock.expect_request(PROBE).respond_with_json({"probe": True}, status=404)  # type: ignore[attr-defined]
    try:
        yield mock
    finally:
        mock.stop()
    mock.check()


def _raw(url: str, body: str) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=5)


# -- issue 17 item 2: each case that used to break every later request ---------------------------
ITEM_2 = {
    "failure_count_path_123": ("/faults/failure-count", '{"n": 1, "path": 123}', "path"),
    "failure_count_status_abc": ("/faults/failure-count", '{"n": 1, "status": "abc"}', "status"),
    "failure_count_status_list": ("/faults/failure-count", '{"n": 1, "status": [503]}', "status"),
    "failure_count_retry_after_abc": ("/faults/failure-count", '{"n": 1, "retry_after": "abc"}', "retry_after"),
    "latency_seconds_1e10": ("/faults/latency", '{"seconds": 1e10}', "seconds"),
    "latency_seconds_1e400": ("/faults/latency", '{"seconds": 1e400}', "seconds"),
    "connection_reset_count_x": ("/faults/connection", '{"kind": "reset", "count": "x"}', "count"),
    "rate_limit_window_nan": ("/faults/rate-limit", '{"limit": 1, "window": NaN}', "window"),
    "rate_limit_window_infinity": ("/faults/rate-limit", '{"limit": 1, "window": Infinity}', "window"),
    "status_99": ("/faults/failure-count", '{"n": 1, "status": 99}', "status"),
    "status_1000": ("/faults/failure-count", '{"n": 1, "status": 1000}', "status"),
    "status_minus_5": ("/faults/permanent-failure", '{"status": -5}', "status"),
    "enabled_string_false": ("/faults/permanent-failure", '{"enabled": "false"}', "enabled"),
    "n_1_5": ("/faults/failure-count", '{"n": 1.5}', "n"),
    "count_nan": ("/faults/connection", '{"kind": "reset", "count": NaN}', "count"),
    "failure_count_n_two": ("/faults/failure-count", '{"n": "two"}', "n"),
}


@pytest.mark.parametrize("case", list(ITEM_2))
def test_issue17_item2_bad_fault_control_is_refused_and_later_requests_answer(
        http_mock: MockServerBase, case: str) -> None:
    route, body, field = ITEM_2[case]
    answer = _raw(f"{http_mock.url}/_mock{route}", body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and field in error["message"]
    assert http_mock.faults.mode() == "success"
    probe = requests.get(f"{http_mock.url}{PROBE}", timeout=5)  # an answer, not a closed connection
    assert 400 <= probe.status_code < 500
    assert http_mock.journal.calls(PROBE)[-1].status == probe.status_code


@pytest.mark.parametrize("case", list(ITEM_2))
def test_issue17_item2_python_api_refuses_the_same_values_naming_the_parameter(case: str) -> None:
    route, body, field = ITEM_2[case]
    mock = MockOFDServer()
    setter: Callable[..., None] = getattr(mock, {
        "/faults/failure-count": "set_failure_count", "/faults/latency": "set_latency",
        "/faults/connection": "set_connection_fault", "/faults/rate-limit": "set_rate_limit",
        "/faults/permanent-failure": "set_permanent_failure"}[route])
    kwargs = json.loads(body, parse_constant=float)
    with pytest.raises((ControlTypeError, ControlValueError), match=rf"^{field}: ") as info:
        setter(**kwargs)
    assert getattr(info.value, "param", None) == field and mock.faults.mode() == "success"


def test_python_api_error_is_a_clear_type_error_not_a_comparison() -> None:
    mock = MockOFDServer()
    with pytest.raises(TypeError, match=r"n: must be an integer, got 'two' \(str\)"):
        mock.set_failure_count("two")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        mock.set_rate_limit(1, window=float("inf"))
    with pytest.raises(ValueError, match="low"):
        mock.set_latency(distribution="uniform", low=2, high=1)


def test_accepted_edge_values_behave_as_asked(http_mock: MockServerBase) -> None:
    base = f"{http_mock.url}/_mock/faults"
    assert requests.post(f"{base}/failure-count", json={"n": 1, "status": "UNAVAILABLE"}, timeout=5).ok
    assert requests.get(f"{http_mock.url}{PROBE}", timeout=5).status_code == 503  # a gRPC name maps to HTTP
    assert requests.post(f"{base}/failure-count", json={"n": 1, "status": 599, "retry_after": 0.5}, timeout=5).ok
    answer = requests.get(f"{http_mock.url}{PROBE}", timeout=5)
    assert answer.status_code == 599 and answer.headers["Retry-After"] == "0.5"
    assert requests.post(f"{base}/permanent-failure", json={"enabled": False}, timeout=5).ok
    assert requests.post(f"{base}/latency", json={"seconds": 3600, "path": "/elsewhere"}, timeout=5).ok
    assert requests.post(f"{base}/rate-limit", json={"limit": None}, timeout=5).ok
    assert requests.get(f"{http_mock.url}{PROBE}", timeout=5).status_code < 500


# -- issue 17 item 3: /_mock/calls/wait never 500s, and junk is never the user's check() ---------
@pytest.mark.parametrize("body, field", [('{"n": 1e400}', "n"), ('{"path": 5}', "path"),
                                         ('{"path": ["a"]}', "path"), ('{"timeout": "x"}', "timeout"),
                                         ('{"n": -1}', "n"), ('{"timeout": 1e9}', "timeout")])
def test_issue17_item3_calls_wait_answers_400_for_junk_and_check_stays_clean(
        http_mock: MockServerBase, body: str, field: str) -> None:
    answer = _raw(f"{http_mock.url}/_mock/calls/wait", body)
    assert answer.status_code == 400 and answer.json()["error"]["field"] == field
    assert http_mock.errors == []


@pytest.mark.parametrize("body, status", [("[1]", 422), ("{", 400), ('"x"', 422), ("[" * 5000 + "]" * 5000, 400)])
def test_control_body_that_is_not_an_object_is_refused(body: str, status: int) -> None:
    with MockOFDServer() as ofd:
        assert _raw(f"{ofd.url}/_mock/faults/failure-count", body).status_code == status


# -- issue 17 item 12: test-reset routes need the token off loopback ------------------------------
def test_issue17_item12_ofd_test_reset_needs_the_token_off_loopback() -> None:
    with MockOFDServer(host="0.0.0.0") as ofd:
        assert requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "a"}, timeout=5).ok
        denied = requests.post(f"{ofd.url}/ofd/v1/_test/reset", timeout=5)
        assert denied.status_code == 401 and "token" in denied.json()["error"]["message"]
        assert len(ofd.get_received_receipts()) == 1
        allowed = requests.post(f"{ofd.url}/ofd/v1/_test/reset", headers={"X-Mock-Token": ofd.admin_token or ""},
                                timeout=5)
        assert allowed.json() == {"status": "reset"} and ofd.get_received_receipts() == []
    with MockOFDServer() as local:  # loopback: no token, as before
        assert requests.post(f"{local.url}/ofd/v1/_test/reset", timeout=5).ok


def test_teraslice_data_refresh_needs_the_token_off_loopback() -> None:
    mock = get_mock_class("teraslice")(host="0.0.0.0", clock=FakeClock(), seed=1)
    with mock:
        for path in ("/v1/data/refresh", "/data/refresh", "/v1/cluster/state/refresh"):
            denied = requests.post(f"{mock.url}{path}", timeout=5)
            assert denied.status_code == 401 and denied.json()["error"] == 401
        token = {"Authorization": f"Bearer {mock.admin_token}"}
        assert requests.post(f"{mock.url}/v1/data/refresh", headers=token, timeout=5).ok
        assert requests.get(f"{mock.url}/v1/jobs", timeout=5).ok  # the wire API stays open


# -- issue 13: the API describes itself ----------------------------------------------------------
@pytest.mark.parametrize("name", list(CATALOG))
def test_openapi_document_is_valid_and_lists_what_the_listing_lists(name: str) -> None:
    mock = _start(name)
    try:
        base = getattr(mock, "admin_url", None) or mock.url
        doc = requests.get(f"{base}/_mock/openapi.json", timeout=5).json()
        validate(doc)
        assert doc["openapi"] == "3.1.0" and doc["servers"][0]["url"] == base
        listing = requests.get(f"{base}/_mock", timeout=5).json()
        listed = {(c["method"], re.sub(r"<(?:[^>:]+:)?(\w+)>", r"{\1}", c["path"])) for c in listing["controls"]}
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        assert listed == documented
        assert {("POST", "/_mock/faults/failure-count"), ("GET", "/_mock/openapi.json")} <= documented
        body = doc["paths"]["/_mock/faults/failure-count"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["required"] == ["n"] and body["schema"]["additionalProperties"] is False
        page = requests.get(f"{base}/_mock/docs", timeout=5)
        assert page.status_code == 200 and page.text.count("class='op'") == len(documented)
    finally:
        mock.stop()


def test_docs_page_is_self_contained() -> None:
    with MockOFDServer() as ofd:
        page = requests.get(f"{ofd.url}/_mock/docs", timeout=5)
        assert page.headers["Content-Type"].startswith("text/html")
        text = page.text
        assert "/_mock/faults/failure-count" in text and "/_mock/receipts" in text
        assert not re.search(r"""(src|href)=['"]?(https?:)?//""", text)  # nothing fetched from elsewhere
        assert "<script src" not in text and "<link" not in text


def test_root_url_says_what_the_mock_is(http_mock: MockServerBase) -> None:
    root = requests.get(f"{http_mock.url}/", timeout=5)
    if http_mock.name == "teraslice":  # the real master answers its own info at /
        assert root.json()["name"] and requests.get(f"{http_mock.url}/_mock/docs", timeout=5).ok
        return
    if getattr(http_mock, "strict_unanswered", False):  # MockHTTPServer: `/` belongs to the user's app
        http_mock.reset()
        return
    info = root.json()
    assert info["name"] == http_mock.name and info["docs"] == f"{http_mock.url}/_mock/docs"
    assert info["openapi"].endswith("/_mock/openapi.json") and info["controls"].endswith("/_mock")
    page = requests.get(f"{http_mock.url}/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
                        timeout=5)
    assert page.headers["Content-Type"].startswith("text/html") and "/_mock/docs" in page.text
    http_mock.set_permanent_failure()
    assert requests.get(f"{http_mock.url}/", timeout=5).ok  # a help page is never faulted


def test_grpc_mock_admin_port_has_a_root_page() -> None:
    mock = _start("e6data")
    try:
        info = requests.get(f"{mock.admin_url}/", timeout=5).json()  # type: ignore[attr-defined]
        assert info["name"] == "e6data" and info["docs"].endswith("/_mock/docs")
    finally:
        mock.stop()


def test_issue17_item7_a_deep_body_in_the_journal_does_not_break_get_calls() -> None:
    with MockOFDServer() as ofd:
        deep = "[" * 990 + "]" * 990
        assert _raw(f"{ofd.url}/ofd/v1/receipt", deep).status_code == 400
        calls = requests.get(f"{ofd.url}/_mock/calls", timeout=5)
        assert calls.status_code == 200 and calls.json()["calls"][0]["body"] == deep
        assert requests.get(f"{ofd.url}/_mock/control-errors", timeout=5).json()["errors"] == []


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs chromium")
def test_docs_page_renders_in_a_browser_with_no_network() -> None:
    with MockOFDServer() as ofd:  # all but loopback goes to a dead proxy: no network
        dom = subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                              "--proxy-server=127.0.0.1:9", "--dump-dom", f"{ofd.url}/_mock/docs"],
                             check=False, capture_output=True, text=True, timeout=50).stdout
        doc = requests.get(f"{ofd.url}/_mock/openapi.json", timeout=5).json()
        assert dom.count("class=\"op\"") == sum(len(ops) for ops in doc["paths"].values())
        assert "/_mock/faults/failure-count" in dom and "<button" in dom


def test_a_grpc_code_name_set_over_http_fails_grpc_calls_with_that_code() -> None:
    import grpc

    from mocktools.grpc_mock import GRPCMockServer

    class Echo(GRPCMockServer):
        def register_services(self, server: grpc.Server) -> None:
            handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.E", {"E": handler}),))

    with Echo(admin_port=0) as mock:
        url = f"{mock.admin_url}/_mock/faults/failure-count"
        assert requests.post(url, json={"n": 1, "status": "DATA_LOSS"}, timeout=5).ok
        assert mock.faults.describe()["failures"][0]["status"] == "DATA_LOSS"
        with grpc.insecure_channel(mock.target) as channel:
            call = channel.unary_unary("/t.E/E")
            with pytest.raises(grpc.RpcError) as info:
                call(b"x", timeout=5)
            assert info.value.code() == grpc.StatusCode.DATA_LOSS
            assert call(b"x", timeout=5) == b"x"


def test_an_oversized_control_body_is_refused_with_413() -> None:
    with MockOFDServer() as ofd:
        big = '{"n": 1, "path": "' + "x" * (17 * 1024 * 1024) + '"}'
        assert _raw(f"{ofd.url}/_mock/faults/failure-count", big).status_code == 413
        assert requests.get(f"{ofd.url}/_mock", timeout=5).ok
