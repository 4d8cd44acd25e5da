"""Consul's agent / catalog / health HTTP API over a :class:`ServiceRegistry` (what py-consul uses).

Blocking endpoints answer ``X-Consul-Index`` and honour ``?index=&wait=``: the handler waits on the
registry's Condition (woken by any change, and by the mesh stopping), never a poll loop. Errors are
plain text, as Consul sends them. ``?caller=<service>`` (or the ``X-Mesh-Caller`` header) asks
discovery as that service sees it, which is how a partition shows up in the registry API.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from mocktools.errors import WireError

from ..routing import Router
from .discovery import (
    CRITICAL,
    PASSING,
    WARNING,
    RegistrationError,
    ServiceRegistry,
    parse_duration,
)

MAX_WAIT = 600.0
DEFAULT_WAIT = 300.0


class ConsulError(WireError):
    """An error Consul answers in plain text (the mesh's error shape for type "consul")."""

    type = "consul"

    def __init__(self, status: int, message: str):
        super().__init__(message, status=status)


def _text(status: int, message: str) -> Response:
    return Response(message, status=status, mimetype="text/plain")


def _json(obj: Any, index: int | None = None, status: int = 200) -> Response:
    headers = {"X-Consul-Effective-Consistency": "leader"}
    if index is not None:
        headers.update({"X-Consul-Index": str(index), "X-Consul-KnownLeader": "true", "X-Consul-LastContact": "0"})
    return Response(json.dumps(obj), status=status, headers=headers, mimetype="application/json")


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() not in ("0", "false", "no")


class ConsulAPI:
    """Route handlers; ``self.registry`` and ``self.stopping`` come from the mesh."""

    registry: ServiceRegistry
    node_id = str(uuid.UUID(int=0x6d657368))

    def register_consul_routes(self, router: Router) -> None:
        add = self._route(router)
        add("/v1/agent/self", self.agent_self)
        add("/v1/agent/members", self.agent_members)
        add("/v1/status/leader", lambda r: _json("127.0.0.1:8300"))
        add("/v1/status/peers", lambda r: _json(["127.0.0.1:8300"]))
        add("/v1/agent/services", self.agent_services)
        add("/v1/agent/service/<service_id>", self.agent_service)
        add("/v1/agent/service/register", self.service_register, ["PUT"])
        add("/v1/agent/service/deregister/<service_id>", self.service_deregister, ["PUT"])
        add("/v1/agent/service/maintenance/<service_id>", self.service_maintenance, ["PUT"])
        add("/v1/agent/checks", self.agent_checks)
        add("/v1/agent/check/register", self.check_register, ["PUT"])
        add("/v1/agent/check/deregister/<check_id>", self.check_deregister, ["PUT"])
        for verb, status in (("pass", PASSING), ("warn", WARNING), ("fail", CRITICAL)):
            add(f"/v1/agent/check/{verb}/<check_id>", self._ttl_update(status), ["PUT"])
        add("/v1/agent/check/update/<check_id>", self.check_update, ["PUT"])
        add("/v1/agent/health/service/name/<name>", self.agent_health)
        add("/v1/catalog/services", self.catalog_services)
        add("/v1/catalog/service/<name>", self.catalog_service)
        add("/v1/catalog/nodes", self.catalog_nodes)
        add("/v1/catalog/datacenters", lambda r: _json([self.registry.datacenter]))
        add("/v1/health/service/<name>", self.health_service)
        add("/v1/health/checks/<name>", self.health_checks)
        add("/v1/health/state/<state>", self.health_state)

    def _route(self, router: Router) -> Any:
        def add(rule: str, handler: Any, methods: list[str] | None = None) -> None:
            def wrapped(request: Request, **kw: Any) -> Response:
                if request.args.get("filter"):
                    raise ConsulError(400, "filter expressions are not supported by this mock")
                return handler(request, **kw)
            router.add(rule, wrapped, methods=methods or ["GET"])
        return add

    def error_response(self, status: int, message: str, *, type: str | None = None,
                       headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
        """Consul's errors are plain text; the mesh's own errors keep the JSON shape."""
        if type == "consul":
            return _text(status, message)
        if type == "consul_registration":
            return _text(status, f"Invalid request: {message}")
        return super().error_response(status, message, type=type, headers=headers, **extra)  # type: ignore[misc]

    # ---- helpers --------------------------------------------------------------------------
    def _body(self, request: Request) -> Any:
        data = request.get_data(cache=True)
        if not data.strip():
            raise ConsulError(400, "Request decode failed: empty body")
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ConsulError(400, f"Request decode failed: {exc}") from None

    def _block(self, request: Request, name: str | None) -> int:
        """Blocking query: wait for a change past ``?index=`` for up to ``?wait=`` (default 5m)."""
        raw = request.args.get("index")
        if raw is None:
            return self.registry.service_index(name)
        try:
            index = int(raw)
            if index < 0:
                raise ValueError
        except ValueError:
            raise ConsulError(400, f"Invalid index: {raw!r}") from None
        wait = DEFAULT_WAIT
        if "wait" in request.args:
            try:
                wait = min(parse_duration(request.args["wait"], "wait"), MAX_WAIT)
            except RegistrationError as exc:
                raise ConsulError(400, f"Invalid wait time: {exc}") from None
        return self.registry.wait(index, wait, name=name, stop=self.stopping)  # type: ignore[attr-defined]

    def _caller(self, request: Request) -> str | None:
        return request.args.get("caller") or request.headers.get("X-Mesh-Caller")

    def _node(self) -> dict[str, Any]:
        r = self.registry
        return {"ID": self.node_id, "Node": r.node, "Address": r.address, "Datacenter": r.datacenter,
                "TaggedAddresses": {"lan": r.address, "wan": r.address}, "Meta": {}, "CreateIndex": 1,
                "ModifyIndex": 1}

    def _serf(self) -> dict[str, Any]:
        return {"Node": self.registry.node, "CheckID": "serfHealth", "Name": "Serf Health Status",
                "Status": PASSING, "Notes": "", "Output": "Agent alive and reachable", "ServiceID": "",
                "ServiceName": "", "ServiceTags": [], "Type": "", "CreateIndex": 1, "ModifyIndex": 1}

    # ---- agent ----------------------------------------------------------------------------
    def agent_self(self, request: Request) -> Response:
        r = self.registry
        return _json({"Config": {"Datacenter": r.datacenter, "NodeName": r.node, "NodeID": self.node_id,
                                 "Server": True, "Version": "1.20.0-mocktools"},
                      "Member": {"Name": r.node, "Addr": r.address, "Port": 8301, "Status": 1}})

    def agent_members(self, request: Request) -> Response:
        r = self.registry
        return _json([{"Name": r.node, "Addr": r.address, "Port": 8301, "Status": 1, "Tags": {"dc": r.datacenter}}])

    def agent_services(self, request: Request) -> Response:
        dc = self.registry.datacenter
        return _json({sid: e.to_agent(dc) for sid, e in sorted(self.registry.services().items())})

    def agent_service(self, request: Request, service_id: str) -> Response:
        entry = self.registry.get(service_id)
        if entry is None:
            raise ConsulError(404, f"unknown service ID: {service_id}")
        body = entry.to_agent(self.registry.datacenter)
        body["ContentHash"] = f"{entry.modify_index:016x}"
        resp = _json(body)
        resp.headers["X-Consul-ContentHash"] = body["ContentHash"]
        return resp

    def service_register(self, request: Request) -> Response:
        self.registry.register(self._body(request),
                               replace_existing_checks=_truthy(request.args.get("replace-existing-checks")))
        return Response(b"", status=200)

    def service_deregister(self, request: Request, service_id: str) -> Response:
        self.registry.deregister(service_id)
        return Response(b"", status=200)

    def service_maintenance(self, request: Request, service_id: str) -> Response:
        if "enable" not in request.args:
            raise ConsulError(400, "Missing value for enable")
        try:
            self.registry.set_maintenance(service_id, _truthy(request.args["enable"]), request.args.get("reason", ""))
        except KeyError:
            raise ConsulError(404, f"Unknown service ID {service_id!r}") from None
        return Response(b"", status=200)

    def agent_checks(self, request: Request) -> Response:
        node = self.registry.node
        return _json({cid: c.to_api(node) for cid, c in sorted(self.registry.checks().items())})

    def check_register(self, request: Request) -> Response:
        self.registry.register_check(self._body(request))
        return Response(b"", status=200)

    def check_deregister(self, request: Request, check_id: str) -> Response:
        if not self.registry.deregister_check(check_id):
            raise ConsulError(404, f'Unknown check ID "{check_id}"')
        return Response(b"", status=200)

    def _ttl_update(self, status: str) -> Any:
        def handler(request: Request, check_id: str) -> Response:
            return self._update(check_id, status, request.args.get("note", ""))
        return handler

    def check_update(self, request: Request, check_id: str) -> Response:
        body = self._body(request)
        if not isinstance(body, dict):
            raise ConsulError(400, "Request decode failed: body must be an object")
        folded = {k.lower(): v for k, v in body.items()}
        status, output = folded.get("status"), folded.get("output", "")
        if not isinstance(output, str):
            raise ConsulError(400, "Invalid check output")
        return self._update(check_id, status if isinstance(status, str) else "", output)

    def _update(self, check_id: str, status: str, output: str) -> Response:
        if status not in (PASSING, WARNING, CRITICAL):
            raise ConsulError(400, f'Invalid check status: "{status}"')
        try:
            self.registry.update_check(check_id, status, output)
        except KeyError:
            raise ConsulError(404, f'Unknown check ID "{check_id}"') from None
        return Response(b"", status=200)

    def agent_health(self, request: Request, name: str) -> Response:
        status = self.registry.aggregated_status(name)
        code = {None: 404, PASSING: 200, WARNING: 429}.get(status, 503)
        if request.args.get("format") == "text":
            return _text(code, status or f"ServiceName {name} Not Found")
        entries = self.registry.instances(name)
        dc = self.registry.datacenter
        body = [{"AggregatedStatus": _worst([c.status for c in checks]), "Service": e.to_agent(dc),
                 "Checks": [c.to_api(self.registry.node) for c in checks]} for e, checks in entries]
        return _json(body, status=code)

    # ---- catalog & health -------------------------------------------------------------------
    def catalog_services(self, request: Request) -> Response:
        index = self._block(request, None)
        services = {"consul": [], **self.registry.catalog_services()}
        return _json(services, index)

    def _catalog_entry(self, e: Any) -> dict[str, Any]:
        n = self._node()
        return {"ID": n["ID"], "Node": n["Node"], "Address": n["Address"], "Datacenter": n["Datacenter"],
                "TaggedAddresses": n["TaggedAddresses"], "NodeMeta": {}, "ServiceKind": e.kind,
                "ServiceID": e.id, "ServiceName": e.name, "ServiceTags": list(e.tags),
                "ServiceAddress": e.address, "ServicePort": e.port, "ServiceMeta": dict(e.meta),
                "ServiceWeights": dict(e.weights), "ServiceEnableTagOverride": e.enable_tag_override,
                "ServiceTaggedAddresses": dict(e.tagged_addresses), "CreateIndex": e.create_index,
                "ModifyIndex": e.modify_index}

    def catalog_service(self, request: Request, name: str) -> Response:
        index = self._block(request, name)
        entries = self.registry.instances(name, tags=request.args.getlist("tag"), caller=self._caller(request))
        return _json([self._catalog_entry(e) for e, _ in entries], index)

    def catalog_nodes(self, request: Request) -> Response:
        index = self._block(request, None)
        return _json([self._node()], index)

    def health_service(self, request: Request, name: str) -> Response:
        index = self._block(request, name)
        passing = _truthy(request.args.get("passing")) if "passing" in request.args else False
        entries = self.registry.instances(name, tags=request.args.getlist("tag"), passing=passing,
                                          caller=self._caller(request))
        node, dc = self.registry.node, self.registry.datacenter
        body = [{"Node": self._node(), "Service": e.to_agent(dc) | {"CreateIndex": e.create_index,
                                                                     "ModifyIndex": e.modify_index},
                 "Checks": [self._serf()] + [c.to_api(node) for c in checks]} for e, checks in entries]
        return _json(body, index)

    def health_checks(self, request: Request, name: str) -> Response:
        index = self._block(request, name)
        node = self.registry.node
        return _json([c.to_api(node) for _, checks in self.registry.instances(name) for c in checks], index)

    def health_state(self, request: Request, state: str) -> Response:
        if state not in (PASSING, WARNING, CRITICAL, "any"):
            raise ConsulError(400, f"Invalid state: {state}")
        index = self._block(request, None)
        node = self.registry.node
        checks = [self._serf()] + [c.to_api(node) for c in self.registry.checks().values()]
        return _json([c for c in checks if state == "any" or c["Status"] == state], index)


def _worst(statuses: list[str]) -> str:
    for s in (CRITICAL, "maintenance", WARNING):
        if s in statuses:
            return s
    return PASSING
