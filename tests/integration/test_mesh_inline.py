"""Which mesh hops run on the asyncio engine's loop thread (ServiceInstance.serves_inline): every
hop of the instance's own catch-all unless something in it may block (a stub, a span subscriber,
a chaos hang or latency drawn for it); one that calls out then waits on the loop, not a thread."""

import threading

import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mocktools.mesh import MockServiceMesh

SPEC = {"services": {
    "front": {"endpoints": {"/": {"calls": ["leaf:/"]}, "/still": {},
                            "/fan": {"calls": [{"parallel": ["leaf:/", "leaf:/slow"]}, {"async": ["leaf:/"]}]}}},
    "leaf": {"endpoints": {"/": {"response": {"leaf": True}}, "/slow": {"latency_ms": 5}}},
}}


def _env(path: str, method: str = "GET") -> dict:
    environ = EnvironBuilder(path="/", method=method).get_environ()
    environ["PATH_INFO"] = path
    return environ


def test_hops_that_cannot_block_are_inline():
    with MockServiceMesh(SPEC) as m:
        leaf, front = m.instances["leaf"][0], m.instances["front"][0]
        env = _env("/")
        assert leaf.serves_inline(env) and env["mocktools.mesh.inline"] is True
        assert leaf.serves_inline(_env("/nope"))  # an unknown endpoint's 404 does not wait either
        assert front.serves_inline(_env("/still"))
        assert front.serves_inline(_env("/"))  # its call goes out as a non-blocking connection
        assert leaf.serves_inline(_env("/slow"))  # its latency is a loop timer
        assert not leaf.serves_inline(_env("//x")) and not leaf.serves_inline(_env("/", "PROPFIND"))
        assert not leaf.serves_inline(_env("/\xc3\xbc"))
        m.chaos.error_rate(service="leaf", rate=1.0)
        env = _env("/")
        assert leaf.serves_inline(env) and env["mocktools.mesh.fault"] == ("status", 503)  # answered at once
        m.chaos.reset()
        m.chaos.latency(service="leaf", distribution="fixed", seconds=0.01)
        env = _env("/")
        assert not leaf.serves_inline(env)  # chaos holds it: a worker waits
        assert env["mocktools.mesh.fault"] == ("latency", 0.01) and "mocktools.mesh.inline" not in env
        m.chaos.reset()
        assert leaf.serves_inline(_env("/"))
        unsubscribe = m.spans.subscribe(lambda span: None)
        assert not leaf.serves_inline(_env("/"))  # a subscriber's code may block
        unsubscribe()
        leaf.expect_request("/").respond_with_json({"stubbed": True})
        assert not leaf.serves_inline(_env("/"))  # a stub may wait


def test_the_chaos_drawn_for_the_decision_is_the_one_applied():
    with MockServiceMesh(SPEC) as m:
        leaf = m.instances["leaf"][0]
        m.chaos.latency(service="leaf", distribution="fixed", seconds=0.01)
        env = _env("/")
        assert not leaf.serves_inline(env)
        m.chaos.reset()  # drawn already: this request still waits, and is not drawn for again
        response = leaf._dispatch(Request(env), env)
        assert response.status_code == 200
        span = [s for s in m.spans.spans() if s.kind == "server"][-1]
        assert span.attributes["chaos"] == "latency"


def test_hops_that_call_out_start_no_thread_on_the_asyncio_engine():
    with MockServiceMesh(SPEC, engine="asyncio") as m:
        before = {t.name for t in threading.enumerate()}
        with requests.Session() as s:
            for _ in range(5):
                body = s.get(m.url_of("front") + "/fan", timeout=10).json()
                assert [c["ok"] for c in body["calls"]] == [True, True, True]
                assert s.get(m.url_of("front") + "/", timeout=10).json()["calls"][0]["body"]["response"] == \
                    {"leaf": True}
        started = {t.name for t in threading.enumerate()} - before
        assert not [n for n in started if "worker" in n or "mesh-call" in n]
        m.wait_for_trace(body["trace_id"], [("front", "/fan"), ("leaf", "/"), ("leaf", "/slow"), ("leaf", "/")])
