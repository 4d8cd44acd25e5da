#!/usr/bin/env python
"""Run MockTerasliceServer on the well-known port (5678) and print what it receives.

    .venv/bin/python scripts/run_teraslice.py                      # 127.0.0.1:5678, random seed
    .venv/bin/python scripts/run_teraslice.py --seed 42 --jobs 200 --port 15678

Then watch it with the real client: `ts-topy http://127.0.0.1:5678`, or curl
`/v1/cluster/controllers`, `/v1/jobs?size=10`, `/v1/ex?status=running`, `/txt/ex`, `/docs`.
Every request is printed with its status, and every simulated status change as it happens.
"""
from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mocktools.cli import Parser, add_fault_arguments, apply_fault_arguments, port_number  # noqa: E402
from mocktools.teraslice import MockTerasliceServer  # noqa: E402
from mocktools.teraslice.states import iso  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=MockTerasliceServer.default_port)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--nodes", type=int, default=None)
    add_fault_arguments(parser)
    args = parser.parse_args(argv)

    mock = MockTerasliceServer(args.host, args.port, seed=args.seed, jobs=args.jobs,
                               nodes=args.nodes)
    apply_fault_arguments(mock, args)
    lock = threading.Lock()

    def on_transition(old: str, ex, reason: str) -> None:  # called with the model lock held
        with lock:
            print(f"{iso(ex.since)}  {ex.ex_id[:8]} {ex.spec.get('name', '')!s:<32} "
                  f"{old} -> {ex.status} ({reason})", flush=True)

    mock.cluster.on_transition(on_transition)
    stop = threading.Event()
    with mock:
        state = mock.describe_state()
        print(f"MockTerasliceServer at {mock.url}  seed={state['seed']}  jobs={state['jobs']}  "
              f"executions={state['executions']}  nodes={state['nodes']}", flush=True)
        print(f"  statuses: {state['by_status']}", flush=True)
        print(f"  docs: {mock.url}/docs   Ctrl-C to stop", flush=True)
        last_seq = 0
        try:
            while not stop.wait(0.5):
                with mock.cluster.lock:
                    mock.cluster.now()  # apply due transitions even when nobody polls
                for call in mock.journal.calls():
                    if call.seq <= last_seq:
                        continue
                    last_seq = call.seq
                    query = f"?{call.query}" if call.query else ""
                    with lock:
                        print(f"{iso(call.time)}  {call.method} {call.path}{query} -> {call.status}",
                              flush=True)
        except KeyboardInterrupt:
            pass
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
