"""MockE6DataServer: the e6data engine over gRPC, with blue/green strategy switching."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from re import Pattern
from typing import Any

import grpc

from mocktools.clock import Clock, Duration, to_seconds, to_seconds_or_none
from mocktools.grpc_mock import GRPCMockServer

from .catalog import ResultSet
from .columns import ColumnSpec
from .controls import e6data_controls
from .engine import E6DataEngine, QueryRecord
from .strategy import StrategyEvent
from .wire import add_to_server


class MockE6DataServer(GRPCMockServer):
    """An e6data engine (QueryEngineService + ClusterService) on one port.

    Domain controls: ``switch_strategy()``, ``set_strategy()``, ``suspend_cluster()``,
    ``expire_sessions()``, ``set_query_result()``, ``add_table()``, ``queries()`` and the
    ``engine`` itself (sessions, catalog, strategy state) for anything finer.
    """

    name = "e6data"
    default_port = 50051
    protocol = "e6data engine over gRPC"
    # The connector pings every 30 s even when idle; without this policy the server answers
    # GOAWAY "too_many_pings" after ~90 s idle and the client has to reconnect.
    grpc_options = (("grpc.keepalive_permit_without_calls", 1),
                    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
                    ("grpc.http2.max_ping_strikes", 0))

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, strategy_interval: Duration | None = 120.0,
                 drain_timeout: Duration = 60.0, initial_strategy: str = "blue", session_ttl: Duration | None = 3600.0,
                 batch_size: int = 1000, credentials: dict[str, str] | None = None,
                 enforce_strategy: bool = True, clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_workers: int = 16, admin_port: int | None = None) -> None:
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_workers=max_workers, admin_port=admin_port)
        self.engine = E6DataEngine(
            self.clock, seed=self.seed or 0, strategy_interval=to_seconds_or_none(strategy_interval, "strategy_interval"),
            drain_timeout=to_seconds(drain_timeout, "drain_timeout"), initial_strategy=initial_strategy,
            session_ttl=to_seconds_or_none(session_ttl, "session_ttl"), batch_size=batch_size,
            engine_ip=host if host not in ("0.0.0.0", "::", "") else "127.0.0.1",
            enforce_strategy=enforce_strategy, credentials=credentials)
        self.admin.add_controls(e6data_controls(self.engine))

    def register_services(self, server: grpc.Server) -> None:
        add_to_server(self.engine, server)

    # -- lifecycle hooks -----------------------------------------------------------------
    def reset_state(self) -> None:
        self.engine.reset()

    def describe_state(self) -> dict[str, Any]:
        return self.engine.describe()

    # -- strategy ------------------------------------------------------------------------
    @property
    def active_strategy(self) -> str:
        self.engine.strategy.tick()
        return self.engine.strategy.active

    @property
    def pending_strategy(self) -> str | None:
        self.engine.strategy.tick()
        return self.engine.strategy.pending

    def switch_strategy(self, *, immediate: bool = False) -> str:
        """Announce a blue/green switch now (``immediate``: complete it at once)."""
        return self.engine.strategy.switch_strategy(immediate=immediate)

    def set_strategy(self, strategy: str) -> None:
        """Serve ``strategy`` from now on, without announcing it first."""
        self.engine.strategy.set_strategy(strategy)

    def set_strategy_interval(self, seconds: Duration | None) -> None:
        self.engine.strategy.interval = to_seconds_or_none(seconds, "seconds")

    @property
    def strategy_events(self) -> list[StrategyEvent]:
        return list(self.engine.strategy.events)

    # -- sessions and cluster ------------------------------------------------------------
    def inject_strategy_mismatch(self, count: int = 1, method: str | None = None) -> None:
        """The next ``count`` calls (of ``method``, fnmatch on e.g. "getNextResultBatch") get 456."""
        self.engine.inject_strategy_mismatch(count, method)

    def expire_sessions(self) -> int:
        return self.engine.expire_sessions()

    def suspend_cluster(self) -> None:
        """Suspend: calls answer UNAVAILABLE "status: 503, cluster is suspended" until resumed."""
        self.engine.suspend_cluster()

    def resume_cluster(self) -> str:
        return self.engine.resume_cluster()

    @property
    def cluster_status(self) -> str:
        return self.engine._cluster_status()

    def set_resume_behavior(self, *, delay: Duration = 0.0, fails: bool = False) -> None:
        """How ClusterService/resume behaves: ready after ``delay`` (clock seconds or timedelta), or "failed"."""
        self.engine.resume_delay = to_seconds(delay, "delay")
        self.engine.resume_fails = fails

    # -- data ----------------------------------------------------------------------------
    def set_batch_size(self, rows: int) -> None:
        if rows < 1:
            raise ValueError("batch size must be >= 1")
        self.engine.batch_size = rows

    def set_query_result(self, pattern: str | Pattern[str], columns: Iterable[ColumnSpec] | None = None,
                         rows: Sequence[Sequence[Any]] | None = None, **kwargs: Any) -> ResultSet:
        return self.engine.catalog.set_query_result(pattern, columns, rows, **kwargs)

    def set_query_error(self, pattern: str | Pattern[str], message: str) -> None:
        self.engine.catalog.set_query_error(pattern, message)

    def add_table(self, schema: str, table: str, columns: Iterable[ColumnSpec], **kwargs: Any) -> None:
        self.engine.catalog.add_table(schema, table, columns, **kwargs)

    def queries(self, sql: str | None = None) -> list[QueryRecord]:
        """The query journal (SQL, strategy, session, status, rows), optionally for one SQL text."""
        records = self.engine.query_log()
        return [r for r in records if sql is None or r.sql == sql]

    # -- CLI -----------------------------------------------------------------------------
    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--strategy-interval", type=float, default=120.0,
                            help="seconds between blue/green switches (0 = never)")
        parser.add_argument("--initial-strategy", choices=("blue", "green"), default="blue")
        parser.add_argument("--drain-timeout", type=float, default=60.0,
                            help="longest wait for in-flight queries before a switch completes")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per result batch")
        parser.add_argument("--session-ttl", type=float, default=3600.0, help="idle seconds before a session expires")

    @classmethod
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> MockE6DataServer:
        return cls(strategy_interval=getattr(args, "strategy_interval", 120.0) or None,
                   initial_strategy=getattr(args, "initial_strategy", "blue"),
                   drain_timeout=getattr(args, "drain_timeout", 60.0),
                   batch_size=getattr(args, "batch_size", 1000),
                   session_ttl=getattr(args, "session_ttl", 3600.0), **kwargs)
