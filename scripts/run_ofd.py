#!/usr/bin/env python3
"""Start the OFD mock on port 9000 for manual testing and print every receipt it receives.

    python scripts/run_ofd.py                      # success mode
    python scripts/run_ofd.py --fail-count 3       # the next 3 receipts get 503
    python scripts/run_ofd.py --permanent-failure  # every receipt gets 503 (--fail-status 502: 502)
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

from mocktools.cli import Parser, add_fault_arguments, apply_fault_arguments, port_number  # noqa: E402
from mocktools.ofd import RECEIPT_PATH, MockOFDServer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=9000)
    add_fault_arguments(parser)  # the same fault flags as `mocktools serve ofd` (on the receipt path)
    args = parser.parse_args(argv)

    ofd = MockOFDServer(host=args.host, port=args.port)
    apply_fault_arguments(ofd, args)

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
