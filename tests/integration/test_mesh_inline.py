"""Which mesh hops may run on the asyncio engine's loop thread (HTTPMockServer.serves_inline):
only leaves that cannot wait, decided per request; an inline hop never waits whatever changes."""

import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mocktools.mesh import MockServiceMesh

SPEC = {"services": {
    "front": {"endpoints": {"/": {"calls": ["leaf:/"]}, "/still": {}}},
    "leaf": {"endpoints": {"/": {"response": {"leaf": True}}, "/slow": {"latency_ms": 5}}},
}}


def _env(path: str, method: str = "GET") -> dict:
    environ = EnvironBuilder(path="/", method=method).get_environ()
    environ["PATH_INFO"] = path
    return environ


def test_only_leaves_that_cannot_wait_are_inline():
    with MockServiceMesh(SPEC) as m:
        leaf, front = m.instances["leaf"][0], m.instances["front"][0]
        env = _env("/")
        assert leaf.serves_inline(env) and env["mocktools.mesh.inline"] is True
        assert leaf.serves_inline(_env("/nope"))  # an unknown endpoint's 404 does not wait either
        assert front.serves_inline(_env("/still"))
        assert not front.serves_inline(_env("/"))  # it calls leaf:/
        assert not leaf.serves_inline(_env("/slow"))  # latency
        assert not leaf.serves_inline(_env("//x")) and not leaf.serves_inline(_env("/", "PROPFIND"))
        assert not leaf.serves_inline(_env("/\xc3\xbc"))
        m.chaos.error_rate(service="leaf", rate=0.5)
        assert not leaf.serves_inline(_env("/"))  # chaos may hold it
        m.chaos.reset()
        assert leaf.serves_inline(_env("/"))
        unsubscribe = m.spans.subscribe(lambda span: None)
        assert not leaf.serves_inline(_env("/"))  # a subscriber's code may block
        unsubscribe()
        leaf.expect_request("/").respond_with_json({"stubbed": True})
        assert not leaf.serves_inline(_env("/"))  # a stub may wait


def test_an_inline_hop_is_served_as_the_mesh_was_when_it_was_decided():
    with MockServiceMesh(SPEC) as m:
        front = m.instances["front"][0]
        env = _env("/still")
        assert front.serves_inline(env)
        m.add_dependency("front", "leaf", endpoint="/still", target="/slow")  # changed after the decision
        m.chaos.latency(service="front", distribution="fixed", seconds=30)
        body = front._dispatch(Request(env), env).get_json()
        assert body["calls"] == [] and body["service"] == "front"  # no call made, no latency waited
        m.chaos.reset()
        r = requests.get(front.url + "/still", timeout=10)  # the next request sees the change
        assert r.json()["calls"][0]["service"] == "leaf"
