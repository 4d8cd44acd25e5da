#!/usr/bin/env python3
"""Start the OFD mock on port 9000 for manual testing and print every receipt it receives.

    python scripts/run_ofd.py                      # success mode
    python scripts/run_ofd.py --fail-count 3       # the next 3 receipts get 503
    python scripts/run_ofd.py --permanent-failure  # every receipt gets 503
    python scripts/run_ofd.py --rate-limit 5       # 5 receipts per second, then 429 + Retry-After
    python scripts/run_ofd.py --latency 0.5        # answer after half a second
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mocktools.ofd import RECEIPT_PATH, MockOFDServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--fail-count", type=int, default=0)
    parser.add_argument("--permanent-failure", action="store_true")
    parser.add_argument("--status", type=int, default=503, help="status of injected failures")
    parser.add_argument("--rate-limit", type=int, default=None, help="receipts per second before 429")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--connection-fault", choices=["reset", "close", "garbage"], default=None)
    args = parser.parse_args()

    ofd = MockOFDServer(host=args.host, port=args.port)
    if args.fail_count:
        ofd.set_failure_count(args.fail_count, status=args.status, path=RECEIPT_PATH)
    if args.permanent_failure:
        ofd.set_permanent_failure(True, status=args.status, path=RECEIPT_PATH)
    if args.rate_limit is not None:
        ofd.set_rate_limit(args.rate_limit, window=1.0, path=RECEIPT_PATH)
    if args.latency:
        ofd.set_latency(args.latency)
    if args.connection_fault:
        ofd.set_connection_fault(args.connection_fault, path=RECEIPT_PATH)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ofd.start()
    print(f"Mock OFD listening on {ofd.url}  (mode: {ofd.faults.mode()}; Ctrl-C to stop)")
    print(f"  POST {ofd.url}{RECEIPT_PATH}   GET {ofd.url}/ofd/v1/health   controls: {ofd.url}/_mock/", flush=True)
    seen = 0
    try:
        while not stop.is_set():
            try:
                ofd.wait_for_calls(seen + 1, timeout=0.5, path=None)
            except TimeoutError:
                continue
            for record in ofd.journal.calls()[-(ofd.journal.count() - seen):]:
                body = json.dumps(record.json, ensure_ascii=False) if record.json is not None else record.text[:200]
                print(f"#{record.seq} {record.method} {record.path} -> {record.status} {record.fault or ''} {body}",
                      flush=True)
            seen = ofd.journal.count()
    finally:
        ofd.stop()
        print(f"stopped; {len(ofd.get_received_receipts())} receipts accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
