"""One WSGI environ builder for every HTTP engine (PEP 3333 keys, as werkzeug's server sets them)."""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from .http_connection import CONNECTION_KEY


def build_environ(method: str, target: str, version: tuple[int, int], headers: Iterable[tuple[str, str]],
                  *, server: tuple[str, int], remote: tuple[str, int], body: Any, chunked: bool,
                  connection: Any) -> dict[str, Any]:
    """The environ for one request; `body` is the wsgi.input stream (already de-chunked)."""
    host_override = None
    if target.startswith("/"):
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
        "SERVER_PROTOCOL": f"HTTP/{version[0]}.{version[1]}",
        CONNECTION_KEY: connection,
    }
    for key, value in headers:
        if "_" in key:  # werkzeug's rule: a header with "_" could spoof one with "-"
            continue
        key = key.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
            if key in environ:
                value = environ[key] + "," + value
        environ[key] = value
    if chunked:
        environ["wsgi.input_terminated"] = True
    if host_override:
        environ["HTTP_HOST"] = host_override
    return environ


__all__ = ["build_environ"]
