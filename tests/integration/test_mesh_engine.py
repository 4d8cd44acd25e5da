"""MockServiceMesh(engine=...) picks the HTTP engine of the registry API and of every instance."""

import pytest
import requests

from mocktools.mesh import MockServiceMesh

SPEC = {"services": {"front": {"endpoints": {"/": {"calls": ["back:/"]}}}, "back": {"endpoints": {"/": {}}}}}


@pytest.mark.parametrize("engine", ["asyncio", "werkzeug"])
def test_the_named_engine_serves_the_registry_and_every_instance(engine):
    with MockServiceMesh(SPEC, engine=engine) as m:
        listeners = [m.http_listener] + [i.http_listener for g in m.instances.values() for i in g]
        assert {type(lst._server).__module__ for lst in listeners} == {
            "mocktools.aio_server" if engine == "asyncio" else "mocktools.wsgi_server"}
        r = requests.get(m.url_of("front") + "/", timeout=10)
        assert r.status_code == 200 and r.json()["calls"][0]["ok"]
        m.scale("back", 2)  # instances started later use it too
        assert all(type(i.http_listener._server).__module__ == type(m.http_listener._server).__module__
                   for i in m.instances["back"])


def test_an_unknown_engine_is_refused_at_construction():
    with pytest.raises(ValueError, match="unknown HTTP engine"):
        MockServiceMesh(SPEC, engine="nginx")
