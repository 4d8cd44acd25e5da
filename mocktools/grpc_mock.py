"""GRPCMockServer: the lifecycle plus one gRPC listener (and an HTTP control listener on `admin_port`).

The gRPC listener (listeners/grpc.py) records every RPC (path `/package.Service/Method`,
metadata as headers), applies the fault plan before the servicer runs (HTTP-style statuses map
to gRPC codes, or a fault names a `grpc.StatusCode`) and translates what servicers raise.
"""
from __future__ import annotations

from typing import Any, ClassVar

import grpc

from .clock import Clock
from .control_api import AdminAPI
from .lifecycle import MockServerBase
from .listeners.grpc import HTTP_TO_GRPC, GRPCListener, grpc_code_for, retry_trailers
from .routing import Router


class GRPCMockServer(MockServerBase):
    """A mock served by `grpc.server`; a subclass adds its servicers in `register_services`."""

    scheme = "grpc"
    protocol: ClassVar[str] = "gRPC"
    #: extra `grpc.server` options of a mock (e.g. keepalive policy matching its real server)
    grpc_options: ClassVar[tuple[tuple[str, Any], ...]] = ()

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 seed: int | None = None, journal_limit: int = 10_000, admin_token: str | None = None,
                 verbose: bool = False, max_workers: int = 16, admin_port: int | None = None) -> None:
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit,
                         admin_token=admin_token, verbose=verbose)
        self.max_workers = max_workers
        self.admin_port = admin_port
        self.admin = AdminAPI(self)
        self.register_admin_routes(self.admin.router)
        self.grpc_listener = self.add_listener(GRPCListener(
            self, self.register_services, port=self._requested_port, max_workers=max_workers,
            options=self.grpc_options))
        self.admin_listener = self.add_admin_listener(admin_port)

    def register_services(self, server: grpc.Server) -> None:
        """Add the mock's servicers; a bare GRPCMockServer answers UNIMPLEMENTED to everything."""

    def register_admin_routes(self, router: Router) -> None:
        """Add domain controls under /_mock/ (served on `admin_port`); the core routes are there."""

    @property
    def target(self) -> str:
        """What a gRPC client dials: `host:port`."""
        return self.grpc_listener.target


__all__ = ["HTTP_TO_GRPC", "GRPCMockServer", "grpc_code_for", "retry_trailers"]
