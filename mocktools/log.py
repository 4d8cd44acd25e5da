"""Logging for every mock: ``logging.getLogger("mocktools.<mock>")``, one line per event, naming the mock.

Off by default (a NullHandler on ``mocktools``, nothing at WARNING). Switch it on like any
library's logging (``logging.basicConfig(level=logging.DEBUG)``, ``caplog``, ``--log-level``):

- INFO: lifecycle (``ofd started on http://127.0.0.1:9000``, ``ofd stopped``) and faults being set
- DEBUG: each request (``ofd POST /ofd/v1/receipt -> 503 [fault status:503] 0.4 ms``) and each fault applied

``verbose=True`` on a mock makes its request lines INFO and makes sure they reach stderr; these
lines replace werkzeug's access lines, which do not say which mock answered. Per-request logging
costs a quarter of the throughput (DESIGN.md), so the request path only checks a cached level.
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Protocol

ROOT = "mocktools"
logging.getLogger(ROOT).addHandler(logging.NullHandler())

#: the format `--log-level` and `verbose=True` use
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _Named(Protocol):
    name: str
    verbose: bool


_LOGGERS: dict[str, logging.Logger] = {}  # name -> logger: the request path skips getLogger's lock


def logger_for(mock: _Named | str) -> logging.Logger:
    """The logger of one mock (by instance or catalog name): ``mocktools.<name>``."""
    name = mock if isinstance(mock, str) else mock.name
    logger = _LOGGERS.get(name)
    if logger is None:
        logger = _LOGGERS[name] = logging.getLogger(f"{ROOT}.{name}")
    return logger


def started(mock: Any) -> None:
    """One line when a mock listens; lists every address (gRPC mocks have an HTTP control port too)."""
    logger = logger_for(mock)
    if mock.verbose:
        enable_verbose()
    if logger.isEnabledFor(logging.INFO):
        where = "  ".join(url if role == "url" else f"{role}={url}" for role, url in mock.endpoints().items())
        logger.info("%s started on %s", mock.name, where)


def stopped(mock: Any) -> None:
    logger_for(mock).info("%s stopped (%d calls recorded)", mock.name, mock.journal.count())


def fault_set(mock: Any, what: str, **details: Any) -> None:
    """A fault was configured (``set_failure_count`` and friends)."""
    logger = logger_for(mock)
    if logger.isEnabledFor(logging.INFO):
        shown = " ".join(f"{k}={v}" for k, v in details.items() if v is not None)
        logger.info("%s fault set: %s %s", mock.name, what, shown)


def fault_applied(mock: Any, method: str, path: str, decision: Any) -> None:
    """A request met a fault (status, latency, rate limit or connection fault)."""
    if not (decision.fault or decision.latency):
        return
    logger = logger_for(mock)
    if logger.isEnabledFor(logging.DEBUG):
        parts = [decision.fault] if decision.fault else []
        if decision.latency:
            parts.append(f"latency={decision.latency:.3f}s")
        logger.debug("%s fault applied to %s %s: %s", mock.name, method, path, " ".join(parts))


def request(mock: Any, method: str, path: str, status: Any, seconds: float, fault: str | None = None) -> None:
    """One access line naming the mock; INFO when the mock is verbose, else DEBUG."""
    logger = _LOGGERS.get(mock.name) or logger_for(mock)
    level = logging.INFO if mock.verbose else logging.DEBUG
    if logger.isEnabledFor(level):  # logging caches this answer per level: the off case costs two lookups
        tag = f" [fault {fault}]" if fault else ""
        logger.log(level, "%s %s %s -> %s%s %.1f ms", mock.name, method, path,
                   "-" if status is None else status, tag, seconds * 1000)


def enable_verbose() -> None:
    """Make mocktools' INFO lines visible: level INFO on ``mocktools``, and a stderr handler unless
    the application (or pytest's log capture) already has one on the root logger."""
    root = logging.getLogger(ROOT)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    if logging.getLogger().handlers or any(getattr(h, "_mocktools", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._mocktools = True  # type: ignore[attr-defined]
    root.addHandler(handler)


def configure(level: str | int) -> None:
    """What ``--log-level`` does: mocktools' loggers at `level`, to stderr."""
    root = logging.getLogger(ROOT)
    root.setLevel(level if isinstance(level, int) else level.upper())
    if not any(getattr(h, "_mocktools", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._mocktools = True  # type: ignore[attr-defined]
        root.addHandler(handler)


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

__all__ = ["logger_for", "started", "stopped", "fault_set", "fault_applied", "request", "enable_verbose",
           "configure", "LEVELS", "FORMAT"]
