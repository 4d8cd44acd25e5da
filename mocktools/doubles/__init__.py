"""Test doubles on every HTTP mock: stubs, matching, verification, routes, scenarios, your own app.

`MockHTTPServer` (in `app_server`) is loaded lazily: it builds on `http_mock`, which imports
this package's mixin.
"""
from __future__ import annotations

from typing import Any

from .matchers import UNDEFINED, JSONSubset, RequestMatcher, URIPattern
from .mixin import ExpectationError, TestDoubles
from .nearmiss import NearMiss
from .scenarios import STARTED, Scenarios
from .stubs import ONESHOT, ORDERED, PERMANENT, RequestHandler


def __getattr__(name: str) -> Any:
    if name == "MockHTTPServer":
        from .app_server import MockHTTPServer

        return MockHTTPServer
    raise AttributeError(f"module 'mocktools.doubles' has no attribute {name!r}")


__all__ = [
    "ONESHOT",
    "ORDERED",
    "PERMANENT",
    "STARTED",
    "UNDEFINED",
    "ExpectationError",
    "JSONSubset",
    "MockHTTPServer",
    "NearMiss",
    "RequestHandler",
    "RequestMatcher",
    "Scenarios",
    "TestDoubles",
    "URIPattern",
]
