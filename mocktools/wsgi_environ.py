"""One WSGI environ builder for every HTTP engine (PEP 3333 keys, as werkzeug's server sets them).

A header's environ key (`User-Agent` -> `HTTP_USER_AGENT`) is computed once per distinct name
and cached, so an engine that knows its header names early (the asyncio engine, as it parses)
hands `build_environ_keyed` ready keys and the per-request work is a dict fill.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from .http_connection import CONNECTION_KEY

#: the key of a header the environ leaves out: a name with "_" could spoof one with "-" (werkzeug's rule)
DROPPED = ""
HEADER_KEYS: dict[str | bytes, str] = {}
_CACHE_LIMIT = 4096  # distinct header names remembered (a client sending random names is still served)
_PROTOCOLS = {(1, 1): "HTTP/1.1", (1, 0): "HTTP/1.0"}


def environ_key(name: str | bytes) -> str:
    """`name`'s environ key (`HTTP_X_ID`, `CONTENT_TYPE`), or `DROPPED`; latin-1 for bytes."""
    key = HEADER_KEYS.get(name)
    if key is None:
        text = name.decode("latin-1") if isinstance(name, bytes) else name
        if "_" in text:
            key = DROPPED
        else:
            key = text.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
        if len(HEADER_KEYS) < _CACHE_LIMIT:
            HEADER_KEYS[name] = key
    return key


def build_environ(method: str, target: str, version: tuple[int, int], headers: Iterable[tuple[str, str]],
                  *, server: tuple[str, int], remote: tuple[str, int], body: Any, chunked: bool,
                  connection: Any) -> dict[str, Any]:
    """The environ for one request; `body` is the wsgi.input stream (already de-chunked)."""
    return build_environ_keyed(method, target, version, [(environ_key(k), v) for k, v in headers],
                               server=server, remote=remote, body=body, chunked=chunked, connection=connection)


def build_environ_keyed(method: str, target: str, version: tuple[int, int], headers: Iterable[tuple[str, str]],
                        *, server: tuple[str, int], remote: tuple[str, int], body: Any, chunked: bool,
                        connection: Any) -> dict[str, Any]:
    """`build_environ` for headers whose names are already environ keys (see `environ_key`)."""
    host_override = None
    if target[:1] == "/":
        path, _, query = target.partition("?")
    elif target == "*":
        path, query = "*", ""
    else:  # absolute-form (a proxy-style request): the URL's authority is the host
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
        if parts.scheme and parts.netloc:
            host_override = parts.netloc
    if "%" in path:
        path = unquote_to_bytes(path).decode("latin-1")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "mocktools",
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_URI": target,
        "RAW_URI": target,
        "REMOTE_ADDR": remote[0],
        "REMOTE_PORT": remote[1],
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": _PROTOCOLS.get(version) or f"HTTP/{version[0]}.{version[1]}",
        CONNECTION_KEY: connection,
    }
    for key, value in headers:
        if key in environ and key[:5] == "HTTP_":  # a repeated field: one comma-joined value
            value = environ[key] + "," + value
        elif not key:  # DROPPED
            continue
        environ[key] = value
    if chunked:
        environ["wsgi.input_terminated"] = True
    if host_override:
        environ["HTTP_HOST"] = host_override
    return environ


__all__ = ["DROPPED", "HEADER_KEYS", "build_environ", "build_environ_keyed", "environ_key"]
