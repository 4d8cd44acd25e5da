"""Exceptions shared by every mock: one tree, and each wire error knows how it goes on the wire.

A domain raises a `WireError` subclass (an unknown execution, an undecodable body, a refused
query); the listener that carried the request translates it once, for its transport: HTTP
answers `status` in the mock's error shape, gRPC aborts with `grpc_code`, RESP replies `-ERR`.
So a domain never imports its transport and no handler re-wraps domain errors.
"""
from __future__ import annotations

from typing import Any, ClassVar

#: the usual HTTP -> gRPC status mapping (the gRPC spec's own table, plus 409/499)
GRPC_CODE_FOR_HTTP: dict[int, str] = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


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


class WireError(MockError):
    """An error a mock answers on the wire. Subclasses set `status` (HTTP) and, where the HTTP
    mapping is not what the protocol says, `grpc_code` (a `grpc.StatusCode` name); `type` and
    `extra` go into the error body of HTTP mocks."""

    status: int = 400
    grpc_code: str | None = None
    type: str | None = None
    headers: dict[str, str]
    extra: dict[str, Any]
    #: answered without an error body of its own (e.g. a protocol's plain-text answer)
    plain: ClassVar[bool] = False

    def __init__(self, message: str = "", *, status: int | None = None, grpc_code: str | None = None,
                 type: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if grpc_code is not None:
            self.grpc_code = grpc_code
        if type is not None:
            self.type = type
        self.headers = dict(headers or {})
        self.extra = extra

    @property
    def wire_status(self) -> int:
        """The HTTP status answered (a subclass whose `status` means something else overrides it)."""
        return int(self.status)

    def grpc_status_name(self) -> str:
        """The gRPC code this error aborts with (its own, else the HTTP status mapped)."""
        return self.grpc_code or GRPC_CODE_FOR_HTTP.get(self.wire_status, "UNKNOWN")

    def __str__(self) -> str:
        return self.message or super().__str__()


class ApiError(WireError):
    """Raised by a handler to answer an error in the protocol's shape.

    `status` is the HTTP status; `type` and `extra` go into the error body.
    """

    def __init__(self, status: int, message: str, *, type: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message, status=status, type=type, headers=headers, **extra)


__all__ = ["GRPC_CODE_FOR_HTTP", "ApiError", "MockError", "MockServerError", "MockStartError", "WireError"]
