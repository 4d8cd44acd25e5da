#!/usr/bin/env python
"""Test client for the e6data mock (the seed's test_mock_server.py): queries through the real,
unmodified e6data-python-connector and logs the blue/green strategy as the client sees it.

    .venv/bin/python scripts/run_e6data.py --strategy-interval 20      # shell 1
    .venv/bin/python scripts/e6data_demo_client.py --mode continuous   # shell 2

Modes: 1 / continuous (a query every --interval seconds, --count times or until Ctrl-C),
2 / single (one query, rows printed), 3 / catalog (schemas, tables, columns). Without --mode and
with a terminal, a menu asks. Log lines follow the seed: "Successfully authenticated with
strategy: blue", "Query #1 executed successfully", "Pending deployment strategy set to: green",
"Strategy transition completed: blue -> green", "Query #2 executed with new strategy: green".
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from e6data_python_connector import Connection, e6data_grpc

log = logging.getLogger("e6data_demo_client")


def client_strategy() -> tuple[str | None, str | None]:
    """(active, pending) as the connector caches them process-wide."""
    shared = e6data_grpc._get_shared_strategy()
    return shared.get("active_strategy"), shared.get("pending_strategy")


class StrategyWatcher:
    """Turns changes of the connector's strategy state into the seed's log lines."""

    def __init__(self) -> None:
        self.active: str | None = None
        self.pending: str | None = None
        self.changed = False

    def observe(self) -> None:
        active, pending = client_strategy()
        if self.active is None and active:
            log.info("Successfully authenticated with strategy: %s", active)
        elif active and active != self.active:
            log.info("Strategy transition completed: %s -> %s", self.active, active)
            self.changed = True
        if pending and pending != self.pending:
            log.info("Pending deployment strategy set to: %s", pending)
        self.active, self.pending = active or self.active, pending


def run_query(conn: Connection, sql: str, watcher: StrategyWatcher) -> tuple[list, str | None]:
    """Rows and the strategy the query ran on (the connector pins each query to one)."""
    cursor = conn.cursor()
    try:
        query_id = cursor.execute(sql)
        ran_on = e6data_grpc._get_query_strategy(query_id)
        watcher.observe()
        rows = cursor.fetchall()
        watcher.observe()
    finally:
        cursor.close()
    watcher.observe()
    return rows, ran_on


def continuous(conn: Connection, args: argparse.Namespace) -> int:
    watcher, failures, n = StrategyWatcher(), 0, 0
    while args.count is None or n < args.count:
        n += 1
        # a transition completes when the previous query is cleared: this query is the first on it
        switched, watcher.changed = watcher.changed, False
        try:
            rows, ran_on = run_query(conn, args.query, watcher)
        except Exception as exc:  # noqa: BLE001 - a demo reports and carries on
            failures += 1
            log.error("Query #%d failed: %s", n, exc)
        else:
            if switched:
                log.info("Query #%d executed with new strategy: %s (%d rows)", n, ran_on, len(rows))
            else:
                log.info("Query #%d executed successfully (%d rows, strategy %s)", n, len(rows), ran_on)
        if args.count is None or n < args.count:
            time.sleep(args.interval)
    log.info("Done: %d queries, %d failed", n, failures)
    return 1 if failures else 0


def single(conn: Connection, args: argparse.Namespace) -> int:
    watcher = StrategyWatcher()
    cursor = conn.cursor()
    cursor.execute(args.query)
    watcher.observe()
    print("columns:", [(d[0], d[1]) for d in cursor.description])
    print("rowcount:", cursor.rowcount)
    for row in cursor.fetchall():
        print(row)
    cursor.close()
    return 0


def catalog(conn: Connection, args: argparse.Namespace) -> int:
    cat = args.catalog or "default"
    for schema in conn.get_schema_names(cat):
        print(f"schema {schema}")
        for table in conn.get_tables(cat, schema):
            columns = conn.get_columns(cat, schema, table)
            print(f"  table {table}: " + ", ".join(f"{c['fieldName']} {c['fieldType']}" for c in columns))
    return 0


MODES = {"1": "continuous", "2": "single", "3": "catalog"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("--user", default="test@example.com")
    parser.add_argument("--password", default="test-token")
    parser.add_argument("--database", default="sales")
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--cluster-name", default="demo-cluster")
    parser.add_argument("--mode", choices=sorted(set(MODES) | set(MODES.values())))
    parser.add_argument("--query", default="select * from sales.customers limit 5")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between continuous queries")
    parser.add_argument("--count", type=int, default=None, help="continuous: stop after this many queries")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")

    mode = args.mode
    if mode is None:
        if sys.stdin.isatty():
            print("1) continuous queries (shows strategy switching)\n2) single query\n3) list catalog")
            mode = input("Choose an option [1]: ").strip() or "1"
        else:
            mode = "1"
    mode = MODES.get(mode, mode)
    conn = Connection(host=args.host, port=args.port, username=args.user, password=args.password,
                      database=args.database, catalog=args.catalog, cluster_name=args.cluster_name)
    try:
        return {"continuous": continuous, "single": single, "catalog": catalog}[mode](conn, args)
    except KeyboardInterrupt:
        return 0
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
