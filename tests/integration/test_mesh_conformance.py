"""The W3C conformance endpoint built only on mocktools.mesh.propagation, driven the way the
w3c/trace-context harness drives it (a callback server receives the propagated headers)."""

import pytest
import requests

from mocktools.mesh.conformance import TraceContextTestService
from mocktools.mesh.propagation import extract

T, P = "12345678901234567890123456789012", "1234567890123456"


@pytest.fixture(scope="module")
def service():
    with TraceContextTestService() as s:
        yield s


def run(service, httpserver, headers, count=1):
    httpserver.clear()
    for i in range(count):
        httpserver.expect_request(f"/cb.{i}", method="POST").respond_with_json(None)
    actions = [{"url": httpserver.url_for(f"/cb.{i}"), "arguments": []} for i in range(count)]
    r = requests.post(service.url + "/test", json=actions, headers=headers)
    assert r.status_code == 200
    return [dict(req.headers) for req, _ in httpserver.log]


def test_valid_parent_continued_with_new_parent_ids(service, httpserver):
    got = run(service, httpserver, {"traceparent": f"00-{T}-{P}-01", "tracestate": "foo=1,bar=2"}, 3)
    ctxs = [extract(h).context for h in got]
    assert {c.trace_id for c in ctxs} == {T} and len({c.span_id for c in ctxs}) == 3 and P not in {c.span_id for c in ctxs}
    assert all(c.tracestate == (("foo", "1"), ("bar", "2")) and c.sampled for c in ctxs)


def test_invalid_parent_restarts_and_drops_tracestate(service, httpserver):
    before = service.restarted
    (h,) = run(service, httpserver, {"traceparent": f"00-{'0' * 32}-{P}-01", "tracestate": "foo=1"})
    ctx = extract(h).context
    assert ctx.trace_id != "0" * 32 and ctx.tracestate == () and "tracestate" not in {k.lower() for k in h}
    assert service.restarted == before + 1


def test_bad_body(service):
    assert requests.post(service.url + "/test", json={"url": 1}).status_code == 422
    assert requests.post(service.url + "/test", data="[", headers={"Content-Type": "application/json"}).status_code == 400
