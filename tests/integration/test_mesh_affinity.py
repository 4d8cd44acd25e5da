"""MockServiceMesh(cpu_affinity=...) keeps the instances' threads on one CPU, not the caller's."""

import os
import threading

import pytest
import requests

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.affinity import resolve_cpu

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux thread affinity")

SPEC = {"services": {"front": {"endpoints": {"/": {"calls": [{"parallel": ["back:/", "back:/"]},
                                                            {"async": ["back:/"]}]}}},
                     "back": {"instances": 2, "endpoints": {"/": {}}}}}


@pytest.mark.parametrize("engine", ["asyncio", "werkzeug"])
def test_instance_threads_stay_on_the_cpu_and_the_callers_do_not(engine):
    allowed = os.sched_getaffinity(0)
    cpu = resolve_cpu("auto")
    with MockServiceMesh(SPEC, engine=engine, cpu_affinity=cpu) as m:
        for _ in range(3):
            assert requests.get(m.url_of("front") + "/", timeout=10).json()["calls"][0]["ok"]
        unsubscribe = m.spans.subscribe(lambda span: None)  # hops then run on threads on every engine
        for _ in range(3):
            assert requests.get(m.url_of("front") + "/", timeout=10).json()["calls"][0]["ok"]
        unsubscribe()
        inst = m.instances["back"][0]
        m.restart_instance(inst.instance_id)
        serving = [i.http_listener._thread for g in m.instances.values() for i in g]
        if engine == "asyncio":  # every instance's loop runs on the mesh's one loop thread
            serving.append(m.instance_loop._thread)
        fan_out = list(m.executor._threads)
        assert serving and fan_out
        assert all(os.sched_getaffinity(t.native_id) == {cpu} for t in serving + fan_out)
        assert os.sched_getaffinity(m.http_listener._thread.native_id) == allowed  # the registry API
        assert os.sched_getaffinity(threading.get_native_id()) == allowed  # the test's own thread


def test_cpu_affinity_is_checked():
    with pytest.raises(ValueError, match="cpu_affinity"):
        MockServiceMesh(SPEC, cpu_affinity=10_000)
    with pytest.raises(ValueError, match="cpu_affinity"):
        MockServiceMesh(SPEC, cpu_affinity="fast")
    assert resolve_cpu(None) is None
