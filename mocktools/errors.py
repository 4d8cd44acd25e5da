"""Exceptions shared by every mock."""
from __future__ import annotations

from typing import Any


class MockError(Exception):
    """Base class of mocktools' own errors."""


class MockStartError(MockError):
    """A mock could not start (most often: its port is taken). Nothing is left running."""

    def __init__(self, message: str, *, host: str = "", port: int = 0) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class MockServerError(MockError):
    """An exception raised inside a mock's own handler, surfaced in the test by `check()`."""

    def __init__(self, message: str, errors: list[BaseException]) -> None:
        super().__init__(message)
        self.errors = errors


class ApiError(MockError):
    """Raised by a handler to answer an error in the protocol's shape.

    `status` is the HTTP status; `type` and `extra` go into the error body.
    """

    def __init__(self, status: int, message: str, *, type: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.headers = headers or {}
        self.extra = extra


__all__ = ["MockError", "MockStartError", "MockServerError", "ApiError"]
