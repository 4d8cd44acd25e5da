"""MockServiceMesh: the registry API on its own port plus every service instance on theirs.

``start()`` binds the Consul-style registry API (well-known port 8500), then starts every instance
in parallel (each a :class:`ServiceInstance` on port 0) and registers it; ``stop()`` wakes blocking
queries, stops every instance in parallel and frees every port. Services, edges and replica counts
change at run time; the dependency graph follows.
"""

from __future__ import annotations

import argparse
import itertools
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from ..clock import Clock, Duration, to_seconds
from ..errors import MockStartError
from ..http_engines import resolve_engine
from ..http_mock import HTTPMockServer
from ..routing import Router
from ..visual.routes import register_mesh_visual_routes
from .affinity import resolve_cpu, start_here, start_pinned
from .shared_loop import SharedLoop
from .chaos import ChaosController
from .controls import mesh_controls
from .discovery import PASSING, STATUSES, ServiceEntry, ServiceRegistry
from .edge_breakers import BreakerRegistry
from .graph import DependencyGraph
from .instance import ServiceInstance
from .link import MeshLink
from .otlp_export import export_spans
from .discovery_records import instance_address
from .spans import Completeness, ContextEvent, MeshSpan, SpanStore, TraceNode
from .spec import CALL_MODES, CallSpec, EndpointSpec, MeshSpec, ServiceSpec
from .wire import ConsulAPI

__all__ = ["MockServiceMesh"]


def _as_spec(spec: MeshSpec | dict[str, Any] | str | Path | None) -> MeshSpec:
    if spec is None:
        return MeshSpec()
    if isinstance(spec, MeshSpec):
        return spec.validate()
    if isinstance(spec, dict):
        return MeshSpec.from_dict(spec)
    return MeshSpec.load(spec)


class MockServiceMesh(ConsulAPI, HTTPMockServer):
    """A mesh of interdependent mock services with Consul-style discovery and W3C tracing."""

    name = "mesh"
    default_port = 8500
    protocol = "service mesh + Consul-style registry"

    def __init__(self, spec: MeshSpec | dict[str, Any] | str | Path | None = None, host: str = "127.0.0.1",
                 port: int = 0, *, hop_limit: int | None = None, propagation: tuple[str, ...] = ("w3c",),
                 accept_b3: bool = True, accept_jaeger: bool = True, node: str = "mesh-node",
                 datacenter: str = "dc1", workers: int = 64, breakers: dict[str, Any] | None = None,
                 clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_body_bytes: int | None = None, otlp_endpoint: str | None = None,
                 span_limits: dict[str, int] | None = None, engine: str | None = None,
                 cpu_affinity: int | str | None = None, shared_loop: bool = True) -> None:
        self.spec = _as_spec(spec)
        self._original = self.spec.to_dict()  # what reset() returns the topology to
        #: the HTTP engine of the registry API and of every instance (None: $MOCKTOOLS_HTTP_ENGINE or
        #: the default; see http_engines): hops that call out each take a loop -> worker -> loop
        #: hand-off on the asyncio engine, a thread per connection on "werkzeug" (bench/README.md)
        self.engine = resolve_engine(engine) if engine is not None else None  # checked now, if named
        self.cpu = resolve_cpu(cpu_affinity)  # the CPU the instances' threads stay on (affinity.py)
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes, engine=self.engine)
        self.hop_limit = hop_limit or self.spec.hop_limit
        self.propagation = tuple(propagation)
        self.accept_b3, self.accept_jaeger = accept_b3, accept_jaeger
        self.registry = ServiceRegistry(self.clock, node=node, datacenter=datacenter, address=self.host)
        self.graph = DependencyGraph.from_spec(self.spec)
        self.spans = SpanStore(**(span_limits or {}))
        #: where /_mock/mesh/export may send spans (besides loopback when the mesh is on loopback)
        self.otlp_endpoint = otlp_endpoint
        self.breakers = BreakerRegistry(self.clock, breakers if breakers is not None else self.spec.breakers)
        self.graph.state_provider = self.breakers.graph_state
        self.graph.owner = self
        self.chaos = ChaosController(self, self.seed or 0)
        self._failed: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.instances: dict[str, list[ServiceInstance]] = {n: [] for n in self.spec.services}
        self._workers = workers
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="mesh-call")
        #: the one loop thread of every instance on the asyncio engine (shared_loop.py); with
        #: shared_loop=False each instance runs a loop thread of its own
        self.instance_loop = SharedLoop("mesh-instances")
        self.shared_loop = shared_loop
        self._ids = itertools.count()
        self._topology = threading.RLock()
        self._session = requests.Session()
        self.link = MeshLink(self)
        self.admin.add_controls(mesh_controls(self))

    def register_routes(self, router: Router) -> None:
        self.register_consul_routes(router)

    def register_admin_routes(self, router: Router) -> None:
        register_mesh_visual_routes(self, router)

    # ---- lifecycle -----------------------------------------------------------------------
    def _open(self) -> int:
        """The registry API's listener, then every instance in parallel (all rolled back on a failure)."""
        with self._topology:
            port = super()._open()
            self.registry.open()
            if getattr(self.executor, "_shutdown", False):
                self.executor = ThreadPoolExecutor(self._workers, thread_name_prefix="mesh-call")
            try:
                if self.shared_loop and resolve_engine(self.engine) == "asyncio":
                    start_pinned(self.cpu, self.instance_loop)  # its thread keeps the CPU, if one is set
                todo = [(n, self._new_instance(n)) for n, s in self.spec.services.items() for _ in range(s.instances)]
                self._start_all([inst for _, inst in todo])
                for name, inst in todo:
                    self.instances[name].append(inst)
                    self._register(inst)
            except BaseException:
                self._stop_instances()
                self.instance_loop.stop()
                super()._close()
                raise
        return port

    def _close(self) -> None:
        with self._topology:  # stop() set `stopping` first: hangs released below drop, not answer
            self.registry.close()  # wake blocking queries first, or joining their threads would hang
            self.chaos.release_hangs()
            self._stop_instances()
            self.instance_loop.stop()
            self.executor.shutdown(wait=False, cancel_futures=True)
            super()._close()

    def _new_instance(self, service: str) -> ServiceInstance:
        return ServiceInstance(self.link, service, f"{service}-{next(self._ids)}")

    def _start_all(self, instances: list[ServiceInstance]) -> None:
        if not instances:
            return
        with ThreadPoolExecutor(min(32, len(instances))) as pool:
            futures = [pool.submit(start_here, self.cpu, i) for i in instances]  # pool threads: throwaway
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            for i in instances:
                i.stop()
            raise MockStartError(f"{len(errors)} mesh instance(s) failed to start: {errors[0]}")

    def _stop_instances(self) -> None:
        everything = [i for group in self.instances.values() for i in group]
        for group in self.instances.values():
            group.clear()
        if everything:
            with ThreadPoolExecutor(min(32, len(everything))) as pool:
                list(pool.map(lambda i: i.stop(), everything))

    def _register(self, inst: ServiceInstance) -> None:
        svc = self.spec.services[inst.service]
        self.registry.register({
            "Name": inst.service, "ID": inst.instance_id, "Address": instance_address(self.host), "Port": inst.port,
            "Tags": list(svc.tags), "Meta": {**svc.meta, "mesh": self.spec.name},
            "Check": {"CheckID": f"mesh:{inst.instance_id}", "Name": "mesh instance health",
                      "HTTP": f"{inst.url}/_mock", "Interval": "10s", "Status": PASSING}})

    # ---- topology at run time --------------------------------------------------------------
    def add_service(self, service: ServiceSpec | str, **kwargs: Any) -> ServiceSpec:
        """Declare (and, if running, start) a service; calls must target known services."""
        svc = service if isinstance(service, ServiceSpec) else ServiceSpec(service, **kwargs)
        with self._topology:
            if svc.name in self.spec.services:
                raise ValueError(f"service {svc.name!r} already exists")
            trial = MeshSpec(self.spec.name, {**self.spec.services, svc.name: svc}, self.spec.hop_limit,
                             self.spec.allow_cycles)
            trial.validate()
            self.spec.services[svc.name] = svc
            self.instances[svc.name] = []
            self.graph.add_service(svc.name, instances=svc.instances, tags=list(svc.tags))
            for path, ep in svc.endpoints.items():
                for c in ep.calls:
                    self.graph.add_edge(svc.name, c.service, kind=c.mode, endpoint=f"{path}->{c.endpoint}")
            if self.running:
                self.scale(svc.name, svc.instances)
            return svc

    def remove_service(self, name: str) -> None:
        """Deregister and stop every instance, drop the service and its edges (callers now get 503)."""
        with self._topology:
            self.scale(name, 0)
            del self.spec.services[name]
            del self.instances[name]
            self.graph.remove_service(name)

    def add_dependency(self, caller: str, callee: str, *, endpoint: str = "/", target: str = "/",
                       mode: str = "sync", optional: bool = False, timeout: float = 5.0) -> CallSpec:
        """Make ``caller``'s ``endpoint`` also call ``callee``'s ``target`` from now on."""
        with self._topology:
            ep = self._endpoint(caller, endpoint)
            if target not in self._service(callee).endpoints:
                raise KeyError(f"{callee} has no endpoint {target}")
            if mode not in CALL_MODES:
                raise ValueError(f"call mode {mode!r} not in {CALL_MODES}")
            call = CallSpec(callee, target, mode, optional, timeout)
            ep.calls = [*ep.calls, call]
            self.graph.add_edge(caller, callee, kind=mode, endpoint=f"{endpoint}->{target}")
            return call

    def remove_dependency(self, caller: str, callee: str) -> None:
        """Remove every call from ``caller`` to ``callee`` (all endpoints)."""
        with self._topology:
            svc = self._service(caller)
            for ep in svc.endpoints.values():
                ep.calls = [c for c in ep.calls if c.service != callee]
            self.graph.remove_edge(caller, callee)

    def set_endpoint(self, service: str, path: str, **changes: Any) -> EndpointSpec:
        """Change what an endpoint answers (status, response, latency) or add it."""
        with self._topology:
            svc = self._service(service)
            ep = svc.endpoints.get(path) or svc.endpoints.setdefault(path, EndpointSpec(path))
            for key, value in changes.items():
                if key not in ("status", "response", "latency"):
                    raise ValueError(f"unknown endpoint field {key!r}")
                setattr(ep, key, value)
            return ep

    def scale(self, name: str, replicas: int) -> list[str]:
        """Add or remove instances while traffic flows; removal deregisters, drains, then stops."""
        if not 0 <= replicas <= 64:
            raise ValueError("replicas must be 0..64")
        with self._topology:
            svc = self._service(name)
            svc.instances = replicas
            self.graph.add_service(name, instances=replicas)
            group = self.instances[name]
            if not self.running:
                return []
            if replicas > len(group):
                new = [self._new_instance(name) for _ in range(replicas - len(group))]
                self._start_all(new)
                for inst in new:
                    group.append(inst)
                    self._register(inst)
            gone = group[replicas:]
            del group[replicas:]
        for inst in gone:
            self.registry.deregister(inst.instance_id)
        for inst in gone:
            inst.drain()
            inst.stop()
        return [i.instance_id for i in self.instances[name]]

    def _service(self, name: str) -> ServiceSpec:
        try:
            return self.spec.services[name]
        except KeyError:
            raise KeyError(f"unknown service {name!r}") from None

    def _endpoint(self, service: str, path: str) -> EndpointSpec:
        try:
            return self._service(service).endpoints[path]
        except KeyError:
            raise KeyError(f"{service} has no endpoint {path}") from None

    # ---- discovery & health ---------------------------------------------------------------
    def discover(self, service: str, caller: str | None = None) -> list[ServiceEntry]:
        """Passing instances of ``service`` as ``caller`` sees them (what a hop uses per call)."""
        return self.registry.healthy(service, caller)

    def set_instance_health(self, instance_id: str, status: str, output: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        self.registry.update_check(f"mesh:{instance_id}", status, output)

    def instance(self, instance_id: str) -> ServiceInstance:
        for group in self.instances.values():
            for inst in group:
                if inst.instance_id == instance_id:
                    return inst
        raise KeyError(instance_id)

    def url_of(self, service: str) -> str:
        """The URL of one running instance (the first); use :meth:`request` for round-robin."""
        group = self.instances.get(service)
        if not group:
            raise KeyError(f"no running instance of {service!r}")
        return group[0].url

    def request(self, service: str, endpoint: str = "/", *, headers: dict[str, str] | None = None,
                method: str = "GET", timeout: float = 30.0) -> requests.Response:
        """Call a service as an outside client would, through discovery."""
        found = self.discover(service)
        if not found:
            raise LookupError(f"no healthy instance of {service!r}")
        target = found[next(self._ids) % len(found)]
        return self._session.request(method, target.url + endpoint, headers=headers, timeout=timeout)

    def restart_instance(self, instance_id: str) -> ServiceInstance:
        """Start a stopped instance again (on a new port) and register it anew."""
        inst = self.instance(instance_id)
        with self._topology:
            if not inst.running and self.running:
                start_pinned(self.cpu, inst)
            self._register(inst)
        return inst

    # ---- failures -------------------------------------------------------------------------
    def note_failure(self, inst: ServiceInstance, result: dict[str, Any], trace_id: str) -> None:
        self._failed.append({"time": self.clock.time(), "trace_id": trace_id, "caller": inst.service,
                             "instance": inst.instance_id, "callee": result["service"],
                             "endpoint": result["endpoint"], "status": result.get("status"),
                             "error": result.get("error", ""), "short_circuited": bool(result.get("short_circuited"))})

    def failed_calls(self) -> list[dict[str, Any]]:
        """Every failed downstream call (bounded): caller, callee, status, error, breaker short-circuit."""
        return list(self._failed)

    # ---- tracing --------------------------------------------------------------------------
    def trace(self, trace_id: str) -> list[MeshSpan]:
        return self.spans.spans(trace_id)

    def trace_tree(self, trace_id: str) -> list[TraceNode]:
        return self.spans.tree(trace_id)

    def check_trace(self, trace_id: str, expected: list[tuple[str, str]] | None = None) -> Completeness:
        return self.spans.completeness(trace_id, expected)

    def wait_for_trace(self, trace_id: str, expected: list[tuple[str, str]] | None = None,
                       timeout: Duration = 5.0, *, min_spans: int = 1) -> Completeness:
        """Wait (on a Condition) until the trace is complete, fire-and-forget hops included."""
        return self.spans.wait_complete(trace_id, expected, to_seconds(timeout, "timeout"), min_spans=min_spans)

    def context_events(self) -> list[ContextEvent]:
        """Every hop that received invalid trace context (the trace restarted or tracestate dropped)."""
        return self.spans.context_events()

    def export_otlp(self, endpoint: str | None = None, trace_id: str | None = None, **kwargs: Any) -> int:
        """POST recorded spans (one trace, or all) to an OTLP/HTTP collector; returns spans sent.

        `endpoint` defaults to the mesh's `otlp_endpoint`. From Python any endpoint is allowed;
        the HTTP control route checks `export_target_rule` first."""
        target = endpoint or self.otlp_endpoint
        if not target:
            raise ValueError("no endpoint given and the mesh has no otlp_endpoint")
        return export_spans(self.spans.spans(trace_id), target, **kwargs)

    def interrupt_waits(self) -> None:
        super().interrupt_waits()
        self.spans.interrupt()

    def instance_tokens(self) -> dict[str, str]:
        """Each running instance's /_mock/ token (instances bound off loopback need one)."""
        return {i.instance_id: i.admin_token for group in self.instances.values() for i in group if i.admin_token}

    # ---- state ----------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Clear spans and partitions, return the topology to the spec the mesh was built with
        (restarting instances only if it changed), and re-register every instance as passing."""
        with self._topology:
            self.chaos.reset()
            self.spans.clear()
            self._failed.clear()
            self.breakers.configure(self.breakers.doc)
            if self.spec.to_dict() != self._original:
                running = self.running
                self._stop_instances()
                self.spec = MeshSpec.from_dict(self._original)
                self.graph = DependencyGraph.from_spec(self.spec)
                self.graph.state_provider = self.breakers.graph_state
                self.graph.owner = self
                self.instances = {n: [] for n in self.spec.services}
                if running:
                    todo = [(n, self._new_instance(n)) for n, s in self.spec.services.items()
                            for _ in range(s.instances)]
                    self._start_all([inst for _, inst in todo])
                    for name, inst in todo:
                        self.instances[name].append(inst)
            self.registry.reset()
            for group in self.instances.values():
                for inst in group:
                    inst.reset()
                    self._register(inst)

    def check(self) -> None:
        """Re-raise a handler exception of the registry API or of any instance."""
        super().check()
        for group in list(self.instances.values()):
            for inst in group:
                inst.check()

    def describe_state(self) -> dict[str, Any]:
        return {"mesh": self.spec.name, "hop_limit": self.hop_limit,
                "services": {n: [i.instance_id for i in g] for n, g in self.instances.items()},
                "registry": self.registry.describe(), "spans": self.spans.describe(),
                "breakers": self.breakers.describe(), "chaos": self.chaos.scenarios(),
                "cycles": self.graph.find_cycles(),
                **({"instance_tokens": self.instance_tokens()} if self.admin_token else {})}

    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--spec", help="mesh spec file (YAML or JSON)")

    @classmethod
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> MockServiceMesh:
        return cls(getattr(args, "spec", None), **kwargs)
