"""Which mesh hops run on the asyncio engine's loop thread (ServiceInstance.serves_inline): every
hop of the instance's own catch-all unless something in it may block (a stub, a span subscriber,
a chaos hang or latency drawn for it); one that calls out then waits on the loop, not a thread."""

import threading
import time

import pytest
import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mocktools.mesh import MockServiceMesh
from tests.conftest import open_fds

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
        unsubscribe = m.breakers.add_listener(lambda event: None)
        assert not leaf.serves_inline(_env("/"))  # nor a breaker listener's
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


@pytest.mark.parametrize("shared_loop", [True, False])
def test_hops_that_call_out_start_no_thread_on_the_asyncio_engine(shared_loop):
    with MockServiceMesh(SPEC, engine="asyncio", shared_loop=shared_loop) as m:
        before = {t.name for t in threading.enumerate()}
        with requests.Session() as s:
            for _ in range(5):
                body = s.get(m.url_of("front") + "/fan", timeout=10).json()
                assert [c["ok"] for c in body["calls"]] == [True, True, True]
                assert s.get(m.url_of("front") + "/", timeout=10).json()["calls"][0]["body"]["response"] == \
                    {"leaf": True}
        started = {t.name for t in threading.enumerate()} - before
        assert not [n for n in started if "worker" in n or "mesh-call" in n]
        assert (m.instance_loop.loop is not None) == shared_loop  # every instance's loop: one thread of the mesh
        front = m.instances["front"][0]
        assert (front.http_listener._server.loop is m.instance_loop.loop) == shared_loop
        m.wait_for_trace(body["trace_id"], [("front", "/fan"), ("leaf", "/"), ("leaf", "/slow"), ("leaf", "/")])


def _until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.parametrize("stopping", ["mesh", "instance"])
def test_stop_while_hops_wait_on_the_loop_drops_them_and_leaks_nothing(stopping):
    spec = {"services": {"front": {"endpoints": {"/": {"calls": [{"service": "back", "timeout_ms": 20000}]}}},
                         "back": {"endpoints": {"/": {"latency_ms": 20000}}}}}
    threads, fds = threading.active_count(), open_fds()
    m = MockServiceMesh(spec, engine="asyncio").start()
    try:
        front, back = m.instances["front"][0], m.instances["back"][0]
        out: dict = {}
        t = threading.Thread(target=lambda: out.setdefault("r", _get_or_error(front.url + "/")))
        t.start()
        assert _until(lambda: front.describe_state()["inflight"] == 1 and back.describe_state()["inflight"] == 1)
        if stopping == "instance":
            front.stop()  # its hop waits for back: dropped, back's hop goes on (until the mesh stops)
        else:
            m.stop()
        t.join(10)
        assert isinstance(out["r"], requests.ConnectionError)  # no made-up aggregate: the connection dropped
        (entry,) = front.journal.calls()
        assert entry.status is None and entry.fault == "stopped"
        assert not [s for s in m.spans.spans() if s.service == "front" and s.kind == "server"]
    finally:
        m.stop()
    (entry,) = back.journal.calls()
    assert entry.status is None and entry.fault == "stopped"
    assert threading.active_count() <= threads and open_fds() <= fds


def _get_or_error(url: str):
    try:
        return requests.get(url, timeout=10)
    except requests.ConnectionError as exc:
        return exc
