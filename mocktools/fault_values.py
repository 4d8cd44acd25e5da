"""What a fault control accepts: the checks every fault setter runs, and the errors naming the parameter.

Split from faults.py so the plan's behaviour and the rules for its inputs read apart; the control
API's JSON Schemas (control_schema.py) state the same bounds for the HTTP routes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from enum import Enum
from typing import Any


CONNECTION_FAULTS = ("reset", "close", "garbage")
DISTRIBUTIONS = ("fixed", "uniform", "normal", "exponential")
#: bounds of every fault value (a 1e10-second delay or a status of 99 only breaks the mock)
MAX_COUNT = 1_000_000_000
MAX_LATENCY = 3600.0
MAX_WINDOW = 86_400.0
MAX_RETRY_AFTER = 86_400.0
MAX_PATH_LENGTH = 2048
MAX_SEED = 2**63 - 1
#: an injected HTTP status is a final answer: 1xx are interim responses a client keeps waiting after
MIN_STATUS, MAX_STATUS = 200, 599
#: gRPC code names a fault may use (OK is not a failure), with the HTTP status an HTTP mock answers
GRPC_CODE_HTTP = {"CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
                  "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
                  "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501,
                  "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401}
GRPC_CODE_NAMES = tuple(GRPC_CODE_HTTP)


class _ControlError(Exception):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


class ControlValueError(_ControlError, ValueError):
    """A control value out of range or unknown; `param` names the parameter."""


class ControlTypeError(_ControlError, TypeError):
    """A control value of the wrong type; `param` names the parameter."""


class GrpcStatusName(str):
    """A gRPC code name used as a fault status: gRPC mocks answer the code, HTTP mocks its HTTP status."""

    @property
    def http_status(self) -> int:
        return GRPC_CODE_HTTP[str(self)]

    def __int__(self) -> int:
        return self.http_status


def _got(value: Any) -> str:
    text = repr(value)
    return f"got {text if len(text) <= 60 else text[:57] + '...'} ({type(value).__name__})"


def check_int(param: str, value: Any, *, minimum: int = 0, maximum: int = MAX_COUNT,
              optional: bool = False) -> Any:
    """An int (not a bool, not 1.5) within [minimum, maximum]; None when `optional`."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlTypeError(param, f"must be an integer, {_got(value)}")
    if not minimum <= value <= maximum:
        raise ControlValueError(param, f"must be between {minimum} and {maximum}, got {value}")
    return value


def check_number(param: str, value: Any, *, minimum: float = 0.0, maximum: float,
                 exclusive_minimum: bool = False, optional: bool = False) -> Any:
    """A finite int or float (not a bool; a timedelta counts as its seconds) within bounds, as a
    float; None when `optional`."""
    if value is None and optional:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlTypeError(param, f"must be a number, {_got(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ControlValueError(param, f"must be a finite number, got {value!r}")
    low_ok = number > minimum if exclusive_minimum else number >= minimum
    if not low_ok or number > maximum:
        low = f"greater than {minimum:g}" if exclusive_minimum else f"at least {minimum:g}"
        raise ControlValueError(param, f"must be {low} and at most {maximum:g}, got {value!r}")
    return number


def check_bool(param: str, value: Any) -> bool:
    """A real bool: the string "false" is not false."""
    if not isinstance(value, bool):
        raise ControlTypeError(param, f"must be true or false, {_got(value)}")
    return value


def check_choice(param: str, value: Any, choices: Sequence[str], *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in choices:
        raise ControlValueError(param, f"must be one of {list(choices)}, {_got(value)}")
    return value


def check_path(param: str, value: Any) -> str | None:
    """A path or fnmatch glob (`/v1/*`), or None for every path."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ControlTypeError(param, f"must be a path string or glob such as '/v1/*', {_got(value)}")
    if not value or len(value) > MAX_PATH_LENGTH:
        raise ControlValueError(param, f"must be 1 to {MAX_PATH_LENGTH} characters long")
    return value


def check_status(param: str, value: Any) -> Any:
    """An HTTP status 200-599, a gRPC code name (`"UNAVAILABLE"`) or a `grpc.StatusCode`."""
    if isinstance(value, Enum) and value.name in GRPC_CODE_HTTP:  # grpc.StatusCode, without importing grpc
        return GrpcStatusName(value.name)
    wanted = f"must be an HTTP status {MIN_STATUS}-{MAX_STATUS} or a gRPC code name"
    if isinstance(value, str):
        if value in GRPC_CODE_HTTP:
            return GrpcStatusName(value)
        raise ControlValueError(param, f"{wanted} ({', '.join(GRPC_CODE_NAMES)}), {_got(value)}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlTypeError(param, f"{wanted}, {_got(value)}")
    if not MIN_STATUS <= value <= MAX_STATUS:
        raise ControlValueError(param, f"{wanted}, got {value}")
    return value


__all__ = ["MIN_STATUS", "MAX_STATUS", "CONNECTION_FAULTS", "DISTRIBUTIONS", "MAX_COUNT", "MAX_LATENCY", "MAX_WINDOW", "MAX_RETRY_AFTER", "MAX_PATH_LENGTH", "MAX_SEED", "GRPC_CODE_HTTP", "GRPC_CODE_NAMES", "ControlValueError", "ControlTypeError", "GrpcStatusName", "_got", "check_int", "check_number", "check_bool", "check_choice", "check_path", "check_status"]
