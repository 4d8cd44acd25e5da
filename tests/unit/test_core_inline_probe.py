"""The inline probe: which requests an engine may run on its loop thread (issue 15)."""
from __future__ import annotations

import pytest

from mocktools.http_mock import HTTPMockServer
from mocktools.routing import Router

pytestmark = pytest.mark.timeout(30)


def _env(path: str, method: str = "GET") -> dict[str, str]:
    return {"PATH_INFO": path, "REQUEST_METHOD": method}


class _Site(HTTPMockServer):
    name = "probe"

    def register_routes(self, router: Router) -> None:
        router.add("/fast", lambda request: {"ok": True}, inline=True)
        router.add("/slow", lambda request: {"ok": True})


def test_only_routes_marked_inline_run_inline() -> None:
    site = _Site()
    probe = site.http_listener.inline_ok
    assert probe(_env("/fast")) and probe(_env("/fast", "HEAD"))
    assert not probe(_env("/slow"))
    assert not probe(_env("/fast", "POST"))  # no such route: the 405 is answered on a worker
    assert not probe(_env("/_mock/calls/wait"))


def test_latency_or_a_stub_sends_the_request_to_a_worker() -> None:
    site = _Site()
    probe = site.http_listener.inline_ok
    site.faults.set_latency(0.5, path="/other")
    assert probe(_env("/fast"))
    site.faults.set_latency(0.5, path="/fa*")
    assert not probe(_env("/fast"))
    site.faults.set_success()
    assert probe(_env("/fast"))
    site.expect_request("/anything").respond_with_json({})
    assert not probe(_env("/fast"))
