"""A mesh instance answers its own catch-all without werkzeug's URL map; these pin that it answers
every request as the router would (stubs first, odd paths and methods through the router)."""


import pytest
import requests
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mocktools.mesh import MockServiceMesh

SPEC = {"services": {"svc": {"endpoints": {"/": {"response": {"root": True}}, "/x": {"response": {"x": 1}},
                                           "/a/b": {"status": 201}}}}}


def _answer(fn, inst, method, path):
    environ = EnvironBuilder(path="/", method=method).get_environ()
    environ["PATH_INFO"] = path
    try:
        resp = fn(inst, Request(environ), environ)
    except HTTPException as exc:
        return exc.code, None
    body = resp.get_json()
    return resp.status_code, body.get("response", body.get("error", {}).get("type"))


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "DELETE", "PROPFIND"])
@pytest.mark.parametrize("path", ["/", "/x", "/a/b", "/a/b/", "/nope", "//x", "///", "/\xc3\xbc", "/a//b"])
def test_the_fast_path_answers_as_the_router_does(method, path):
    with MockServiceMesh(SPEC) as m:
        inst = m.instances["svc"][0]
        fast = _answer(type(inst)._dispatch, inst, method, path)
        inst._doubles_active = True  # what a stub would do: the same request through the router
        routed = _answer(type(inst)._dispatch, inst, method, path)
        assert fast == routed


def test_stubs_and_user_routes_still_answer_first():
    with MockServiceMesh(SPEC) as m:
        inst = m.instances["svc"][0]
        inst.expect_request("/x", method="GET").respond_with_json({"stubbed": True})

        @inst.route("/mine")
        def mine():  # a user route (Flask style) on the instance
            return {"user": True}

        assert requests.get(inst.url + "/x").json() == {"stubbed": True}
        assert requests.get(inst.url + "/mine").json() == {"user": True}
        assert requests.get(inst.url + "/").json()["response"] == {"root": True}
        inst.clear_stubs()
        assert requests.get(inst.url + "/x").json()["response"] == {"x": 1}
