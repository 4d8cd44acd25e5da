"""Registry records and Consul's definition grammar: statuses, durations, checks, service entries."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from mocktools.errors import WireError

__all__ = ["ParsedService", "parse_service", "ServiceEntry", "CheckState", "RegistrationError", "parse_duration", "PASSING", "WARNING", "CRITICAL",
           "MAINTENANCE", "STATUSES", "CHECK_KINDS", "fold_keys", "or_default", "parse_check", "validate_address",
           "instance_address"]

PASSING, WARNING, CRITICAL, MAINTENANCE = "passing", "warning", "critical", "maintenance"
STATUSES = (PASSING, WARNING, CRITICAL)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
CHECK_KINDS = ("ttl", "http", "tcp", "grpc", "args", "script", "dockercontainerid", "h2ping", "udp", "aliasservice")


class RegistrationError(WireError, ValueError):
    """A malformed registration or check definition (answered as HTTP 400, Consul's plain text)."""

    type = "consul_registration"


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def validate_address(address: str, what: str = "service Address") -> str:
    """A registration's Address is a host name or an IP literal and nothing else.

    The mesh builds ``http://<address>:<port><endpoint>`` from it, so a scheme, port, path,
    query, userinfo or whitespace in it would let a registration steer calls anywhere
    (``"127.0.0.1:9000/_mock/calls?x="``). Empty means the node's address, as in Consul.
    """
    if address == "":
        return address
    if "%" not in address:  # an IPv6 zone id has no place in a URL built from it
        try:
            ipaddress.ip_address(address)
            return address
        except ValueError:
            pass
    host = address[:-1] if address.endswith(".") else address
    if len(address) > 253 or not host or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise RegistrationError(f"{what} must be a host name or an IP address (no scheme, port, path or "
                                f"query), got {address[:100]!r}")
    return address


def instance_address(bound_host: str) -> str:
    """What a mesh instance registers as its Address: the host it is bound to (loopback for a
    wildcard bind, since that is what reaches it from this machine)."""
    host = bound_host.strip("[]")
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


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
        host = self.address or "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

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


@dataclass
class ParsedService:
    """A Consul service definition checked and normalised, ready to be stored."""

    d: dict[str, Any]
    sid: str
    name: str
    address: str
    port: int
    tags: list[str]
    meta: dict[str, str]
    tagged: dict[str, Any]
    passing: int
    warning: int
    checks: list[CheckState]


def parse_service(definition: Any, now: float) -> ParsedService:
    """Check a service definition (any key casing) as Consul does: RegistrationError naming what is wrong."""
    if not isinstance(definition, dict):
        raise RegistrationError("service definition must be a JSON object")
    d = fold_keys(definition)
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RegistrationError("Missing service name")
    sid = d.get("id") or name
    if not isinstance(sid, str):
        raise RegistrationError("service ID must be a string")
    port = d.get("port", 0)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise RegistrationError(f"Invalid service port {port!r}")
    address = d.get("address", "") or ""
    if not isinstance(address, str):
        raise RegistrationError("service Address must be a string")
    address = validate_address(address)
    tags = or_default(d.get("tags"), [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RegistrationError("service Tags must be a list of strings")
    meta = or_default(d.get("meta"), {})
    if not isinstance(meta, dict) or len(meta) > 64 or not all(
            isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 128 and len(v) <= 512
            for k, v in meta.items()):
        raise RegistrationError("service Meta must map at most 64 keys (<=128 chars) to strings (<=512 chars)")
    weights = fold_keys(d.get("weights") or {})
    passing, warning = weights.get("passing", 1), weights.get("warning", 1)
    if not all(isinstance(w, int) and not isinstance(w, bool) and w >= 0 for w in (passing, warning)) \
            or passing < 1:
        raise RegistrationError("Passing weight must be greater than 0")
    tagged = or_default(d.get("taggedaddresses"), {})
    if not isinstance(tagged, dict):
        raise RegistrationError("TaggedAddresses must be an object")
    check_defs = []
    if d.get("check"):
        check_defs.append(d["check"])
    checks = or_default(d.get("checks"), [])
    if not isinstance(checks, list):
        raise RegistrationError("Checks must be a list")
    check_defs.extend(checks)
    prepared = [parse_check(c, sid, name, list(tags), i + 1 if len(check_defs) > 1 else 0, now)
                for i, c in enumerate(check_defs)]
    return ParsedService(d, sid, name, address, port, list(tags), dict(meta), dict(tagged), passing, warning, prepared)
