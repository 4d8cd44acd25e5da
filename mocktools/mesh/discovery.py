"""The service registry behind discovery: Consul's agent/catalog/health model in plain Python.

Every change bumps a Raft-like index and wakes blocking queries through one Condition (no polling).
TTL checks run on the injectable clock: a check not refreshed within its TTL turns critical the next
time anyone reads the registry (or a blocking query wakes), so a test moves a FakeClock instead of
sleeping. Discovery can be given per-caller views (which callers see which instances) so a network
partition is expressible.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from ..clock import Clock, SystemClock
from .discovery_records import (
    CRITICAL,
    MAINTENANCE,
    PASSING,
    STATUSES,
    WARNING,
    CheckState,
    RegistrationError,
    ServiceEntry,
    fold_keys,
    parse_check,
    parse_service,
    parse_duration,
)

__all__ = ["ServiceRegistry", "ServiceEntry", "CheckState", "RegistrationError", "parse_duration",
           "PASSING", "WARNING", "CRITICAL", "MAINTENANCE", "STATUSES"]


MAX_SERVICES = 10_000
MAX_CHECKS = 20_000


class ServiceRegistry:
    def __init__(self, clock: Clock | None = None, *, node: str = "mesh-node", datacenter: str = "dc1",
                 address: str = "127.0.0.1", max_services: int = MAX_SERVICES,
                 max_checks: int = MAX_CHECKS) -> None:
        self.clock = clock or SystemClock()
        #: registrations past these are refused (400), so a registration loop cannot grow memory
        self.max_services, self.max_checks = max_services, max_checks
        self.node, self.datacenter, self.address = node, datacenter, address
        self._cond = threading.Condition(threading.RLock())
        self._closed = False
        self._waiting = 0
        self.reset()

    def reset(self) -> None:
        with self._cond:
            self._index = 1
            self._services: dict[str, ServiceEntry] = {}
            self._checks: dict[str, CheckState] = {}
            self._name_index: dict[str, int] = {}
            self._hidden: dict[str, set[str]] = {}
            self._healthy_cache: dict[tuple[str, str | None], list[ServiceEntry]] = {}
            self._next_deadline: float | None = None
            self._cond.notify_all()

    # ---- index & waiting -----------------------------------------------------------------
    @property
    def index(self) -> int:
        with self._cond:
            self._expire_locked()
            return self._index

    def _bump(self, *names: str) -> int:
        self._index += 1
        for n in names:
            self._name_index[n] = self._index
        self._healthy_cache.clear()
        self._cond.notify_all()
        return self._index

    def service_index(self, name: str | None) -> int:
        """The X-Consul-Index for a query on ``name`` (``None``: the whole catalog)."""
        with self._cond:
            self._expire_locked()
            return self._name_index.get(name, self._index) if name else self._index

    def wait(self, index: int, timeout: float, *, name: str | None = None,
             stop: threading.Event | None = None) -> int:
        """Blocking query: return once the (service's) index passes ``index``, at ``timeout``
        (real seconds), or when the registry is closed or ``stop`` is set."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            self._cond.notify_all()
            try:
                while True:
                    self._expire_locked()
                    current = self._name_index.get(name, 0) if name else self._index
                    left = deadline - time.monotonic()
                    if current > index or left <= 0 or self._closed or (stop is not None and stop.is_set()):
                        return current or self._index
                    if self._next_deadline is not None:  # wake to turn an expiring TTL check critical
                        left = min(left, max(self._next_deadline - self.clock.monotonic(), 0.001))
                    self._cond.wait(left)  # close() (on stop) notifies, so no poll loop is needed
            finally:
                self._waiting -= 1

    @property
    def waiting(self) -> int:
        """How many blocking queries are parked right now."""
        return self._waiting

    def wait_for_waiters(self, n: int, timeout: float = 5.0) -> None:
        """Block until ``n`` blocking queries are parked (tests use it instead of sleeping)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._waiting >= n, timeout):
                raise TimeoutError(f"{self._waiting} of {n} blocking queries parked after {timeout}s")

    def close(self) -> None:
        """Wake every blocking query (the server is stopping)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def open(self) -> None:
        with self._cond:
            self._closed = False

    # ---- TTL -----------------------------------------------------------------------------
    def _schedule_locked(self) -> None:
        deadlines = [c.deadline for c in self._checks.values() if c.deadline is not None]
        deadlines += [c.critical_since + c.deregister_after for c in self._checks.values()
                      if c.critical_since is not None and c.deregister_after is not None]
        self._next_deadline = min(deadlines) if deadlines else None

    def _expire_locked(self) -> None:
        if self._next_deadline is None or self.clock.monotonic() < self._next_deadline:
            return
        now = self.clock.monotonic()
        changed: set[str] = set()
        for c in list(self._checks.values()):
            if c.deadline is not None and now >= c.deadline:
                c.deadline = None
                self._set_status_locked(c, CRITICAL, f"TTL expired (last update more than {c.ttl}s ago)", bump=False)
                c.modify_index = self._index + 1
                changed.add(c.service_name)
        for c in list(self._checks.values()):
            if (c.critical_since is not None and c.deregister_after is not None
                    and now >= c.critical_since + c.deregister_after and c.service_id in self._services):
                changed.add(c.service_name)
                self._deregister_locked(c.service_id, bump=False)
        if changed:
            self._bump(*changed)
        self._schedule_locked()

    def expire(self) -> None:
        """Apply TTL expiry now (reads do this too)."""
        with self._cond:
            self._expire_locked()

    # ---- registration --------------------------------------------------------------------
    def register(self, definition: dict[str, Any], *, replace_existing_checks: bool = False) -> ServiceEntry:
        """Register (or replace) a service from a Consul service definition (any key casing)."""
        p = parse_service(definition, self.clock.monotonic())
        d, sid, name, address, port, tags, meta, tagged = (p.d, p.sid, p.name, p.address, p.port, p.tags, p.meta,
                                                           p.tagged)
        passing, warning, prepared = p.passing, p.warning, p.checks
        with self._cond:
            self._expire_locked()
            old = self._services.get(sid)
            new_checks = sum(1 for c in prepared if c.check_id not in self._checks)
            if old is None and len(self._services) >= self.max_services:
                raise RegistrationError(f"registry full: at most {self.max_services} services (max_services)")
            if len(self._checks) + new_checks > self.max_checks:
                raise RegistrationError(f"registry full: at most {self.max_checks} checks (max_checks)")
            entry = ServiceEntry(sid, name, address, port, list(tags), dict(meta), dict(tagged),
                                 {"Passing": passing, "Warning": warning}, bool(d.get("enabletagoverride", False)),
                                 str(d.get("kind") or ""), old.create_index if old else self._index + 1,
                                 self._index + 1)
            if old is not None and old.name != name:
                self._name_index[old.name] = self._index + 1
            self._services[sid] = entry
            existing = {cid for cid, c in self._checks.items() if c.service_id == sid}
            for c in prepared:
                prev = self._checks.get(c.check_id)
                if prev is not None and not replace_existing_checks:  # keep the live status across re-registration
                    c.status, c.output, c.deadline = prev.status, prev.output, prev.deadline
                c.create_index = c.modify_index = self._index + 1
                self._checks[c.check_id] = c
                existing.discard(c.check_id)
            if replace_existing_checks:
                for cid in existing:
                    del self._checks[cid]
            self._schedule_locked()
            self._bump(name)
            return entry

    def register_check(self, definition: dict[str, Any]) -> CheckState:
        """Agent-level check registration; ``ServiceID`` ties it to a registered service."""
        if not isinstance(definition, dict):
            raise RegistrationError("check definition must be a JSON object")
        d = fold_keys(definition)
        sid = d.get("serviceid") or ""
        with self._cond:
            svc = self._services.get(sid) if sid else None
            if sid and svc is None:
                raise RegistrationError(f"ServiceID {sid!r} does not exist")
            if not d.get("checkid") and not d.get("id") and not d.get("name"):
                raise RegistrationError("check needs an ID or a Name")
            c = parse_check(definition, "", svc.name if svc else "", list(svc.tags) if svc else [], 0,
                            self.clock.monotonic())
            c.service_id = sid
            if c.check_id not in self._checks and len(self._checks) >= self.max_checks:
                raise RegistrationError(f"registry full: at most {self.max_checks} checks (max_checks)")
            c.create_index = c.modify_index = self._index + 1
            self._checks[c.check_id] = c
            self._schedule_locked()
            self._bump(*([svc.name] if svc else []))
            return c

    def deregister(self, service_id: str) -> bool:
        """Remove a service and its checks; unknown ids are a no-op (Consul answers 200)."""
        with self._cond:
            return self._deregister_locked(service_id)

    def _deregister_locked(self, service_id: str, *, bump: bool = True) -> bool:
        entry = self._services.pop(service_id, None)
        if entry is None:
            return False
        for cid in [cid for cid, c in self._checks.items() if c.service_id == service_id]:
            del self._checks[cid]
        self._schedule_locked()
        if bump:
            self._bump(entry.name)
        else:
            self._name_index[entry.name] = self._index + 1
        return True

    def deregister_check(self, check_id: str) -> bool:
        with self._cond:
            c = self._checks.pop(check_id, None)
            if c is None:
                return False
            self._schedule_locked()
            self._bump(c.service_name)
            return True

    def update_check(self, check_id: str, status: str, output: str | None = None) -> CheckState:
        """pass/warn/fail/update: set status; a TTL check's clock restarts."""
        if status not in STATUSES:
            raise RegistrationError(f"invalid check status {status!r}")
        with self._cond:
            c = self._checks.get(check_id)
            if c is None:
                raise KeyError(check_id)
            if c.ttl is not None:
                c.deadline = self.clock.monotonic() + c.ttl
            self._set_status_locked(c, status, output)
            self._schedule_locked()
            return c

    def _set_status_locked(self, c: CheckState, status: str, output: str | None, *, bump: bool = True) -> None:
        changed = c.status != status or (output is not None and output != c.output)
        if c.status != status:
            c.critical_since = self.clock.monotonic() if status == CRITICAL else None
        c.status = status
        if output is not None:
            c.output = output
        if changed and bump:
            c.modify_index = self._index + 1
            self._bump(c.service_name)

    def set_maintenance(self, service_id: str, enable: bool, reason: str = "") -> None:
        with self._cond:
            entry = self._services.get(service_id)
            if entry is None:
                raise KeyError(service_id)
            cid = f"_service_maintenance:{service_id}"
            if enable:
                self._checks[cid] = CheckState(cid, "Service Maintenance Mode", service_id, entry.name,
                                               list(entry.tags), MAINTENANCE, "", reason or "Maintenance mode",
                                               "maintenance", create_index=self._index + 1,
                                               modify_index=self._index + 1)
            elif self._checks.pop(cid, None) is None:
                return
            self._bump(entry.name)

    # ---- partitions (per-caller views) ----------------------------------------------------
    def hide(self, caller: str, instance_ids: Iterable[str]) -> None:
        """Make ``caller`` stop seeing these instances in discovery (a partition)."""
        with self._cond:
            self._hidden.setdefault(caller, set()).update(instance_ids)
            names = {self._services[i].name for i in instance_ids if i in self._services}
            self._bump(*names)

    def reveal(self, caller: str, instance_ids: Iterable[str]) -> None:
        """Undo :meth:`hide` for these instances only (other partitions stay)."""
        with self._cond:
            hidden = self._hidden.get(caller, set())
            hidden.difference_update(instance_ids)
            if not hidden:
                self._hidden.pop(caller, None)
            self._bump(*{e.name for e in self._services.values()})

    def unhide(self, caller: str | None = None) -> None:
        with self._cond:
            if caller is None:
                self._hidden.clear()
            else:
                self._hidden.pop(caller, None)
            self._bump(*{e.name for e in self._services.values()})

    def hidden(self) -> dict[str, list[str]]:
        with self._cond:
            return {k: sorted(v) for k, v in self._hidden.items()}

    # ---- reads ---------------------------------------------------------------------------
    def get(self, service_id: str) -> ServiceEntry | None:
        with self._cond:
            self._expire_locked()
            return self._services.get(service_id)

    def services(self) -> dict[str, ServiceEntry]:
        with self._cond:
            self._expire_locked()
            return dict(self._services)

    def checks(self, service_id: str | None = None) -> dict[str, CheckState]:
        with self._cond:
            self._expire_locked()
            return {k: c for k, c in self._checks.items() if service_id is None or c.service_id == service_id}

    def catalog_services(self) -> dict[str, list[str]]:
        with self._cond:
            self._expire_locked()
            out: dict[str, set[str]] = {}
            for e in self._services.values():
                out.setdefault(e.name, set()).update(e.tags)
            return {k: sorted(v) for k, v in sorted(out.items())}

    def instances(self, name: str, *, tags: Iterable[str] = (), passing: bool = False,
                  caller: str | None = None) -> list[tuple[ServiceEntry, list[CheckState]]]:
        """Entries of service ``name`` with their checks, filtered by tags, health and caller view."""
        want = set(tags)
        with self._cond:
            self._expire_locked()
            hidden = self._hidden.get(caller, set()) if caller else set()
            out = []
            for e in sorted(self._services.values(), key=lambda e: e.id):
                if e.name != name or e.id in hidden or not want <= set(e.tags):
                    continue
                checks = [c for c in self._checks.values() if c.service_id == e.id]
                if passing and any(c.status != PASSING for c in checks):
                    continue
                out.append((e, checks))
            return out

    def healthy(self, name: str, caller: str | None = None) -> list[ServiceEntry]:
        """Passing instances for discovery; cached until the next change, so a call pays ~1 µs."""
        with self._cond:
            self._expire_locked()
            key = (name, caller)
            cached = self._healthy_cache.get(key)
            if cached is None:
                cached = self._healthy_cache[key] = [e for e, _ in self.instances(name, passing=True, caller=caller)]
            return cached

    def aggregated_status(self, name: str) -> str | None:
        """Worst status over the service's checks (Consul's agent health endpoint); None if unknown."""
        entries = self.instances(name)
        if not entries:
            return None
        statuses = {c.status for _, checks in entries for c in checks}
        for s in (CRITICAL, MAINTENANCE, WARNING):
            if s in statuses:
                return s
        return PASSING

    def describe(self) -> dict[str, Any]:
        with self._cond:
            self._expire_locked()
            return {"index": self._index, "services": len(self._services), "checks": len(self._checks),
                    "hidden": {k: sorted(v) for k, v in self._hidden.items()}}
