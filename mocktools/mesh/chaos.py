"""Chaos scenarios for a running mesh: outages, partitions, latency, error rates, hangs, cascades.

Reproducible: every random choice (which instances go down, which call fails, how long a delay is)
is a hash of (seed, scenario id, target, n-th decision for that target), so the same seed and the
same requests give the same failures, whatever else runs.

One calling convention for every builder: the target service (or the two groups of a partition)
is the first positional argument, the size of the fault (``seconds``, ``rate``) the second, the
rest keywords; every duration is seconds or a ``timedelta``. ``chaos.latency("payments", 0.3)``
reads like ``chaos.outage("payments")``; an edge is ``latency(edge="api->payments", seconds=0.3)``. Scenarios are scheduled on the mesh clock
(``start_after``, ``duration``), stack, can be listed and cleared, and the report says what was
injected, which calls failed, which breakers opened in what order and what the dependency graph
says was exposed upstream.

Where faults act: the caller side (inside a hop, before the HTTP call: refused connections,
partitions, edge latency/errors — the callee never sees the call) and the callee side (503s,
service latency, error rates, hangs). ``mode="stop"`` outages really stop instance servers.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import statistics
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clock import Duration, to_seconds, to_seconds_or_none

if TYPE_CHECKING:
    from .mock import MockServiceMesh

__all__ = ["ChaosController", "Scenario", "KINDS"]

KINDS = ("outage", "partition", "latency", "error_rate", "hang")
_DISTRIBUTIONS = ("fixed", "uniform", "exponential", "normal")
MAX_HANG = 60.0


@dataclass
class Scenario:
    id: str
    kind: str
    params: dict[str, Any]
    start: float
    end: float | None
    injections: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    released: threading.Event = field(default_factory=threading.Event)
    applied: dict[str, list[str]] = field(default_factory=dict)  # caller -> hidden instance ids
    cleared: bool = False

    def status(self, now: float) -> str:
        if self.cleared:
            return "cleared"
        if now < self.start:
            return "pending"
        return "expired" if self.end is not None and now >= self.end else "active"

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "params": self.params, "status": self.status(now),
                "start": self.start, "end": self.end, "injections": self.injections}


class ChaosController:
    def __init__(self, mesh: MockServiceMesh, seed: int = 0) -> None:
        self.mesh = mesh
        self.seed = seed
        self._lock = threading.RLock()
        self._scenarios: list[Scenario] = []
        self._ids = itertools.count(1)
        self.active = False  # fast path: a hop skips chaos entirely when nothing is scheduled

    # ---- scenario builders ---------------------------------------------------------------------
    def outage(self, service: str, *, instances: int | list[str] | None = None, mode: str = "refuse",
               status: int = 503, start_after: Duration = 0.0, duration: Duration | None = None) -> Scenario:
        """All (or ``instances``: a seeded choice of N, or these ids) instances of ``service`` go
        down: connections refused (``refuse``, at the caller; ``stop``, really stopped) or 503."""
        if mode not in ("refuse", "503", "stop"):
            raise ValueError("outage mode must be 'refuse', '503' or 'stop'")
        if mode == "stop" and (start_after or duration is not None):
            raise ValueError("a 'stop' outage acts at once and lasts until cleared")
        group = [i.instance_id for i in self._group(service)]
        sc = self._new("outage", {"service": service, "mode": mode, "status": status}, start_after, duration)
        if isinstance(instances, int):
            ranked = sorted(group, key=lambda iid: self._hash(f"{sc.id}:pick:{iid}"))
            chosen = sorted(ranked[:instances])
        else:
            chosen = sorted(instances) if instances is not None else group
            unknown = set(chosen) - set(group)
            if unknown:
                raise ValueError(f"not instances of {service}: {sorted(unknown)}")
        sc.params["instances"] = chosen
        if mode == "stop":
            for iid in chosen:
                self.mesh.instance(iid).stop()
        return self._add(sc)

    def partition(self, group_a: list[str], group_b: list[str], *, direction: str = "both",
                  mode: str = "refuse", discovery: bool = True, start_after: Duration = 0.0,
                  duration: Duration | None = None) -> Scenario:
        """Calls from A to B (and B to A unless ``direction="a->b"``) are refused or time out;
        with ``discovery`` each side also stops seeing the other's instances in the registry."""
        if direction not in ("both", "a->b") or mode not in ("refuse", "timeout"):
            raise ValueError("direction must be 'both' or 'a->b'; mode 'refuse' or 'timeout'")
        for name in [*group_a, *group_b]:
            self._group(name)
        params = {"a": sorted(group_a), "b": sorted(group_b), "direction": direction, "mode": mode,
                  "discovery": discovery}
        return self._add(self._new("partition", params, start_after, duration))

    def latency(self, service: str | None = None, seconds: Duration = 0.0, *, edge: str | None = None,
                distribution: str = "fixed", low: Duration = 0.0, high: Duration = 0.0, mean: Duration = 0.0,
                stddev: Duration = 0.0, start_after: Duration = 0.0, duration: Duration | None = None) -> Scenario:
        """Delay every request into ``service`` (callee side) or over ``edge`` "a->b" (caller side)."""
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {_DISTRIBUTIONS}")
        params = {**self._target(service, edge), "seconds": to_seconds(seconds, "seconds"),
                  "distribution": distribution, "low": to_seconds(low, "low"), "high": to_seconds(high, "high"),
                  "mean": to_seconds(mean, "mean"), "stddev": to_seconds(stddev, "stddev")}
        return self._add(self._new("latency", params, start_after, duration))

    def error_rate(self, service: str | None = None, rate: float = 1.0, *, edge: str | None = None,
                   status: int = 503, start_after: Duration = 0.0, duration: Duration | None = None) -> Scenario:
        """A seeded fraction ``rate`` of requests into ``service`` (or over ``edge``) fail with ``status``."""
        if not 0 <= rate <= 1 or not 400 <= status <= 599:
            raise ValueError("rate must be in [0, 1] and status a 4xx/5xx code")
        params = {**self._target(service, edge), "rate": rate, "status": status}
        return self._add(self._new("error_rate", params, start_after, duration))

    def hang(self, service: str, seconds: Duration | None = None, *, start_after: Duration = 0.0,
             duration: Duration | None = None) -> Scenario:
        """Requests into ``service`` stall (``seconds``, or until cleared, at most 60 s), then proceed:
        a slow drain; callers with shorter timeouts see timeouts."""
        self._group(service)
        params = {"service": service, "seconds": to_seconds_or_none(seconds, "seconds")}
        return self._add(self._new("hang", params, start_after, duration))

    def cascade(self, leaf: str, *, mode: str = "503", **kwargs: Any) -> Scenario:
        """Take a leaf down; the report lists everything upstream of it that was exposed."""
        return self.outage(leaf, mode=mode, **kwargs)

    def add(self, doc: dict[str, Any]) -> Scenario:
        """A scenario from a JSON document: {"kind": ..., plus the builder's keyword arguments}."""
        kind = doc.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        args = {k: v for k, v in doc.items() if k != "kind"}
        builder = getattr(self, kind)
        if kind == "partition":
            return builder(args.pop("a", []), args.pop("b", []), **args)
        if kind in ("outage", "hang"):
            return builder(args.pop("service", ""), **args)
        return builder(**args)

    # ---- lifecycle -------------------------------------------------------------------------------
    def scenarios(self, active: bool = False, *, include_cleared: bool = False) -> list[dict[str, Any]]:
        """The scenarios not cleared (pending, active, expired); ``active=True``: only those acting now;
        ``include_cleared=True``: the whole history (what ``report()`` lists)."""
        now = self.mesh.clock.monotonic()
        with self._lock:
            docs = [s.to_dict(now) for s in self._scenarios]
        if active:
            return [d for d in docs if d["status"] == "active"]
        return docs if include_cleared else [d for d in docs if d["status"] != "cleared"]

    def clear(self, scenario_id: str | None = None) -> None:
        """End one scenario (or all): hangs released, partitions healed, stopped instances restarted."""
        with self._lock:
            targets = [s for s in self._scenarios if scenario_id in (None, s.id) and not s.cleared]
            if scenario_id is not None and not targets:
                raise KeyError(scenario_id)
            for sc in targets:
                sc.cleared = True
                self._undo(sc)
            self.active = any(not s.cleared for s in self._scenarios)

    def release_hangs(self) -> None:
        """Let every hung request go (the mesh is stopping)."""
        with self._lock:
            for sc in self._scenarios:
                sc.released.set()

    def reset(self) -> None:
        self.clear()
        with self._lock:
            self._scenarios.clear()
            self._ids = itertools.count(1)

    def tick(self) -> None:
        """Apply scheduled starts and ends (discovery side effects); called lazily by hops."""
        now = self.mesh.clock.monotonic()
        with self._lock:
            for sc in self._scenarios:
                if sc.kind == "partition" and sc.params["discovery"] and not sc.cleared:
                    status = sc.status(now)
                    if status == "active" and not sc.applied:
                        self._hide(sc)
                    elif status == "expired" and sc.applied:
                        self._undo(sc)
                if sc.kind == "hang" and sc.status(now) == "expired":
                    sc.released.set()

    # ---- decisions (called by hops) --------------------------------------------------------------
    def client_fault(self, caller: str, callee: str, instance_id: str, endpoint: str) -> tuple[str, Any] | None:
        """What the network does to a call caller->callee: ("refuse",), ("timeout",), ("status", code),
        ("latency", seconds) or None."""
        self.tick()
        now = self.mesh.clock.monotonic()
        edge = f"{caller}->{callee}"
        delay = 0.0
        for sc in self._live(now):
            p = sc.params
            if sc.kind == "outage" and p["mode"] == "refuse" and instance_id in p["instances"]:
                return self._hit(sc, ("refuse", f"{instance_id} is down (chaos {sc.id})"))
            if sc.kind == "partition" and self._crosses(p, caller, callee):
                return self._hit(sc, (p["mode"], f"network partition {sc.id} between {caller} and {callee}"))
            if p.get("edge") == edge:
                if sc.kind == "error_rate" and self._u(sc, edge) < p["rate"]:
                    return self._hit(sc, ("status", p["status"]))
                if sc.kind == "latency":
                    delay += self._hit(sc, self._delay(sc, edge))
        return ("latency", delay) if delay > 0 else None

    def server_fault(self, service: str, instance_id: str) -> tuple[str, Any] | None:
        """What happens inside a callee before it does its work: ("status", code),
        ("latency", seconds), ("hang", (event, seconds)) or None."""
        self.tick()
        now = self.mesh.clock.monotonic()
        delay = 0.0
        for sc in self._live(now):
            p = sc.params
            if p.get("service") != service:
                continue
            if sc.kind == "outage" and p["mode"] == "503" and instance_id in p["instances"]:
                return self._hit(sc, ("status", p["status"]))
            if sc.kind == "error_rate" and self._u(sc, service) < p["rate"]:
                return self._hit(sc, ("status", p["status"]))
            if sc.kind == "hang":
                return self._hit(sc, ("hang", (sc.released, min(p["seconds"] or MAX_HANG, MAX_HANG))))
            if sc.kind == "latency":
                delay += self._hit(sc, self._delay(sc, service))
        return ("latency", delay) if delay > 0 else None

    # ---- report ----------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """What was injected, which calls failed, breakers opened (in order), upstream exposure."""
        targets: set[str] = set()
        for sc in self._scenarios:
            p = sc.params
            if "service" in p and p["service"]:
                targets.add(p["service"])
            elif p.get("edge"):
                targets.add(p["edge"].split("->", 1)[1])
            elif sc.kind == "partition":
                targets.update(p["b"] if p["direction"] == "a->b" else p["a"] + p["b"])
        graph = self.mesh.graph
        exposed = graph.upstream_impact([t for t in targets if t in graph.services])
        failed = self.mesh.failed_calls()
        affected = sorted({c["caller"] for c in failed})
        return {"seed": self.seed, "scenarios": self.scenarios(include_cleared=True), "failed_calls": failed,
                "breakers_opened": self.mesh.breakers.opened_order(),
                "breaker_events": [e.to_dict() for e in self.mesh.breakers.edge_events()],
                "targets": sorted(targets), "upstream_impact": sorted(exposed),
                "affected_services": affected,
                "isolated_services": sorted(exposed - set(affected))}

    # ---- internals -------------------------------------------------------------------------------
    def _group(self, service: str) -> list[Any]:
        if service not in self.mesh.spec.services:
            raise KeyError(f"unknown service {service!r}")
        return list(self.mesh.instances.get(service, []))

    @staticmethod
    def _target(service: str | None, edge: str | None) -> dict[str, Any]:
        if (service is None) == (edge is None) or (edge is not None and "->" not in edge):
            raise ValueError("give exactly one of service='name' or edge='caller->callee'")
        return {"service": service} if service is not None else {"edge": edge}

    def _new(self, kind: str, params: dict[str, Any], start_after: Duration, duration: Duration | None) -> Scenario:
        start_after, duration = to_seconds(start_after, "start_after"), to_seconds_or_none(duration, "duration")
        if start_after < 0 or (duration is not None and duration <= 0):
            raise ValueError("start_after must be >= 0 and duration > 0")
        start = self.mesh.clock.monotonic() + start_after
        with self._lock:
            sid = f"chaos-{next(self._ids)}"
        return Scenario(sid, kind, params, start, None if duration is None else start + duration)

    def _add(self, sc: Scenario) -> Scenario:
        with self._lock:
            self._scenarios.append(sc)
            self.active = True
        self.tick()
        return sc

    def _live(self, now: float) -> list[Scenario]:
        with self._lock:
            return [s for s in self._scenarios if s.status(now) == "active"]

    def _hit(self, sc: Scenario, result: Any) -> Any:
        with self._lock:
            sc.injections += 1
        return result

    def _hash(self, key: str) -> float:
        digest = hashlib.blake2b(f"{self.seed}:{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2.0 ** 64

    def _u(self, sc: Scenario, key: str) -> float:
        """The n-th uniform draw for (scenario, key): same seed + same requests -> same value."""
        with self._lock:
            n = sc.counters[key] = sc.counters.get(key, 0) + 1
        return self._hash(f"{sc.id}:{key}:{n}")

    def _delay(self, sc: Scenario, key: str) -> float:
        p = sc.params
        dist = p["distribution"]
        if dist == "fixed":
            return float(p["seconds"])
        u = min(max(self._u(sc, key), 1e-12), 1 - 1e-12)
        if dist == "uniform":
            return p["low"] + u * (p["high"] - p["low"])
        if dist == "exponential":
            return -p["mean"] * math.log(1 - u)
        return max(0.0, statistics.NormalDist(p["mean"], p["stddev"] or 1e-9).inv_cdf(u))

    @staticmethod
    def _crosses(p: dict[str, Any], caller: str, callee: str) -> bool:
        if caller in p["a"] and callee in p["b"]:
            return True
        return p["direction"] == "both" and caller in p["b"] and callee in p["a"]

    def _hide(self, sc: Scenario) -> None:
        p, registry = sc.params, self.mesh.registry
        pairs = [(p["a"], p["b"])] + ([(p["b"], p["a"])] if p["direction"] == "both" else [])
        for callers, callees in pairs:
            ids = [i.instance_id for name in callees for i in self.mesh.instances.get(name, [])]
            for caller in callers:
                registry.hide(caller, ids)
                sc.applied.setdefault(caller, []).extend(ids)

    def _undo(self, sc: Scenario) -> None:
        sc.released.set()
        for caller, ids in sc.applied.items():
            self.mesh.registry.reveal(caller, ids)
        sc.applied = {}
        if sc.kind == "outage" and sc.params["mode"] == "stop":
            for iid in sc.params["instances"]:
                try:
                    self.mesh.restart_instance(iid)
                except KeyError:
                    pass  # scaled away meanwhile
