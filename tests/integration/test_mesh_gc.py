"""A hop leaves no reference cycle behind (only the cyclic collector would free it, in the full
passes that were the mesh's p99: bench/README.md), on the loop and on a worker thread."""

import gc

import requests

from mocktools.mesh import MockServiceMesh

SPEC = {"services": {
    "front": {"endpoints": {"/": {"calls": ["mid:/"]},
                            "/fan": {"calls": [{"parallel": ["leaf:/", "mid:/"]}, {"async": ["leaf:/"]}]}}},
    "mid": {"endpoints": {"/": {"calls": ["leaf:/"]}}},
    "leaf": {"endpoints": {"/": {"response": {"leaf": True}}}},
}}
SPANS = {"/": 5, "/fan": 9}  # a server span per hop, a client span per call
HOP_TYPES = {"_LoopFlow", "_Reply", "HttpResponseParser", "Deferred", "HopAnswer"}


def _wait_whole(mesh: MockServiceMesh, path: str) -> None:
    for trace_id in mesh.spans.trace_ids():  # the async hop may end after the answer
        mesh.spans.wait_for_spans(trace_id, SPANS[path])


def _cyclic_garbage_of_hops(mesh: MockServiceMesh, path: str, n: int) -> list[str]:
    """The hop objects that only a cyclic collection frees after `n` requests to front `path`."""
    url = mesh.url_of("front") + path
    with requests.Session() as s:
        mesh.spans.clear()
        s.get(url).raise_for_status()  # connections and pools made before counting
        _wait_whole(mesh, path)
        mesh.spans.clear()
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(n):
                s.get(url).raise_for_status()
            _wait_whole(mesh, path)
            gc.collect()
            return [type(o).__name__ for o in gc.garbage if type(o).__name__ in HOP_TYPES]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()


def test_hops_on_the_loop_leave_no_cycles():
    with MockServiceMesh(SPEC) as mesh:
        assert _cyclic_garbage_of_hops(mesh, "/", 20) == []
        assert _cyclic_garbage_of_hops(mesh, "/fan", 20) == []


def test_hops_on_workers_leave_no_cycles():
    with MockServiceMesh(SPEC) as mesh:
        unsubscribe = mesh.spans.subscribe(lambda span: None)  # a subscriber may block: hops go to workers
        try:
            assert _cyclic_garbage_of_hops(mesh, "/", 20) == []
        finally:
            unsubscribe()
