"""The mesh declaration: services, replicas, endpoints and the calls each endpoint makes.

Declared in Python (the dataclasses below), or from a dict / JSON / YAML document::

    name: shop
    services:
      frontend:
        instances: 2
        endpoints:
          /checkout:
            latency_ms: 2
            calls:
              - cart:/items                           # synchronous, in order
              - {service: payment, endpoint: /charge}
              - {parallel: [stock:/reserve, pricing:/quote]}   # one concurrent fan-out group
              - {async: [audit:/log]}                 # fire-and-forget
      cart: {endpoints: {/items: {response: {items: 3}}}}

Validation collects every problem at once and raises :class:`SpecError` listing them.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mocktools.errors import WireError

__all__ = ["CallSpec", "EndpointSpec", "ServiceSpec", "MeshSpec", "SpecError", "CALL_MODES", "parse_call"]

CALL_MODES = ("sync", "parallel", "async")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}\Z")
_PATH = re.compile(r"/[A-Za-z0-9_.~\-/]*\Z")
_MAX_INSTANCES = 64
_TOP_KEYS = ("name", "services", "hop_limit", "allow_cycles", "breakers", "defaults")
_DEFAULT_KEYS = ("instances", "latency_ms")


def _unknown(keys: Any, known: tuple[str, ...], where: str, errors: list[str]) -> None:
    """Report keys outside `known`, with the closest known key as a hint (`circuit_breaker` -> breakers)."""
    for key in sorted(set(map(str, keys)) - set(known)):
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        errors.append(f"{where}: unknown key {key!r}{hint}; known: {', '.join(known)}")


class SpecError(WireError, ValueError):
    """A mesh declaration that cannot run; ``errors`` lists every problem found."""

    type = "invalid_spec"

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("invalid mesh spec: " + "; ".join(self.errors))


@dataclass(slots=True)
class CallSpec:
    """One downstream call made by an endpoint.

    Consecutive ``parallel`` calls with the same ``group`` run as one concurrent fan-out; calls of a
    ``{parallel: [...]}`` block share a group, loose parallel calls have group -1.
    """

    service: str
    endpoint: str = "/"
    mode: str = "sync"
    optional: bool = False
    timeout: float = 5.0
    group: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "endpoint": self.endpoint, "mode": self.mode,
                "optional": self.optional, "timeout_ms": self.timeout * 1000, "group": self.group}


@dataclass(slots=True)
class EndpointSpec:
    """What an endpoint answers, how long it takes itself, and what it calls."""

    path: str = "/"
    status: int = 200
    response: Any = None
    latency: float = 0.0
    calls: list[CallSpec] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "response": self.response, "latency_ms": self.latency * 1000,
                "calls": [c.to_dict() for c in self.calls]}


@dataclass(slots=True)
class ServiceSpec:
    name: str
    instances: int = 1
    endpoints: dict[str, EndpointSpec] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.endpoints:
            self.endpoints = {"/": EndpointSpec("/")}

    def dependencies(self) -> set[str]:
        return {c.service for e in self.endpoints.values() for c in e.calls}

    def to_dict(self) -> dict[str, Any]:
        return {"instances": self.instances, "tags": list(self.tags), "meta": dict(self.meta),
                "endpoints": {p: e.to_dict() for p, e in self.endpoints.items()}}


@dataclass(slots=True)
class MeshSpec:
    name: str = "mesh"
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    hop_limit: int = 16
    allow_cycles: bool = True
    breakers: dict[str, Any] | None = None  # see mocktools.mesh.edge_breakers; None: no breakers

    def add(self, service: ServiceSpec) -> MeshSpec:
        self.services[service.name] = service
        return self

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Any) -> MeshSpec:
        """Build and validate; every error in the document is reported together."""
        errors: list[str] = []
        if not isinstance(doc, dict):
            raise SpecError(["mesh spec must be a mapping"])
        _unknown(doc, _TOP_KEYS, "mesh spec", errors)
        services_doc = doc.get("services", {})
        spec = cls(name=str(doc.get("name", "mesh")))
        spec.hop_limit = _int(doc.get("hop_limit", 16), "hop_limit", errors, low=1, high=1000)
        spec.allow_cycles = doc.get("allow_cycles", True)
        if not isinstance(spec.allow_cycles, bool):
            errors.append(f"allow_cycles must be true or false, got {spec.allow_cycles!r}")
            spec.allow_cycles = True
        if doc.get("breakers") is not None:
            from .edge_breakers import validate_breaker_doc

            spec.breakers = doc["breakers"]
            errors.extend(validate_breaker_doc(spec.breakers))
        defaults = doc.get("defaults", {})
        defaults = {} if defaults is None else defaults
        if not isinstance(defaults, dict):
            errors.append("defaults must be a mapping")
            defaults = {}
        _unknown(defaults, _DEFAULT_KEYS, "defaults", errors)
        if isinstance(services_doc, list):  # list form: [{name: a, ...}, ...]
            items = []
            for i, s in enumerate(services_doc):
                if not isinstance(s, dict) or "name" not in s:
                    errors.append(f"services[{i}] must be a mapping with a name")
                    continue
                items.append((s["name"], s))
        elif isinstance(services_doc, dict):
            items = list(services_doc.items())
        else:
            raise SpecError(["services must be a mapping or a list"])
        for name, sdoc in items:
            svc = _service(str(name), {} if sdoc is None else sdoc, defaults, errors)
            if svc is not None:
                if svc.name in spec.services:
                    errors.append(f"service {svc.name!r} declared twice")
                spec.services[svc.name] = svc
        errors.extend(spec.problems())
        if errors:
            raise SpecError(errors)
        return spec

    @classmethod
    def from_json(cls, text: str | bytes) -> MeshSpec:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SpecError([f"malformed JSON: {exc}"]) from exc

    @classmethod
    def from_yaml(cls, text: str | bytes) -> MeshSpec:
        try:
            return cls.from_dict(yaml.safe_load(text))
        except yaml.YAMLError as exc:
            raise SpecError([f"malformed YAML: {exc}"]) from exc

    @classmethod
    def load(cls, path: str | Path) -> MeshSpec:
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        return cls.from_json(text) if p.suffix == ".json" else cls.from_yaml(text)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "hop_limit": self.hop_limit, "allow_cycles": self.allow_cycles,
               "services": {n: s.to_dict() for n, s in self.services.items()}}
        if self.breakers is not None:
            out["breakers"] = self.breakers
        return out

    # ---- validation ----------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Cross-service checks: names, references, counts, and cycles when forbidden."""
        errors: list[str] = []
        for name, svc in self.services.items():
            if not _NAME.match(name):
                errors.append(f"service name {name!r} must match {_NAME.pattern}")
            if not 0 <= svc.instances <= _MAX_INSTANCES:
                errors.append(f"service {name!r}: instances must be 0..{_MAX_INSTANCES}")
            for path, ep in svc.endpoints.items():
                if not _PATH.match(path) or "//" in path:
                    errors.append(f"service {name!r}: endpoint path {path!r} is not a plain absolute path")
                for call in ep.calls:
                    target = self.services.get(call.service)
                    if target is None:
                        errors.append(f"{name}{path}: calls unknown service {call.service!r}")
                    elif call.endpoint not in target.endpoints:
                        errors.append(f"{name}{path}: calls unknown endpoint {call.service}{call.endpoint}")
                    if call.mode not in CALL_MODES:
                        errors.append(f"{name}{path}: call mode {call.mode!r} not in {CALL_MODES}")
        if not self.allow_cycles and not errors:
            from .graph import DependencyGraph

            cycles = DependencyGraph.from_spec(self).find_cycles()
            for cycle in cycles:
                errors.append("circular dependency: " + " -> ".join(cycle + [cycle[0]]))
        return errors

    def validate(self) -> MeshSpec:
        errors = self.problems()
        if errors:
            raise SpecError(errors)
        return self


def _int(value: Any, what: str, errors: list[str], *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append(f"{what} must be an integer in {low}..{high}, got {value!r}")
        return low
    return value


def _num(value: Any, what: str, errors: list[str], *, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        errors.append(f"{what} must be a number in 0..{high}, got {value!r}")
        return 0.0
    return float(value)


def parse_call(item: Any, where: str, errors: list[str], mode: str = "sync", group: int = -1) -> CallSpec | None:
    """A call from "svc", "svc:/path", or {service, endpoint, mode, optional, timeout_ms}."""
    if isinstance(item, str):
        service, _, endpoint = item.partition(":")
        return CallSpec(service, endpoint or "/", mode, group=group)
    if not isinstance(item, dict) or not isinstance(item.get("service"), str):
        errors.append(f"{where}: a call must be 'service[:/endpoint]' or a mapping with 'service'")
        return None
    unknown = set(item) - {"service", "endpoint", "mode", "optional", "timeout_ms", "group"}
    if unknown:
        errors.append(f"{where}: unknown call keys {sorted(unknown)}")
    m = item.get("mode", mode)
    endpoint = item.get("endpoint", "/")
    if not isinstance(endpoint, str):
        errors.append(f"{where}: endpoint must be a string")
        endpoint = "/"
    timeout = _num(item.get("timeout_ms", 5000), f"{where}: timeout_ms", errors, high=600_000) / 1000
    g = item.get("group", group)
    if isinstance(g, bool) or not isinstance(g, int):
        errors.append(f"{where}: group must be an integer")
        g = group
    return CallSpec(item["service"], endpoint, m, bool(item.get("optional", False)), timeout or 5.0, g)


def _calls(doc: Any, where: str, errors: list[str]) -> list[CallSpec]:
    if doc is None:
        return []
    if not isinstance(doc, list):
        errors.append(f"{where}: calls must be a list")
        return []
    calls: list[CallSpec] = []
    for i, item in enumerate(doc):
        if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("parallel", "async", "sync"):
            mode, group = next(iter(item.items()))
            if not isinstance(group, list):
                errors.append(f"{where}: {mode} must list calls")
                continue
            for sub in group:
                call = parse_call(sub, where, errors, mode=mode, group=i)
                if call is not None:
                    call.mode, call.group = mode, i
                    calls.append(call)
        else:
            call = parse_call(item, where, errors, group=-1)  # loose parallel calls merge with neighbours
            if call is not None:
                calls.append(call)
    return calls


def _service(name: str, doc: Any, defaults: dict[str, Any], errors: list[str]) -> ServiceSpec | None:
    if not isinstance(doc, dict):
        errors.append(f"service {name!r} must be a mapping")
        return None
    known = {"name", "instances", "endpoints", "tags", "meta", "latency_ms", "calls", "response", "status"}
    unknown = set(doc) - known
    if unknown:
        errors.append(f"service {name!r}: unknown keys {sorted(unknown)}")
    instances = _int(doc.get("instances", defaults.get("instances", 1)), f"service {name!r}: instances",
                     errors, low=0, high=_MAX_INSTANCES)
    tags = doc.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors.append(f"service {name!r}: tags must be a list of strings")
        tags = []
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        errors.append(f"service {name!r}: meta must be a mapping")
        meta = {}
    eps_doc = doc.get("endpoints")
    if eps_doc is None:  # shorthand: the service-level keys describe its single "/" endpoint
        eps_doc = {"/": {k: doc[k] for k in ("latency_ms", "calls", "response", "status") if k in doc}}
    if not isinstance(eps_doc, dict):
        errors.append(f"service {name!r}: endpoints must be a mapping of path -> endpoint")
        eps_doc = {}
    endpoints: dict[str, EndpointSpec] = {}
    for path, edoc in eps_doc.items():
        edoc = {} if edoc is None else edoc
        where = f"{name}{path}"
        if not isinstance(edoc, dict):
            errors.append(f"{where}: endpoint must be a mapping")
            continue
        unknown = set(edoc) - {"status", "response", "latency_ms", "calls"}
        if unknown:
            errors.append(f"{where}: unknown endpoint keys {sorted(unknown)}")
        status = _int(edoc.get("status", 200), f"{where}: status", errors, low=100, high=599)
        latency = _num(edoc.get("latency_ms", defaults.get("latency_ms", 0)), f"{where}: latency_ms",
                       errors, high=60_000) / 1000
        endpoints[str(path)] = EndpointSpec(str(path), status, edoc.get("response"), latency,
                                            _calls(edoc.get("calls"), where, errors))
    return ServiceSpec(name, instances, endpoints, list(tags), {str(k): str(v) for k, v in meta.items()})


def call_plan(calls: list[CallSpec]) -> list[tuple[str, list[CallSpec]]]:
    """Steps in order: ("sync", [c]), ("parallel", [c, ...]) fan-out groups, ("async", [c])."""
    plan: list[tuple[str, list[CallSpec]]] = []
    for call in calls:
        if (call.mode == "parallel" and plan and plan[-1][0] == "parallel"
                and plan[-1][1][-1].group == call.group):
            plan[-1][1].append(call)
        else:
            plan.append((call.mode, [call]))
    return plan
