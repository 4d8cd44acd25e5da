"""The engine's per-request builders (issue 15 made them lean): same environ and response head rules."""
from __future__ import annotations

import pytest

from mocktools.http_framing import response_head
from mocktools.wsgi_environ import DROPPED, build_environ, build_environ_keyed, environ_key

pytestmark = pytest.mark.timeout(30)


def _environ(headers: list[tuple[str, str]], target: str = "/p%20q?a=1") -> dict:
    return build_environ("GET", target, (1, 1), headers, server=("127.0.0.1", 80), remote=("10.0.0.1", 5),
                         body=None, chunked=False, connection=None)


def test_header_names_become_environ_keys_once_for_str_and_bytes() -> None:
    assert environ_key("User-Agent") == environ_key(b"User-Agent") == "HTTP_USER_AGENT"
    assert environ_key(b"content-type") == "CONTENT_TYPE" and environ_key("Content-Length") == "CONTENT_LENGTH"
    assert environ_key("X_Spoof") == environ_key(b"X_Spoof") == DROPPED


def test_environ_joins_repeats_drops_underscores_and_decodes_the_path() -> None:
    env = _environ([("X-A", "1"), ("x-a", "2"), ("Content-Type", "a/b"), ("Content_Type", "evil"),
                    ("X_Forwarded_For", "1.2.3.4"), ("Host", "h")])
    assert env["HTTP_X_A"] == "1,2" and env["CONTENT_TYPE"] == "a/b" and env["HTTP_HOST"] == "h"
    assert "HTTP_X_FORWARDED_FOR" not in env and not any(k.startswith("HTTP_CONTENT") for k in env)
    assert env["PATH_INFO"] == "/p q" and env["QUERY_STRING"] == "a=1" and env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_PORT"] == "80" and env["REMOTE_ADDR"] == "10.0.0.1"


def test_keyed_and_named_builders_agree_and_absolute_form_sets_the_host() -> None:
    named = [("Accept", "*/*"), ("X-Id", "7")]
    keyed = [(environ_key(k), v) for k, v in named]
    kwargs = dict(server=("s", 1), remote=("r", 2), body=None, chunked=True, connection=None)
    a = build_environ("POST", "http://example.test:81/x?y", (1, 0), named, **kwargs)
    b = build_environ_keyed("POST", "http://example.test:81/x?y", (1, 0), keyed, **kwargs)
    assert a == b and a["HTTP_HOST"] == "example.test:81" and a["PATH_INFO"] == "/x"
    assert a["wsgi.input_terminated"] is True and a["SERVER_PROTOCOL"] == "HTTP/1.0"


def test_response_head_framing_rules() -> None:
    head = response_head("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5"), ("Connection", "close"),
                                    ("Transfer-Encoding", "chunked"), ("Keep-Alive", "1")],
                         head_request=False, close=False, http10=False)
    text = head.data.decode()
    assert head.length == 5 and head.close and not head.chunked
    assert text.startswith("HTTP/1.1 200 OK\r\n") and text.endswith("\r\n\r\n")
    assert "Transfer-Encoding" not in text and "Keep-Alive" not in text and text.count("Connection: close") == 1
    assert "Server: mocktools\r\n" in text and "Date: " in text
    own = response_head("200 OK", [("Server", "x"), ("Date", "d")], head_request=False, close=False, http10=False)
    assert own.chunked and own.data.count(b"Server:") == 1 and own.data.count(b"Date:") == 1
    assert b"Date: d\r\n" in own.data and own.data.endswith(b"Transfer-Encoding: chunked\r\n\r\n")
    assert response_head("204 No Content", [], head_request=False, close=False, http10=False).length == 0
    assert response_head("200 OK", [], head_request=True, close=False, http10=False).length == 0
    old = response_head("200 OK", [], head_request=False, close=False, http10=True)
    assert old.close and not old.chunked and b"Connection: close" in old.data
    kept = response_head("200 OK", [("Content-Length", "0")], head_request=False, close=False, http10=True)
    assert b"Connection: keep-alive\r\n" in kept.data and not kept.close
    bad = response_head("200 OK", [("Content-Length", "x")], head_request=False, close=False, http10=False)
    assert bad.chunked and b"Content-Length" not in bad.data
