"""One lifecycle for every mock: MockServerBase (the HTTP form is http_mock.HTTPMockServer).

The base owns what every mock shares: start/stop/context manager, the fault plan, the journal,
handler-error capture and the imperative controls. A mock is a list of listeners (HTTP, gRPC,
raw TCP; see `mocktools.listeners`) plus its domain: `_open` opens the listeners in order and
closes those already open if one fails, `_close` closes them in reverse.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import secrets
import threading
from typing import Any, ClassVar, TypeVar

from . import log
from .clock import Clock, Duration, SystemClock
from .errors import MockServerError
from .faults import FaultPlan
from .journal import CallRecord, Journal
from .listeners.base import Listener, url_host

Self = TypeVar("Self", bound="MockServerBase")
L = TypeVar("L", bound=Listener)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MockServerBase:
    """Lifecycle, shared controls and journal; subclasses implement `_open()` and `_close()`."""

    #: the catalog name (`mocktools serve NAME`, fixture `mock_NAME`), well-known port, protocol
    name: ClassVar[str] = "mock"
    default_port: ClassVar[int] = 0
    protocol: ClassVar[str] = ""
    scheme: ClassVar[str] = "http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 seed: int | None = None, journal_limit: int = 10_000, admin_token: str | None = None,
                 verbose: bool = False) -> None:
        self.host = host
        self._requested_port = check_port(port)
        self._port = self._requested_port
        self.clock: Clock = clock or SystemClock()
        self.seed = seed
        self.faults = FaultPlan(self.clock, seed)
        self.journal = Journal(journal_limit)
        if admin_token is None and not is_loopback(host):
            admin_token = secrets.token_urlsafe(16)
        self.admin_token = admin_token
        self.verbose = verbose
        self.stopping = threading.Event()
        self._lifecycle = threading.Lock()
        self._running = False
        self._errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self.listeners: list[Listener] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def add_listener(self, listener: L) -> L:
        """Add a socket to the mock; the first one added is its main port (`url`, `port`)."""
        self.listeners.append(listener)
        return listener

    def add_admin_listener(self, admin_port: int | None) -> Listener | None:
        """The /_mock/ control API on its own HTTP port, for a mock whose main port is not HTTP
        (None: no control port). Needs `self.admin`, the mock's AdminAPI."""
        if admin_port is None:
            return None
        from .listeners.http import HTTPListener

        return self.add_listener(HTTPListener(self, port=check_port(admin_port), role="admin",
                                              app=self.admin))  # type: ignore[attr-defined]

    @property
    def admin_url(self) -> str | None:
        """Where the control API listens when it has a port of its own (else it is under `url`)."""
        for listener in self.listeners:
            if listener.role == "admin" and listener.is_open:
                return listener.url
        return None

    def _open(self) -> int:
        """Open every listener in order (rolling back on a failure); return the main port."""
        opened: list[Listener] = []
        try:
            for listener in self.listeners:
                listener.open()
                opened.append(listener)
        except BaseException:
            for listener in reversed(opened):
                listener.close()
            raise
        return self.listeners[0].port if self.listeners else self._requested_port

    def _close(self) -> None:
        """Close every listener in reverse order: connections closed, threads joined, ports free."""
        first: BaseException | None = None
        for listener in reversed(self.listeners):
            try:
                listener.close()
            except BaseException as exc:  # noqa: BLE001 - close the others anyway, then report the first
                first = first or exc
        if first is not None:
            raise first

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{self.scheme}://{url_host(self.host)}:{self._port}"

    @property
    def running(self) -> bool:
        return self._running

    def start(self: Self) -> Self:
        """Start serving; returns once the socket listens. Starting a running mock does nothing."""
        with self._lifecycle:
            if not self._running:
                self.stopping.clear()
                self._port = self._open()
                self._running = True
                log.started(self)
        return self

    def stop(self) -> None:
        """Stop serving and free the port. Idempotent."""
        with self._lifecycle:
            if not self._running:
                return
            self.stopping.set()
            self.interrupt_waits()  # parked waits let go first, so joining their threads is immediate
            try:
                self._close()
            finally:
                self._running = False
                self._port = self._requested_port
                log.stopped(self)

    async def await_start(self: Self) -> Self:
        """`start()` for async harnesses; runs in a worker thread so several start in parallel."""
        return await asyncio.to_thread(self.start)

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()
        if exc_type is None:
            self.check()

    # -- handler errors ----------------------------------------------------------------------
    def record_error(self, exc: BaseException) -> None:
        """Keep an exception raised inside the mock's own code, for `check()`."""
        with self._errors_lock:
            self._errors.append(exc)

    @property
    def errors(self) -> list[BaseException]:
        with self._errors_lock:
            return list(self._errors)

    def check(self) -> None:
        """Re-raise (once) what the mock's handlers raised, so a mock bug never hides behind a 500."""
        with self._errors_lock:
            errors, self._errors = self._errors, []
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise MockServerError(
                f"{self.name} mock handler raised {type(first).__name__}: {first}{more}", errors) from first

    # -- shared controls ---------------------------------------------------------------------
    def set_failure_count(self, n: int, status: Any = 503, path: str | None = None,
                          retry_after: Duration | None = None) -> None:
        self.faults.set_failure_count(n, status, path, retry_after)
        log.fault_set(self, "failure_count", n=n, status=status, path=path, retry_after=retry_after)

    def set_permanent_failure(self, enabled: bool = True, status: Any = 503, path: str | None = None,
                              retry_after: Duration | None = None) -> None:
        self.faults.set_permanent_failure(enabled, status, path, retry_after)
        log.fault_set(self, "permanent_failure", enabled=enabled, status=status, path=path, retry_after=retry_after)

    def set_success(self) -> None:
        self.faults.set_success()
        log.fault_set(self, "success (faults cleared)")

    def set_rate_limit(self, limit: int | None, window: Duration = 1.0, path: str | None = None,
                       retry_after: Duration | None = None) -> None:
        self.faults.set_rate_limit(limit, window, path, retry_after)
        log.fault_set(self, "rate_limit", limit=limit, window=window, path=path, retry_after=retry_after)

    def set_latency(self, seconds: Duration = 0.0, **kwargs: Any) -> None:
        self.faults.set_latency(seconds, **kwargs)
        log.fault_set(self, "latency", seconds=seconds, **kwargs)

    def set_connection_fault(self, kind: str | None, count: int | None = None, path: str | None = None) -> None:
        self.faults.set_connection_fault(kind, count, path)
        log.fault_set(self, "connection_fault", kind=kind, count=count, path=path)

    def get_call_count(self, path: str | None = None) -> int:
        return self.journal.count(path)

    @property
    def calls(self) -> list[CallRecord]:
        return self.journal.calls()

    def wait_for_calls(self, n: int, timeout: Duration = 5.0, path: str | None = None) -> list[CallRecord]:
        return self.journal.wait_for(n, timeout, path)

    def reset(self) -> None:
        """Clear faults, journal, kept handler errors and the domain state."""
        self.faults.reset()
        self.journal.clear()
        with self._errors_lock:
            self._errors.clear()
        self.reset_state()

    # -- hooks for a mock --------------------------------------------------------------------
    def interrupt_waits(self) -> None:
        """Release every parked wait (the mock is stopping); a mock with waits of its own adds them."""
        self.journal.interrupt()

    def reset_state(self) -> None:
        """Clear the mock's domain state; the base keeps none."""

    def describe_state(self) -> dict[str, Any]:
        """A JSON-ready summary of the domain state, for `/_mock/state` and health pages."""
        return {}

    def endpoints(self) -> dict[str, str]:
        """Every address the mock listens on, by listener role ("url", "grpc", "admin", ...)."""
        found = {"url": self.url}
        for listener in self.listeners[1:]:
            if listener.is_open or listener.requested_port:
                found[listener.role] = getattr(listener, "endpoint", listener.url)
        return found

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "running": self._running, "mode": self.faults.mode(),
                "calls": self.journal.count(), "faults": self.faults.describe(),
                "state": self.describe_state()}

    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this mock's own flags to `mocktools serve NAME`; the base has none."""

    @classmethod
    def from_cli(cls: type[Self], args: argparse.Namespace, **kwargs: Any) -> Self:
        """Build the mock from CLI flags (`kwargs` carries host, port and seed)."""
        return cls(**kwargs)

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"


def check_port(port: Any) -> int:
    """A TCP port 0-65535 (0 picks a free one), or a ValueError naming the bad value."""
    if isinstance(port, bool) or not isinstance(port, int):
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ValueError(f"port must be an integer 0-65535, got {port!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0-65535, got {port}")
    return int(port)


__all__ = ["MockServerBase", "check_port", "is_loopback", "url_host"]
