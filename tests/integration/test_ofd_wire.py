"""OFD over the wire: concurrency, bad input, health, reset, fixtures and the control API."""
from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mocktools import MockOFDServer


@pytest.fixture(scope="module", params=["asyncio", "werkzeug"])
def _ofd_on_each_engine(request: pytest.FixtureRequest):
    with MockOFDServer(engine=request.param) as mock:
        yield mock


@pytest.fixture
def mock_ofd(_ofd_on_each_engine: MockOFDServer):
    """The OFD wire tests run on both HTTP engines (this overrides the plugin's fixture)."""
    _ofd_on_each_engine.reset()
    yield _ofd_on_each_engine
    _ofd_on_each_engine.check()
    _ofd_on_each_engine.reset()


def post(url: str, **kwargs) -> requests.Response:
    return requests.post(f"{url}/ofd/v1/receipt", timeout=5, **kwargs)


def test_64_concurrent_clients_every_receipt_recorded_once(mock_ofd: MockOFDServer) -> None:
    def client(n: int) -> list[str]:
        session = requests.Session()
        signs = []
        for i in range(10):
            doc = {"document_id": f"C{n}-{i}", "total": i}
            response = session.post(f"{mock_ofd.url}/ofd/v1/receipt", json=doc, timeout=10)
            assert response.status_code == 200
            signs.append(response.json()["fiscal_sign"])
            if i % 3 == 0:  # a retry of the same document must not be stored again
                assert session.post(f"{mock_ofd.url}/ofd/v1/receipt", json=doc, timeout=10).json()["duplicate"]
        return signs

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(client, range(64)))
    ids = [r["document_id"] for r in mock_ofd.get_received_receipts()]
    assert len(ids) == 640 and len(set(ids)) == 640
    assert sum(len(r) for r in results) == 640
    assert mock_ofd.get_call_count() == 640 + 64 * 4
    assert mock_ofd.get_duplicate_count() == 64 * 4


@pytest.mark.parametrize("kwargs, status, fragment", [
    ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "malformed JSON"),
    ({"data": b"", "headers": {"Content-Type": "application/json"}}, 400, "empty"),
    ({"json": [1, 2, 3]}, 422, "JSON object"),
    ({"json": "receipt"}, 422, "JSON object"),
    ({"data": b"document_id=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415,
     "application/json"),
    ({"data": b"[" * 100_000 + b"]" * 100_000, "headers": {"Content-Type": "application/json"}}, 400,
     "malformed JSON"),
    ({"data": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/json"}}, 400, "malformed"),
])
def test_bad_input_gets_4xx_json_and_server_keeps_serving(mock_ofd: MockOFDServer, kwargs, status, fragment) -> None:
    assert post(mock_ofd.url, json={"document_id": "kept"}).status_code == 200
    response = post(mock_ofd.url, **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert fragment in response.json()["error"]["message"]
    assert post(mock_ofd.url, json={"document_id": "after"}).status_code == 200
    assert [r["document_id"] for r in mock_ofd.get_received_receipts()] == ["kept", "after"]
    assert mock_ofd.calls[1].status == status


def test_oversized_body_is_413_and_nothing_is_lost(mock_ofd: MockOFDServer) -> None:
    post(mock_ofd.url, json={"document_id": "kept"})
    big = {"document_id": "big", "blob": "x" * (2 * 1024 * 1024)}
    response = post(mock_ofd.url, data=json.dumps(big), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]
    assert post(mock_ofd.url, json={"document_id": "after"}).status_code == 200
    assert [r["document_id"] for r in mock_ofd.get_received_receipts()] == ["kept", "after"]


def test_chunked_oversized_body_is_413(mock_ofd: MockOFDServer) -> None:
    chunks = (b"x" * 65536 for _ in range(40))  # 2.5 MiB with no Content-Length
    response = post(mock_ofd.url, data=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert post(mock_ofd.url, json={"document_id": "after"}).status_code == 200


def test_hostile_raw_requests_do_not_kill_the_server(mock_ofd: MockOFDServer) -> None:
    for raw in (b"NOT HTTP AT ALL\r\n\r\n", b"POST /ofd/v1/receipt HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n"):
        with socket.create_connection((mock_ofd.host, mock_ofd.port), timeout=5) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(65536)
    assert post(mock_ofd.url, json={"document_id": "alive"}).status_code == 200


def test_health_reports_mode_and_counts_and_ignores_faults(mock_ofd: MockOFDServer) -> None:
    post(mock_ofd.url, json={"document_id": "a"})
    mock_ofd.set_permanent_failure(True)
    assert post(mock_ofd.url, json={"document_id": "b"}).status_code == 503
    health = requests.get(f"{mock_ofd.url}/ofd/v1/health", timeout=5).json()
    assert health["status"] == "ok" and health["mode"] == "permanent_failure"
    assert health["receipts"] == 1 and health["call_count"] == 2


def test_test_reset_endpoint_clears_state(mock_ofd: MockOFDServer) -> None:
    post(mock_ofd.url, json={"document_id": "a"})
    mock_ofd.set_failure_count(5)
    assert requests.post(f"{mock_ofd.url}/ofd/v1/_test/reset", timeout=5).json() == {"status": "reset"}
    assert mock_ofd.get_received_receipts() == [] and mock_ofd.faults.mode() == "success"
    assert post(mock_ofd.url, json={"document_id": "b"}).status_code == 200


def test_control_api_drives_faults_and_lists_receipts(mock_ofd: MockOFDServer) -> None:
    base = f"{mock_ofd.url}/_mock"
    assert requests.post(f"{base}/faults/failure-count", json={"n": 1, "status": 500}, timeout=5).ok
    assert post(mock_ofd.url, json={"document_id": "a"}).status_code == 500
    assert post(mock_ofd.url, json={"document_id": "a"}).status_code == 200
    assert requests.get(f"{base}/receipts", timeout=5).json()["receipts"] == [{"document_id": "a"}]
    calls = requests.get(f"{base}/calls", params={"path": "/ofd/v1/receipt"}, timeout=5).json()
    assert calls["count"] == 2 and [c["status"] for c in calls["calls"]] == [500, 200]
    assert calls["calls"][1]["json"] == {"document_id": "a"}


def test_document_without_id_is_deduplicated_by_content(mock_ofd: MockOFDServer) -> None:
    doc = {"total": 5, "items": [{"name": "tea"}]}
    first, second = post(mock_ofd.url, json=doc).json(), post(mock_ofd.url, json=dict(reversed(doc.items()))).json()
    assert first["document_id"].startswith("sha256:") and first["document_id"] == second["document_id"]
    assert second["duplicate"] is True


def test_rate_limit_answers_429_with_retry_after(mock_ofd: MockOFDServer) -> None:
    mock_ofd.set_rate_limit(2, window=60)
    statuses = [post(mock_ofd.url, json={"document_id": str(i)}) for i in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["Retry-After"]) >= 1


def test_receipt_and_health_may_run_inline_reset_and_faulted_paths_may_not() -> None:
    from mocktools.ofd import HEALTH_PATH, RECEIPT_PATH, RESET_PATH, MockOFDServer

    ofd = MockOFDServer()
    probe = ofd.http_listener.inline_ok
    assert probe({"PATH_INFO": RECEIPT_PATH, "REQUEST_METHOD": "POST"})
    assert probe({"PATH_INFO": HEALTH_PATH, "REQUEST_METHOD": "GET"})
    assert not probe({"PATH_INFO": RESET_PATH, "REQUEST_METHOD": "POST"})  # reset clears the whole mock
    ofd.faults.set_latency(0.2, path=RECEIPT_PATH)
    assert not probe({"PATH_INFO": RECEIPT_PATH, "REQUEST_METHOD": "POST"})
