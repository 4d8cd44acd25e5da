"""The failure plan every mock shares, transport-independent.

A mock asks `decide(path)` once per call and applies what comes back: a delay, then either a
connection fault, an error status (with `Retry-After` for rate limits), or nothing. HTTP mocks
answer statuses; the gRPC base maps them to status codes.

Every setter checks its values here (types, ranges, finite numbers, known names), so the Python
API and the `/_mock/` HTTP routes refuse the same inputs with an error naming the parameter, and
nothing a control accepts can break a later call in a way the control did not ask for.
"""
from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from .clock import Clock, SystemClock
from .fault_values import (  # re-exported: the checks live there
    MIN_STATUS, MAX_STATUS, CONNECTION_FAULTS, DISTRIBUTIONS, MAX_COUNT, MAX_LATENCY, MAX_WINDOW,
    MAX_RETRY_AFTER, MAX_PATH_LENGTH, MAX_SEED, GRPC_CODE_NAMES, ControlValueError, ControlTypeError,
    GrpcStatusName, check_int, check_number, check_bool, check_choice, check_path, check_status)


def _retry_after(value: Any) -> float | None:
    return check_number("retry_after", value, maximum=MAX_RETRY_AFTER, optional=True)


@dataclass
class FaultDecision:
    """What to do to one call. `status` is an HTTP status (or a gRPC code for gRPC mocks)."""

    latency: float = 0.0
    status: Any = None
    retry_after: float | None = None
    connection: str | None = None
    reason: str = ""

    @property
    def http_status(self) -> int:
        """The status an HTTP mock answers (a gRPC code name maps to its HTTP equivalent)."""
        return int(self.status)

    @property
    def ok(self) -> bool:
        return self.status is None and self.connection is None

    @property
    def fault(self) -> str | None:
        """A short name of the injected fault, for the journal."""
        if self.connection:
            return f"connection:{self.connection}"
        if self.status is not None:
            return f"status:{getattr(self.status, 'name', self.status)}"
        return None


def _place(rules: list[Any], rule: Any) -> None:
    """Path-specific rules go before catch-all ones, so the most specific rule wins."""
    if rule.path is None:
        rules.append(rule)
    else:
        rules.insert(0, rule)


def _path_matches(pattern: str | None, path: str) -> bool:
    return pattern is None or pattern == path or fnmatchcase(path, pattern)


@dataclass
class _Failure:
    path: str | None
    remaining: int | None  # None: permanent
    status: Any
    retry_after: float | None


@dataclass
class _RateLimit:
    path: str | None
    limit: int
    window: float
    retry_after: float | None
    window_start: float = -math.inf
    used: int = 0


@dataclass
class _Latency:
    path: str | None
    distribution: str
    params: dict[str, float]
    rng: random.Random = field(repr=False, default_factory=random.Random)

    def sample(self) -> float:
        """One delay, never below 0 nor above MAX_LATENCY (a random tail is clipped, not unbounded)."""
        p, rng = self.params, self.rng
        if self.distribution == "fixed":
            return p["seconds"]
        if self.distribution == "uniform":
            value = rng.uniform(p["low"], p["high"])
        elif self.distribution == "normal":
            value = rng.gauss(p["mean"], p["stddev"])
        else:
            value = rng.expovariate(1.0 / p["mean"]) if p["mean"] > 0 else 0.0
        return min(MAX_LATENCY, max(0.0, value))


@dataclass
class _ConnectionFault:
    path: str | None
    kind: str
    remaining: int | None


class FaultPlan:
    """Thread-safe set of fault rules; the first matching rule of each kind applies."""

    def __init__(self, clock: Clock | None = None, seed: int | None = None) -> None:
        self.clock = clock or SystemClock()
        self.seed = seed
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._rate_limits: list[_RateLimit] = []
        self._latencies: list[_Latency] = []
        self._connections: list[_ConnectionFault] = []

    # -- configuration -------------------------------------------------------------------
    def set_failure_count(self, n: int, status: Any = 503, path: str | None = None,
                          retry_after: float | timedelta | None = None) -> None:
        """The next `n` calls (to `path`) fail with `status`, then calls succeed again."""
        n = check_int("n", n)
        status, path, retry_after = check_status("status", status), check_path("path", path), _retry_after(retry_after)
        with self._lock:
            self._failures = [f for f in self._failures if not (f.path == path and f.remaining is not None)]
            if n:
                _place(self._failures, _Failure(path, n, status, retry_after))

    def set_permanent_failure(self, enabled: bool = True, status: Any = 503, path: str | None = None,
                              retry_after: float | timedelta | None = None) -> None:
        """Every call (to `path`) fails until disabled; disabling with no path clears all of them."""
        enabled = check_bool("enabled", enabled)
        status, path, retry_after = check_status("status", status), check_path("path", path), _retry_after(retry_after)
        with self._lock:
            self._failures = [f for f in self._failures if not (
                f.remaining is None and (f.path == path or (path is None and not enabled)))]
            if enabled:
                _place(self._failures, _Failure(path, None, status, retry_after))

    def set_rate_limit(self, limit: int | None, window: float | timedelta = 1.0, path: str | None = None,
                       retry_after: float | timedelta | None = None) -> None:
        """Allow `limit` calls per `window` seconds (on the clock); beyond that answer 429 + Retry-After.

        `limit=None` removes the limit for `path`.
        """
        limit = check_int("limit", limit, optional=True)
        window_s: float = check_number("window", window, maximum=MAX_WINDOW, exclusive_minimum=True)
        path, retry_after_s = check_path("path", path), _retry_after(retry_after)
        with self._lock:
            self._rate_limits = [r for r in self._rate_limits if r.path != path]
            if limit is not None:
                _place(self._rate_limits, _RateLimit(path, limit, window_s, retry_after_s))

    def set_latency(self, seconds: float | timedelta = 0.0, *, distribution: str = "fixed",
                    low: float | timedelta | None = None, high: float | timedelta | None = None,
                    mean: float | timedelta | None = None, stddev: float | timedelta | None = None,
                    seed: int | None = None, path: str | None = None) -> None:
        """Delay calls: a fixed delay, or seeded `uniform(low, high)`, `normal(mean, stddev)`,
        `exponential(mean)`, each at most MAX_LATENCY. `set_latency(0)` removes the delay for `path`."""
        secs: float = check_number("seconds", seconds, maximum=MAX_LATENCY)
        distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
        lo_s, hi_s, mean_s, sd_s = (check_number(name, value, maximum=MAX_LATENCY, optional=True) for name, value in
                                   (("low", low), ("high", high), ("mean", mean), ("stddev", stddev)))
        seed = check_int("seed", seed, minimum=-MAX_SEED, maximum=MAX_SEED, optional=True)
        path = check_path("path", path)
        params: dict[str, float]
        if distribution == "fixed":
            params = {"seconds": secs}
        elif distribution == "uniform":
            lo, hi = (lo_s if lo_s is not None else 0.0), (hi_s if hi_s is not None else secs)
            if lo > hi:
                raise ControlValueError("low", f"uniform latency needs low <= high, got low={lo:g} high={hi:g}")
            params = {"low": lo, "high": hi}
        elif distribution == "normal":
            params = {"mean": mean_s if mean_s is not None else secs, "stddev": sd_s or 0.0}
        else:
            params = {"mean": mean_s if mean_s is not None else secs}
        rng = random.Random(seed if seed is not None else self.seed)
        with self._lock:
            self._latencies = [rule for rule in self._latencies if rule.path != path]
            if distribution != "fixed" or secs > 0:
                _place(self._latencies, _Latency(path, distribution, params, rng))

    def set_connection_fault(self, kind: str | None, count: int | None = None, path: str | None = None) -> None:
        """Answer calls (to `path`) with a network fault: `reset` (TCP RST), `close` (no response)
        or `garbage` (bytes that are not HTTP). `count=None` means until cleared; `kind=None` clears."""
        kind = check_choice("kind", kind, CONNECTION_FAULTS, optional=True)
        count, path = check_int("count", count, optional=True), check_path("path", path)
        with self._lock:
            self._connections = [c for c in self._connections if c.path != path]
            if kind is not None and count != 0:
                _place(self._connections, _ConnectionFault(path, kind, count))

    def set_success(self) -> None:
        """Every call succeeds at once: clears failures, rate limits, latency and connection faults."""
        with self._lock:
            self._failures.clear()
            self._rate_limits.clear()
            self._latencies.clear()
            self._connections.clear()

    reset = set_success

    # -- decisions -----------------------------------------------------------------------
    def decide(self, path: str) -> FaultDecision:
        """Decide the fate of one call to `path`, consuming counted faults."""
        decision = FaultDecision()
        with self._lock:
            if not (self._failures or self._rate_limits or self._latencies or self._connections):
                return decision
            for lat in self._latencies:
                if _path_matches(lat.path, path):
                    decision.latency = lat.sample()
                    break
            for conn in self._connections:
                if _path_matches(conn.path, path):
                    decision.connection = conn.kind
                    decision.reason = f"injected connection fault: {conn.kind}"
                    if conn.remaining is not None:
                        conn.remaining -= 1
                        if conn.remaining <= 0:
                            self._connections.remove(conn)
                    return decision
            for rl in self._rate_limits:
                if _path_matches(rl.path, path) and self._over_limit(rl, decision):
                    return decision
            for failure in self._failures:
                if _path_matches(failure.path, path):
                    decision.status = failure.status
                    decision.retry_after = failure.retry_after
                    if failure.remaining is None:
                        decision.reason = "injected permanent failure"
                    else:
                        failure.remaining -= 1
                        decision.reason = f"injected failure ({failure.remaining} more to come)"
                        if failure.remaining <= 0:
                            self._failures.remove(failure)
                    return decision
        return decision

    def _over_limit(self, rl: _RateLimit, decision: FaultDecision) -> bool:
        now = self.clock.monotonic()
        if now - rl.window_start >= rl.window:
            rl.window_start, rl.used = now, 0
        rl.used += 1
        if rl.used <= rl.limit:
            return False
        decision.status = 429
        left = rl.window_start + rl.window - now
        # (start + window) - now carries float error (60.000000000004 for a window just opened): round
        # it away before ceil, or a fresh 60 s window tells the client to wait 61 s
        decision.retry_after = rl.retry_after if rl.retry_after is not None else max(1, math.ceil(round(left, 6)))
        decision.reason = f"rate limit of {rl.limit} per {rl.window:g}s exceeded"
        return True

    # -- inspection ----------------------------------------------------------------------
    def may_delay(self, path: str) -> bool:
        """Whether a latency rule could hold a call to `path` (the only fault that blocks a handler)."""
        latencies = self._latencies
        return bool(latencies) and any(_path_matches(lat.path, path) for lat in list(latencies))

    @property
    def active(self) -> bool:
        with self._lock:
            return bool(self._failures or self._rate_limits or self._latencies or self._connections)

    def mode(self) -> str:
        """One word for health pages: success, failing, permanent_failure, rate_limited, degraded."""
        with self._lock:
            if any(f.remaining is None for f in self._failures):
                return "permanent_failure"
            if self._failures or self._connections:
                return "failing"
            if self._rate_limits:
                return "rate_limited"
            if self._latencies:
                return "degraded"
            return "success"

    def describe(self) -> dict[str, Any]:
        """The active rules, JSON-ready."""
        def status(value: Any) -> Any:
            return getattr(value, "name", value)

        with self._lock:
            return {
                "failures": [{"path": f.path, "remaining": f.remaining, "status": status(f.status),
                                   "retry_after": f.retry_after} for f in self._failures],
                "rate_limits": [{"path": r.path, "limit": r.limit, "window": r.window,
                                 "retry_after": r.retry_after} for r in self._rate_limits],
                "latency": [{"path": lat.path, "distribution": lat.distribution, **lat.params}
                            for lat in self._latencies],
                "connection_faults": [{"path": c.path, "kind": c.kind, "remaining": c.remaining}
                                      for c in self._connections],
            }


__all__ = ["CONNECTION_FAULTS", "DISTRIBUTIONS", "GRPC_CODE_NAMES", "MAX_COUNT", "MAX_LATENCY", "MAX_PATH_LENGTH",
           "MAX_RETRY_AFTER", "MAX_SEED", "MAX_STATUS", "MAX_WINDOW", "MIN_STATUS", "ControlTypeError",
           "ControlValueError", "FaultDecision", "FaultPlan", "GrpcStatusName", "check_bool", "check_choice",
           "check_int", "check_number", "check_path", "check_status"]
