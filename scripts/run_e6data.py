#!/usr/bin/env python
"""Run MockE6DataServer (the e6data engine over gRPC) on its well-known port and print what it receives.

    .venv/bin/python scripts/run_e6data.py                          # 127.0.0.1:50051, switch every 120 s
    .venv/bin/python scripts/run_e6data.py --strategy-interval 20 --admin-port 50052

Then, in another shell, `.venv/bin/python scripts/e6data_demo_client.py` runs continuous queries
through e6data-python-connector and shows the blue/green switches. With --admin-port the domain
controls are reachable over HTTP, e.g.
`curl -XPOST localhost:50052/_mock/e6data/switch`, `curl -XPOST localhost:50052/_mock/e6data/cluster/suspend`,
`curl -XPOST localhost:50052/_mock/faults/failure-count -d '{"n": 2, "status": "UNAVAILABLE"}'`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mocktools.cli import Parser, add_fault_arguments, apply_fault_arguments, port_number  # noqa: E402
from mocktools.e6data import MockE6DataServer  # noqa: E402


def watch_calls(mock: MockE6DataServer, stop: threading.Event, log: logging.Logger) -> None:
    """Print each journaled call once: method, strategy header, result code."""
    seen = 0
    while not stop.wait(0.2):
        for record in mock.calls:
            if record.seq <= seen:
                continue
            seen = record.seq
            strategy = record.headers.get("strategy", "-")
            log.info("%s strategy=%s -> %s", record.path, strategy, record.meta.get("grpc_code", record.status))


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=MockE6DataServer.default_port)
    parser.add_argument("--admin-port", type=port_number, default=None, help="serve the /_mock/ HTTP controls here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet-calls", action="store_true", help="do not print every RPC")
    parser.add_argument("--run-seconds", type=float, default=None, help="stop by itself after this long")
    MockE6DataServer.cli_arguments(parser)
    add_fault_arguments(parser)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")
    log = logging.getLogger("mocktools.e6data")
    mock = MockE6DataServer.from_cli(args, host=args.host, port=args.port, seed=args.seed,
                                     admin_port=args.admin_port)
    apply_fault_arguments(mock, args)
    mock.start()
    interval = mock.engine.strategy.interval
    log.info("Mock e6data gRPC server started on port %d", mock.port)
    log.info("Initial strategy: %s", mock.active_strategy)
    log.info("Strategy will switch every %s", f"{interval:g} seconds" if interval else "never (manual only)")
    if mock.admin_url:
        log.info("HTTP controls at %s/_mock/ (e.g. POST %s/_mock/e6data/switch)", mock.admin_url, mock.admin_url)
    stop = threading.Event()
    watcher = None
    if not args.quiet_calls:
        watcher = threading.Thread(target=watch_calls, args=(mock, stop, log), daemon=True)
        watcher.start()
    try:
        # Tick the strategy clock even when no client calls, so scheduled switches are logged on time.
        deadline = None if args.run_seconds is None else time.monotonic() + args.run_seconds
        while deadline is None or time.monotonic() < deadline:
            left = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            if stop.wait(left):
                break
            mock.engine.strategy.tick()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
        mock.stop()
        log.info("Mock e6data gRPC server stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
