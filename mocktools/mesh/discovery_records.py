"""Registry records and Consul's definition grammar: statuses, durations, checks, service entries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from mocktools.errors import WireError

__all__ = ["ServiceEntry", "CheckState", "RegistrationError", "parse_duration", "PASSING", "WARNING", "CRITICAL",
           "MAINTENANCE", "STATUSES", "CHECK_KINDS", "fold_keys", "or_default", "parse_check"]

PASSING, WARNING, CRITICAL, MAINTENANCE = "passing", "warning", "critical", "maintenance"
STATUSES = (PASSING, WARNING, CRITICAL)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
CHECK_KINDS = ("ttl", "http", "tcp", "grpc", "args", "script", "dockercontainerid", "h2ping", "udp", "aliasservice")


class RegistrationError(WireError, ValueError):
    """A malformed registration or check definition (answered as HTTP 400, Consul's plain text)."""

    type = "consul_registration"


def parse_duration(value: Any, what: str = "duration") -> float:
    """Go duration ("10s", "1m30s", "250ms") to seconds."""
    if not isinstance(value, str) or not value:
        raise RegistrationError(f"{what} must be a duration string like '10s', got {value!r}")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(value):
        raise RegistrationError(f"{what}: invalid duration {value!r}")
    return total


def or_default(value: Any, default: Any) -> Any:
    return default if value is None else value


def fold_keys(d: dict[str, Any]) -> dict[str, Any]:
    """Consul keys are case-insensitive and snake_case is accepted: fold both away."""
    return {k.lower().replace("_", "").replace("-", ""): v for k, v in d.items()}


@dataclass(slots=True)
class CheckState:
    check_id: str
    name: str
    service_id: str = ""
    service_name: str = ""
    service_tags: list[str] = field(default_factory=list)
    status: str = CRITICAL
    output: str = ""
    notes: str = ""
    kind: str = "ttl"
    ttl: float | None = None
    deadline: float | None = None  # clock.monotonic() at which a TTL check turns critical
    deregister_after: float | None = None
    critical_since: float | None = None
    definition: dict[str, Any] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0

    def to_api(self, node: str) -> dict[str, Any]:
        return {"Node": node, "CheckID": self.check_id, "Name": self.name, "Status": self.status,
                "Notes": self.notes, "Output": self.output, "ServiceID": self.service_id,
                "ServiceName": self.service_name, "ServiceTags": list(self.service_tags),
                "Type": self.kind, "Definition": {}, "CreateIndex": self.create_index,
                "ModifyIndex": self.modify_index}


@dataclass(slots=True)
class ServiceEntry:
    id: str
    name: str
    address: str = ""
    port: int = 0
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    tagged_addresses: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=lambda: {"Passing": 1, "Warning": 1})
    enable_tag_override: bool = False
    kind: str = ""
    create_index: int = 0
    modify_index: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.address or '127.0.0.1'}:{self.port}"

    def to_agent(self, datacenter: str) -> dict[str, Any]:
        return {"ID": self.id, "Service": self.name, "Tags": list(self.tags), "Meta": dict(self.meta),
                "Port": self.port, "Address": self.address, "TaggedAddresses": dict(self.tagged_addresses),
                "Weights": dict(self.weights), "EnableTagOverride": self.enable_tag_override,
                "Kind": self.kind, "Datacenter": datacenter}


def parse_check(definition: Any, service_id: str, service_name: str, tags: list[str], ordinal: int,
                now: float) -> CheckState:
    """A CheckState from a Consul check definition (embedded checks get ids service:<id>[:N])."""
    if not isinstance(definition, dict):
        raise RegistrationError("a check definition must be a JSON object")
    d = fold_keys(definition)
    kinds = [k for k in CHECK_KINDS if d.get(k)]
    if not kinds:
        raise RegistrationError("check must have a TTL, HTTP, TCP, gRPC or Args/Script field")
    default_id = f"service:{service_id}" + (f":{ordinal}" if ordinal else "") if service_id else ""
    check_id = d.get("checkid") or d.get("id") or default_id or d.get("name")
    if not isinstance(check_id, str) or not check_id:
        raise RegistrationError("check needs an ID or a Name")
    status = d.get("status") or CRITICAL
    if status not in STATUSES:
        raise RegistrationError(f"invalid check status {status!r}")
    ttl = parse_duration(d["ttl"], "TTL") if "ttl" in kinds else None
    if ttl is not None and ttl <= 0:
        raise RegistrationError("TTL must be > 0")
    if "interval" in d:
        parse_duration(d["interval"], "Interval")
    dereg = d.get("deregistercriticalserviceafter")
    return CheckState(check_id, str(d.get("name") or f"Service '{service_name}' check"), service_id,
                      service_name, list(tags), status, "", str(d.get("notes") or ""), kinds[0], ttl,
                      now + ttl if ttl is not None else None,
                      parse_duration(dereg, "DeregisterCriticalServiceAfter") if dereg else None,
                      now if status == CRITICAL else None, definition)
