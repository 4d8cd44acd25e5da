"""Throughput of MockE6DataServer through the real, unmodified e6data-python-connector.

    .venv/bin/python -m bench.bench_e6data [--seconds 3] [--rows 200000] [--batch 10000]

Measured (client and server share the machine, so every number includes the client's work):
  * queries/s: execute + fetchall + close of a 10-row query (7 RPCs each), 1 connection and
    2 connections in 2 threads, then 1 connection while the engine switches blue/green every second;
  * result rows/s: fetchall of one large generated result (5 typed columns) in batches of --batch,
    and the mock's own share: building + Thrift-encoding the same chunks with no client.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import threading
import time

from e6data_python_connector import Connection

from mocktools.e6data import MockE6DataServer
from mocktools.e6data.encoding import encode_chunk

from ._load import run_threads_for

LARGE_COLUMNS = [("id", "LONG"), ("value", "DOUBLE"), ("label", "STRING"), ("flag", "BOOLEAN"), ("day", "DATE")]


def connect(mock: MockE6DataServer) -> Connection:
    return Connection(host="127.0.0.1", port=mock.port, username="bench@example.com", password="x",
                      database="sales")


def one_query(conn: Connection, sql: str) -> int:
    cursor = conn.cursor()
    cursor.execute(sql)
    rows = cursor.fetchall()
    cursor.close()
    return len(rows)


def queries_per_second(mock: MockE6DataServer, seconds: float, threads: int) -> tuple[float, int]:
    counts = [0] * threads
    errors: list[BaseException] = []

    def worker(i: int, stop: threading.Event) -> None:
        conn = connect(mock)
        try:
            while not stop.is_set():
                one_query(conn, "select * from numbers")
                counts[i] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    elapsed = run_threads_for(seconds, threads, worker)
    if errors:
        print(f"    ({len(errors)} worker errors, first: {errors[0]!r})")
    return sum(counts) / elapsed, sum(counts)


def large_result(mock: MockE6DataServer, rows: int, batch: int) -> tuple[float, float]:
    mock.add_table("bench", "big", LARGE_COLUMNS, row_count=rows, seed=1)
    mock.set_batch_size(batch)
    conn = connect(mock)
    started = time.perf_counter()
    got = one_query(conn, "select * from bench.big")
    elapsed = time.perf_counter() - started
    conn.close()
    assert got == rows, (got, rows)  # a sanity check of the run, not a benchmark assertion
    return rows / elapsed, elapsed


def encode_only(mock: MockE6DataServer, rows: int, batch: int) -> float:
    table = mock.engine.catalog.table("bench", "big")
    assert table is not None, "the bench table is created by the set-up"
    result = table.result
    started = time.perf_counter()
    for start in range(0, rows, batch):
        encode_chunk(result.columns, result.rows(start, start + batch))
    return rows / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args(argv)

    with MockE6DataServer(strategy_interval=None) as mock:
        print("MockE6DataServer through e6data-python-connector (execute + fetchall + close, 10 rows)")
        for threads in (1, 2):
            qps, n = queries_per_second(mock, args.seconds, threads)
            print(f"  {threads} connection(s): {qps:8.1f} queries/s  ({n} queries, {n * 7} RPCs)")
        mock.set_strategy_interval(1.0)
        mock.engine.strategy.drain_timeout = 0.5
        mock.reset_state()
        mock.set_strategy_interval(1.0)
        qps, n = queries_per_second(mock, args.seconds, 1)
        strategy = mock.engine.strategy
        print(f"  1 connection, blue/green switch every 1 s: {qps:8.1f} queries/s  "
              f"({n} queries, {strategy.switches} switches, {strategy.rejections} answered 456)")
        mock.set_strategy_interval(None)

        print(f"Large result: {args.rows} rows x {len(LARGE_COLUMNS)} columns, batches of {args.batch}")
        rate, elapsed = large_result(mock, args.rows, args.batch)
        print(f"  fetchall through the client: {rate:10.0f} rows/s  ({elapsed:.2f} s)")
        print(f"  mock side only (generate + Thrift encode): {encode_only(mock, args.rows, args.batch):10.0f} rows/s")


if __name__ == "__main__":
    main()
