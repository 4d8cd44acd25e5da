"""The simulated e6data engine: sessions, queries and their result cursors, the cluster's
suspend/resume state and the query journal. Plain thread-safe Python, no gRPC: the servicer
translates wire calls to these methods and ``EngineError.code`` to a gRPC status code.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mocktools.clock import Clock, SystemClock

from .catalog import DataCatalog, EngineQueryError, ResultSet
from .encoding import encode_chunk, encode_metadata
from .strategy import StrategyManager, StrategyMismatch
from mocktools.errors import WireError

log = logging.getLogger("mocktools.e6data")

SIGNAL_456 = "status: 456"
SUSPENDED = "status: 503, cluster is suspended"
ACCESS_DENIED = "Access denied"


class EngineError(WireError):
    """An error the engine answers with; ``code`` is a grpc.StatusCode name."""

    status = 500

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, grpc_code=code)
        self.code = code


@dataclass
class Session:
    id: str
    user: str
    strategy: str
    created: float
    last_used: float
    token: bool = False


@dataclass
class Query:
    id: str
    sql: str
    session_id: str
    user: str
    schema: str
    catalog: str
    strategy: str
    result: ResultSet
    created: float
    state: str = "prepared"  # prepared -> executed -> cleared | cancelled
    position: int = 0
    batches: int = 0
    params: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.state in ("prepared", "executed")


@dataclass
class QueryRecord:
    """What the journal keeps per query, for assertions."""

    query_id: str
    sql: str
    session_id: str
    user: str
    strategy: str
    schema: str
    catalog: str
    time: float
    status: str = "prepared"
    rows: int = 0
    rows_sent: int = 0
    error: str | None = None


class E6DataEngine:
    """Everything the mock engine knows; every public method is safe from many threads."""

    def __init__(self, clock: Clock | None = None, *, seed: int = 0, strategy_interval: float | None = 120.0,
                 drain_timeout: float = 60.0, initial_strategy: str = "blue", session_ttl: float | None = 3600.0,
                 batch_size: int = 1000, engine_ip: str = "127.0.0.1", enforce_strategy: bool = True,
                 credentials: dict[str, str] | None = None, journal_limit: int = 10_000) -> None:
        self.clock = clock or SystemClock()
        self.strategy = StrategyManager(self.clock, initial=initial_strategy, interval=strategy_interval,
                                        drain_timeout=drain_timeout, enforce=enforce_strategy)
        self.catalog = DataCatalog(seed)
        self.seed = seed
        self.session_ttl = session_ttl
        self.batch_size = batch_size
        self.v2_chunks_per_call = 4
        self.engine_ip = engine_ip
        self.credentials = dict(credentials) if credentials else None
        self._journal_limit = journal_limit
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.sessions: dict[str, Session] = {}
            self.queries: dict[str, Query] = {}
            self.journal: deque[QueryRecord] = deque(maxlen=self._journal_limit)
            self._records: dict[str, QueryRecord] = {}
            self.cluster_state = "active"
            self._resume_at: float | None = None
            self.resume_delay = 0.0
            self.resume_fails = False
            self.revoked_tokens: set[str] = set()
            self._forced_456: list[Any] = [0, None]  # [calls left, fnmatch pattern on method]
            self.strategy.reset()
            self.catalog.reset()

    # -- cluster -------------------------------------------------------------------------
    def _cluster_status(self) -> str:
        with self._lock:
            if self.cluster_state == "resuming" and self._resume_at is not None \
                    and self.clock.time() >= self._resume_at:
                self.cluster_state = "active"
                self._resume_at = None
                log.info("Cluster resumed")
            return self.cluster_state

    def suspend_cluster(self) -> None:
        with self._lock:
            self.cluster_state = "suspended"
            self._resume_at = None
            log.info("Cluster suspended")

    def resume_cluster(self) -> str:
        """What ClusterService/resume does: suspended -> resuming -> active after resume_delay."""
        with self._lock:
            if self._cluster_status() == "suspended":
                if self.resume_fails:
                    self.cluster_state = "failed"
                else:
                    self.cluster_state = "resuming"
                    self._resume_at = self.clock.time() + self.resume_delay
                    log.info("Cluster resuming (ready in %.1fs)", self.resume_delay)
            return self._cluster_status()

    def cluster_status(self, strategy_header: str | None = None) -> str:
        self._strategy(strategy_header, "ClusterService/status")
        return self._cluster_status()

    def _require_active(self) -> None:
        if self._cluster_status() != "active":
            raise EngineError("UNAVAILABLE", SUSPENDED)

    # -- sessions ------------------------------------------------------------------------
    def inject_strategy_mismatch(self, count: int = 1, method: str | None = None) -> None:
        """Answer the next ``count`` calls (of ``method``, an fnmatch pattern) with the 456 signal."""
        with self._lock:
            self._forced_456 = [int(count), method]

    def _strategy(self, header: str | None, method: str, query: Query | None = None) -> str:
        with self._lock:
            left, pattern = self._forced_456
            if left > 0 and (pattern is None or fnmatch.fnmatchcase(method, pattern)):
                self._forced_456[0] = left - 1
                log.info("Injected status 456 on %s", method)
                raise EngineError("UNKNOWN", SIGNAL_456)
        try:
            return self.strategy.check(header, method, query.strategy if query else None)
        except StrategyMismatch as exc:
            raise EngineError("UNKNOWN", SIGNAL_456) from exc

    def authenticate(self, user: str, password: str, strategy_header: str | None = None) -> Session:
        self._require_active()
        strategy = self._strategy(strategy_header, "authenticate")
        if not user or not password:
            raise EngineError("INTERNAL", f"{ACCESS_DENIED}: user and password are required")
        if self.credentials is not None and self.credentials.get(user) != password:
            raise EngineError("INTERNAL", f"{ACCESS_DENIED}: invalid credentials for {user}")
        now = self.clock.time()
        session = Session(str(uuid.uuid4()), user, strategy, now, now)
        with self._lock:
            self.sessions[session.id] = session
        log.info("Authenticated user %s with session %s", user, session.id)
        return session

    def session(self, session_id: str, bearer: str | None = None) -> Session:
        """The live session for an id; "Access denied" when unknown or expired (re-auth path)."""
        now = self.clock.time()
        with self._lock:
            if not session_id and bearer:
                if bearer in self.revoked_tokens:
                    raise EngineError("UNAUTHENTICATED", "token rejected")
                return Session("", "oauth", self.strategy.active, now, now, token=True)
            session = self.sessions.get(session_id)
            if session is None:
                raise EngineError("INTERNAL", f"{ACCESS_DENIED}: unknown session")
            if self.session_ttl is not None and now - session.last_used > self.session_ttl:
                del self.sessions[session_id]
                log.info("Session %s expired", session_id)
                raise EngineError("INTERNAL", f"{ACCESS_DENIED}: session expired")
            session.last_used = now
            return session

    def expire_sessions(self) -> int:
        """Forget every session now; the next call of each client answers "Access denied"."""
        with self._lock:
            count = len(self.sessions)
            self.sessions.clear()
            return count

    def _enter(self, session_id: str, header: str | None, method: str, bearer: str | None = None,
               query: Query | None = None) -> tuple[Session, str]:
        self._require_active()
        strategy = self._strategy(header, method, query)
        return self.session(session_id, bearer), strategy

    # -- queries -------------------------------------------------------------------------
    def prepare(self, session_id: str, sql: str, *, schema: str = "", catalog: str = "",
                strategy_header: str | None = None, bearer: str | None = None) -> Query:
        session, strategy = self._enter(session_id, strategy_header, "prepareStatement", bearer)
        now = self.clock.time()
        query_id = f"q-{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        record = QueryRecord(query_id, sql, session.id, session.user, strategy, schema, catalog, now)
        try:
            result = self.catalog.resolve(sql, schema or None, catalog or None)
        except EngineQueryError as exc:
            record.status, record.error = "failed", str(exc)
            with self._lock:
                self.journal.append(record)
            raise EngineError("INTERNAL", str(exc)) from exc
        query = Query(query_id, sql, session.id, session.user, schema, catalog, strategy, result, now)
        record.rows = result.row_count
        with self._lock:
            self.queries[query_id] = query
            self.journal.append(record)
            self._records[query_id] = record
        self.strategy.query_opened(strategy)
        return query

    def _query(self, session_id: str, query_id: str, header: str | None, method: str,
               bearer: str | None = None) -> Query:
        with self._lock:
            query = self.queries.get(query_id)
        if query is None:
            self._enter(session_id, header, method, bearer)
            raise EngineError("NOT_FOUND", f"query {query_id!r} not found")
        self._enter(session_id, header, method, bearer, query)
        return query

    def execute(self, session_id: str, query_id: str, strategy_header: str | None = None,
                bearer: str | None = None, params: list[tuple[int, str, str]] | None = None) -> Query:
        query = self._query(session_id, query_id, strategy_header, "executeStatement", bearer)
        with self._lock:
            if not query.open:
                raise EngineError("FAILED_PRECONDITION", f"query {query_id!r} is {query.state}")
            query.state = "executed"
            query.params = list(params or [])
            self._records[query_id].status = "executed"
        return query

    def metadata(self, session_id: str, query_id: str, strategy_header: str | None = None,
                 bearer: str | None = None) -> bytes:
        query = self._query(session_id, query_id, strategy_header, "getResultMetadata", bearer)
        return encode_metadata(query.result.row_count, query.result.columns)

    def _take(self, query: Query) -> bytes:
        """The next batch of a query as a Thrift chunk, b"" when exhausted."""
        with self._lock:
            if query.state == "prepared":
                raise EngineError("FAILED_PRECONDITION", f"query {query.id!r} was not executed")
            if not query.open:
                raise EngineError("FAILED_PRECONDITION", f"query {query.id!r} is {query.state}")
            start = query.position
            stop = min(start + max(1, self.batch_size), query.result.row_count)
            query.position = stop
            record = self._records.get(query.id)
            if record is not None:
                record.rows_sent = stop
        if start >= stop:
            return b""
        payload = encode_chunk(query.result.columns, query.result.rows(start, stop))
        with self._lock:
            query.batches += 1
        return payload

    def next_batch(self, session_id: str, query_id: str, strategy_header: str | None = None,
                   bearer: str | None = None) -> bytes:
        return self._take(self._query(session_id, query_id, strategy_header, "getNextResultBatch", bearer))

    def next_batches(self, session_id: str, query_id: str, strategy_header: str | None = None,
                     bearer: str | None = None) -> tuple[list[bytes], bool]:
        """V2: up to ``v2_chunks_per_call`` chunks and whether the stream has ended."""
        query = self._query(session_id, query_id, strategy_header, "getNextResultBatchV2", bearer)
        payloads: list[bytes] = []
        for _ in range(max(1, self.v2_chunks_per_call)):
            payload = self._take(query)
            if not payload:
                return payloads, True
            payloads.append(payload)
        with self._lock:
            return payloads, query.position >= query.result.row_count

    def close_query(self, session_id: str, query_id: str, strategy_header: str | None = None,
                    bearer: str | None = None, *, cancel: bool = False,
                    method: str = "clearOrCancelQuery") -> Query | None:
        """Clear or cancel a query; idempotent (an unknown or closed id is fine)."""
        with self._lock:
            query = self.queries.get(query_id)
        if query is None:
            self._enter(session_id, strategy_header, method, bearer)
            return None
        self._enter(session_id, strategy_header, method, bearer, query)
        with self._lock:
            was_open = query.open
            if was_open:
                query.state = "cancelled" if cancel else "cleared"
                record = self._records.pop(query_id, None)
                if record is not None:
                    record.status = query.state
            self.queries.pop(query_id, None)
        if was_open:
            self.strategy.query_closed(query.strategy)
        return query

    def query_status(self, session_id: str, query_id: str, strategy_header: str | None = None,
                     bearer: str | None = None) -> tuple[bool, int]:
        query = self._query(session_id, query_id, strategy_header, "status", bearer)
        return query.state in ("executed", "cleared"), query.result.row_count

    def explain(self, session_id: str, query_id: str, strategy_header: str | None = None,
                bearer: str | None = None) -> str:
        query = self._query(session_id, query_id, strategy_header, "explain", bearer)
        columns = ", ".join(f"{c.name}:{c.type}" for c in query.result.columns)
        return (f"MockPlan(strategy={query.strategy})\n  Project[{columns}]\n"
                f"    Scan[rows={query.result.row_count}] <- {query.sql}")

    def dry_run(self, session_id: str, sql: str, schema: str = "", catalog: str = "",
                strategy_header: str | None = None, bearer: str | None = None) -> str:
        self._enter(session_id, strategy_header, "dryRun", bearer)
        try:
            result = self.catalog.resolve(sql, schema or None, catalog or None)
        except EngineQueryError as exc:
            return f'{{"valid": false, "error": "{exc}"}}'
        return f'{{"valid": true, "columns": {len(result.columns)}, "rows": {result.row_count}}}'

    # -- catalog listing -----------------------------------------------------------------
    def list_schemas(self, session_id: str, catalog: str = "", strategy_header: str | None = None,
                     bearer: str | None = None) -> list[str]:
        self._enter(session_id, strategy_header, "getSchemaNames", bearer)
        return self.catalog.schema_names(catalog or None)

    def list_tables(self, session_id: str, schema: str, catalog: str = "", strategy_header: str | None = None,
                    bearer: str | None = None) -> list[str]:
        self._enter(session_id, strategy_header, "getTables", bearer)
        return self.catalog.table_names(schema, catalog or None)

    def list_columns(self, session_id: str, schema: str, table: str, catalog: str = "",
                     strategy_header: str | None = None, bearer: str | None = None) -> list[tuple[str, str]]:
        self._enter(session_id, strategy_header, "getColumns", bearer)
        found = self.catalog.table(schema or None, table, catalog or None)
        if found is None:
            raise EngineError("NOT_FOUND", f"table {schema}.{table} not found")
        return [(c.name, c.type) for c in found.columns]

    def list_catalogs(self, strategy_header: str | None = None) -> list[tuple[str, bool]]:
        self._require_active()
        self._strategy(strategy_header, "getCataloges")
        return [(name, name == self.catalog.default_catalog) for name in self.catalog.catalog_names()]

    # -- introspection -------------------------------------------------------------------
    def announcement(self) -> str | None:
        return self.strategy.announcement()

    def query_log(self) -> list[QueryRecord]:
        with self._lock:
            return list(self.journal)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "cluster": self._cluster_status(), "sessions": len(self.sessions),
                "open_queries": sum(1 for q in self.queries.values() if q.open),
                "queries": len(self.journal), "batch_size": self.batch_size,
                "strategy": self.strategy.describe(),
            }
