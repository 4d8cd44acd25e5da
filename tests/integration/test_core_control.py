"""The /_mock/ control API, the registry and the async harness, over real sockets."""
from __future__ import annotations

import asyncio
import threading

import pytest
import requests

from mocktools import (HTTPMockServer, MockOFDServer, MockRegistry, MockServerConfig, MockStartError,
                       start_mock_servers_async, stop_mock_servers)


def test_control_api_sets_every_fault_and_reports_state() -> None:
    with MockOFDServer() as ofd:
        base, receipt = f"{ofd.url}/_mock", f"{ofd.url}/ofd/v1/receipt"
        assert requests.get(base, timeout=5).json()["name"] == "ofd"
        assert {"rule": "/ofd/v1/receipt", "methods": ["POST"]} in requests.get(base, timeout=5).json()["routes"]
        assert requests.post(f"{base}/faults/permanent-failure", json={"status": 502}, timeout=5).json()["mode"] == \
            "permanent_failure"
        assert requests.post(receipt, json={}, timeout=5).status_code == 502
        assert requests.post(f"{base}/faults/success", timeout=5).ok
        assert requests.post(f"{base}/faults/rate-limit", json={"limit": 0, "window": 30}, timeout=5).ok
        limited = requests.post(receipt, json={}, timeout=5)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
        assert requests.post(f"{base}/faults/latency", json={"seconds": 0.01}, timeout=5).ok
        assert requests.post(f"{base}/faults/connection", json={"kind": "close", "count": 1}, timeout=5).ok
        faults = requests.get(f"{base}/faults", timeout=5).json()
        assert faults["latency"][0]["seconds"] == 0.01 and faults["connection_faults"][0]["kind"] == "close"
        assert requests.get(f"{base}/state", timeout=5).json() == {"receipts": 0, "submissions": 0, "duplicates": 0}
        assert requests.get(f"{base}/calls/count", timeout=5).json() == {"count": 2}
        assert requests.get(f"{base}/errors", timeout=5).json() == {"errors": []}
        assert requests.post(f"{base}/reset", timeout=5).json() == {"ok": True}
        assert ofd.faults.mode() == "success" and ofd.get_call_count(None) == 0


@pytest.mark.parametrize("path, body, status", [
    ("/faults/failure-count", {"n": -1}, 400),
    ("/faults/failure-count", {"n": 1, "bogus": 2}, 400),
    ("/faults/latency", {"distribution": "zipf"}, 400),
    ("/faults/connection", {"kind": "explode"}, 400),
    ("/faults/rate-limit", [1], 422),
    ("/faults/rate-limit", "{", 400),
    ("/calls/wait", {"n": "x"}, 400),
    ("/nope", {}, 404),
])
def test_control_api_rejects_bad_input(path: str, body: object, status: int) -> None:
    with MockOFDServer() as ofd:
        kwargs = {"data": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, str) else \
            {"json": body}
        response = requests.post(f"{ofd.url}/_mock{path}", timeout=5, **kwargs)
        assert response.status_code == status and response.json()["error"]["message"]
        assert requests.get(f"{ofd.url}/_mock/calls?limit=x", timeout=5).status_code == 400
        assert requests.get(f"{ofd.url}/ofd/v1/health", timeout=5).ok


def test_control_api_wait_for_calls() -> None:
    with MockOFDServer() as ofd:
        timer = threading.Timer(0.02, lambda: requests.post(f"{ofd.url}/ofd/v1/receipt", json={}, timeout=5))
        timer.start()
        waited = requests.post(f"{ofd.url}/_mock/calls/wait", json={"n": 1, "timeout": 5}, timeout=10)
        timer.join()
        assert waited.json() == {"count": 1}
        late = requests.post(f"{ofd.url}/_mock/calls/wait", json={"n": 5, "timeout": 0.01}, timeout=10)
        assert late.status_code == 408
        calls = requests.get(f"{ofd.url}/_mock/calls", params={"limit": 0}, timeout=5).json()
        assert calls["returned"] == 0 and calls["count"] == 1


def test_non_loopback_bind_requires_the_token() -> None:
    with MockOFDServer(host="0.0.0.0") as ofd:
        assert ofd.admin_token and ofd.url.startswith("http://127.0.0.1:")
        denied = requests.get(f"{ofd.url}/_mock/calls", timeout=5)
        assert denied.status_code == 401 and "token" in denied.json()["error"]["message"]
        assert requests.get(f"{ofd.url}/_mock/calls", headers={"X-Mock-Token": "wrong"}, timeout=5).status_code == 401
        bearer = {"Authorization": f"Bearer {ofd.admin_token}"}
        assert requests.get(f"{ofd.url}/_mock/calls", headers=bearer, timeout=5).ok
        assert requests.get(f"{ofd.url}/_mock", headers={"X-Mock-Token": ofd.admin_token}, timeout=5).ok
        assert requests.post(f"{ofd.url}/ofd/v1/receipt", json={}, timeout=5).ok  # the API itself stays open
    assert MockOFDServer().admin_token is None
    assert MockOFDServer(host="::1").admin_token is None and MockOFDServer(host="10.1.2.3").admin_token


def test_registry_starts_in_parallel_resets_and_stops_all() -> None:
    with MockRegistry() as registry:
        for i in range(3):
            registry.add(f"ofd{i}", MockOFDServer)
        registry.add("plain", HTTPMockServer())
        registry.start()
        assert len(registry) == 4 and "ofd1" in registry and list(registry)[0] == "ofd0"
        assert all(mock.running for _, mock in registry.items())
        requests.post(f"{registry['ofd0'].url}/ofd/v1/receipt", json={}, timeout=5)
        registry["ofd0"].set_permanent_failure()
        registry.reset()
        assert registry["ofd0"].get_call_count() == 0 and registry["ofd0"].faults.mode() == "success"
        assert set(registry.urls()) == {"ofd0", "ofd1", "ofd2", "plain"}
        with pytest.raises(ValueError):
            registry.add("ofd0", MockOFDServer)
        with pytest.raises(KeyError, match="registered"):
            registry["missing"]
    assert not any(mock.running for _, mock in registry.items())
    MockRegistry().start().stop()


def test_registry_failed_start_stops_the_others_and_names_the_failed_one() -> None:
    with MockOFDServer() as blocker:
        registry = MockRegistry({"good": MockOFDServer(), "taken": MockOFDServer(port=blocker.port)})
        with pytest.raises(MockStartError, match=r"\['taken'\]") as info:
            registry.start()
        assert str(blocker.port) in str(info.value)
        assert not registry["good"].running and not registry["taken"].running


def test_async_harness_starts_all_or_none() -> None:
    configs = [MockServerConfig("Mock OFD", MockOFDServer), MockServerConfig("Other", MockOFDServer, {"seed": 3})]
    servers = asyncio.run(start_mock_servers_async(configs))
    try:
        assert set(servers) == {"Mock OFD", "Other"} and servers["Other"].seed == 3
        assert requests.get(f"{servers['Mock OFD'].url}/ofd/v1/health", timeout=5).ok
    finally:
        stop_mock_servers(servers)
    assert not servers["Other"].running
    with pytest.raises(ValueError):
        asyncio.run(start_mock_servers_async([configs[0], configs[0]]))
    with MockOFDServer() as blocker:
        bad = [MockServerConfig("ok", MockOFDServer), MockServerConfig("bad", MockOFDServer, {"port": blocker.port})]
        with pytest.raises(MockStartError, match="bad"):
            asyncio.run(start_mock_servers_async(bad))


def test_pytest_fixture_gives_a_started_reset_mock(mock_ofd: MockOFDServer, mock_registry: MockRegistry) -> None:
    assert mock_ofd.running and mock_ofd.get_call_count() == 0
    requests.post(f"{mock_ofd.url}/ofd/v1/receipt", json={"document_id": "fixture"}, timeout=5)
    mock_registry.add("extra", MockOFDServer).start()
    assert mock_registry["extra"].running


def test_pytest_fixture_state_does_not_leak_between_tests(mock_ofd: MockOFDServer) -> None:
    assert mock_ofd.get_received_receipts() == []


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins["mocktools"] == "mocktools.pytest_plugin"


def test_a_failing_control_route_answers_500_and_is_not_kept_for_check() -> None:
    """Issue 17: a control-route error is the control API's problem, never the user's check()."""
    class Broken(HTTPMockServer):
        def register_admin_routes(self, router) -> None:
            router.add("/_mock/broken", lambda request: 1 / 0)

    mock = Broken().start()
    response = requests.get(f"{mock.url}/_mock/broken", timeout=5)
    assert response.status_code == 500 and "ZeroDivisionError" in response.json()["error"]["message"]
    kept = requests.get(f"{mock.url}/_mock/control-errors", timeout=5).json()["errors"]
    assert len(kept) == 1 and "ZeroDivisionError" in kept[0]
    mock.stop()
    mock.check()
