"""The serving path's lean pieces (issue 15) answer exactly what werkzeug's objects did."""
from __future__ import annotations

import io
from typing import Any

import pytest
from werkzeug.wrappers import Request

from mocktools.routing import JSONAnswer, LazyRequest, answer, json_response, mimetype_of, read_json_object
from mocktools.wsgi_driver import run_request
from mocktools.wsgi_environ import build_environ


class _Sink:
    close_requested = False
    held = False

    def __init__(self) -> None:
        self.data = b""

    def send(self, data: bytes, final: bool) -> None:
        self.data += data


def _environ(method: str = "GET", body: bytes = b"", content_type: str | None = None) -> dict[str, Any]:
    headers = [("Host", "example.test"), ("X-Request-Id", "abc")]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if body:
        headers.append(("Content-Length", str(len(body))))
    environ = build_environ(method, "/a/b?x=1", (1, 1), headers, server=("127.0.0.1", 80),
                            remote=("127.0.0.1", 5000), body=io.BytesIO(body), chunked=False, connection=None)
    environ["mocktools.body"] = body
    return environ


def _wire(app: Any, method: str = "GET") -> list[bytes]:
    sink = _Sink()
    run_request(app, _environ(method), sink, close=False, http10=False)
    assert sink.data.startswith(b"HTTP/1.1 200 OK\r\n"), sink.data
    return [line for line in sink.data.split(b"\r\n") if not line.startswith(b"Date: ")]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("value", [{"status": "ok", "n": 1, "text": "\u00e9\u4e2d"}, [1, 2.5, None]])
def test_json_answer_is_on_the_wire_what_json_response_was(value: Any, method: str) -> None:
    lean, full = answer(value), json_response(value)
    assert isinstance(lean, JSONAnswer) and lean.status_code == 200 and not lean.is_streamed
    assert _wire(lambda env, sr: lean(env, sr), method) == _wire(lambda env, sr: full(env, sr), method)
    assert lean.get_json() == value


def test_answer_keeps_werkzeug_for_everything_else() -> None:
    assert answer(({"a": 1}, 201)).status_code == 201
    assert answer("text").mimetype == "text/plain"
    assert answer(json_response({"a": 1}, 202)).status_code == 202


@pytest.mark.parametrize("code", [201, 404, 418, 599])
def test_json_answer_status_lines_are_werkzeugs(code: int) -> None:
    assert JSONAnswer(b"{}", code).status == json_response({}, code).status


def test_lazy_request_is_a_request_built_on_first_use() -> None:
    environ = _environ("POST", b'{"a": 1}', "application/json; charset=utf-8")
    request = LazyRequest(environ)
    assert isinstance(request, Request)
    assert "werkzeug.request" not in environ  # nothing built yet
    assert read_json_object(request) == {"a": 1}
    assert "werkzeug.request" not in environ  # the body and content type came from the environ
    assert request.method == "POST" and request.path == "/a/b" and request.args["x"] == "1"
    assert request.headers["X-Request-Id"] == "abc" and request.mimetype == "application/json"
    assert request.get_json() == {"a": 1} and request.get_data(as_text=True) == '{"a": 1}'
    assert environ["werkzeug.request"] is request
    with pytest.raises(AttributeError):
        request.no_such_attribute  # noqa: B018


@pytest.mark.parametrize("content_type, expected", [
    (None, ""), ("application/json", "application/json"), ("Application/JSON ; charset=utf-8", "application/json"),
    ("text/plain;q=1", "text/plain")])
def test_mimetype_of_is_werkzeugs(content_type: str | None, expected: str) -> None:
    environ = _environ("POST", b"x", content_type)
    assert mimetype_of(environ) == expected == Request(environ).mimetype
